/** `bitsgate serve` as a process: starts, accepts an upload, stops on SIGTERM. */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/client/index.js';
import { command as serveCommand } from '../../src/commands/serve.js';
import { UsageError } from '../../src/util/option-values.js';

const cli = path.join(__dirname, '..', '..', 'src', 'cli.ts');
let dir: string | undefined;

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('bitsgate serve', () => {
  it('serves uploads into --root until SIGTERM', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-serve-cmd-'));
    const root = path.join(dir, 'root');
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--root', root, '--listen', '127.0.0.1:0', '--reply-mode', 'sha256'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(err);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
      });
      const file = path.join(dir, 'in.txt');
      await fs.writeFile(file, 'served');
      const r = await uploadFile({ url: `${url}sub/x.txt`, file });
      expect(r.closed).toBe(true);
      expect(r.reply?.toString()).toMatch(/^[0-9a-f]{64}\n$/);
      expect(await fs.readFile(path.join(root, 'sub', 'x.txt'), 'utf8')).toBe('served');
      const exited = new Promise<number | null>((r2) => child.once('exit', (code) => r2(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('rejects a missing --root with exit code 2', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(2);
    expect(err).toContain('--root DIR is required');
  });

  it('--help lists every option the command parses', () => {
    const src = serveCommand.help;
    for (const option of [
      '--root', '--listen', '--commit-on', '--max-upload-size', '--allow-overwrite', '--session-timeout', '--session-limit',
      '--cleanup-interval', '--reply-mode', '--notification-url', '--notification-type', '--notification-timeout', '--reply-prefix',
      '--host-id', '--host-id-fallback-timeout', '--log-level',
    ]) {
      expect(src).toContain(`  ${option}`);
    }
    expect(src).not.toContain('--max-sessions');
    expect(src).toContain('500 + 0x80200020');
  });

  it('refuses inconsistent server options before starting', async () => {
    const run = (...args: string[]) => serveCommand.run(['--root', '/nonexistent-never-created', ...args]);
    await expect(run('--commit-on', 'later')).rejects.toThrow('--commit-on: expected final-fragment or close, got "later"');
    await expect(run('--notification-url', 'http://127.0.0.1:1/app', '--reply-mode', 'sha256')).rejects.toThrow(/two server applications/);
    await expect(run('--notification-url', 'http://127.0.0.1:1/app', '--notification-type', '3')).rejects.toThrow('--notification-type: expected 1 or 2, got "3"');
    await expect(run('--notification-type', '1')).rejects.toThrow('--notification-type/--notification-timeout need --notification-url');
    await expect(run('--notification-url', 'https://127.0.0.1:1/app')).rejects.toThrow(UsageError);
    await expect(run('--max-sessions', '5')).rejects.toThrow(/Unknown option '--max-sessions'/);
  });
});
