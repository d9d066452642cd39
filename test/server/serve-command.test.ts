/** `bitsgate serve` as a process: starts, accepts an upload, stops on SIGTERM. */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/client/index.js';

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
});
