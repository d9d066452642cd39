/**
 * Bad command-line input ends in one clear line and a non-zero exit, never a stack trace or
 * a silent hang (issue 15, part 7): HOST:PORT options, and an upload root that cannot be
 * created or written.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';

const cli = join(__dirname, '..', '..', 'src', 'cli.ts');
const dir = mkdtempSync(join(tmpdir(), 'bitsgate-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** Runs the CLI in this process; returns its exit code and what it wrote to stderr. */
async function run(args: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  // A command that started would wait for a signal: a hang fails the test by its timeout.
  const code = await main(args);
  vi.restoreAllMocks();
  return { code, err };
}

/** Runs the CLI as a process (what a user sees), killed after `ms`. */
function runProcess(args: string[], ms = 15_000): Promise<{ code: number | null; err: string; killed: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, ms);
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, err, killed });
  }));
}

const HINT = 'expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080';

describe('HOST:PORT options', () => {
  it('bitsgate --listen 1.2.3 (as a process): one line saying what is wrong, exit code 2, no stack trace', async () => {
    const r = await runProcess(['--listen', '1.2.3', '--no-dashboard']);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe(`bitsgate gateway: --listen: no port in "1.2.3"; ${HINT}`);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(r.err).not.toContain('ENOTFOUND');
  }, 20_000);

  it.each([
    [['--listen', '1.2.3:80', '--no-dashboard'], 'bitsgate gateway: --listen: "1.2.3" is not an IPv4 address or a host name in "1.2.3:80"'],
    [['--dashboard', '1.2.3'], 'bitsgate gateway: --dashboard: no port in "1.2.3"'],
    [['--dashboard', '[::1]:99999'], 'bitsgate gateway: --dashboard: port 99999 is out of range (0-65535) in "[::1]:99999"'],
    [['serve', '--root', join(dir, 'r'), '--listen', '::1:8090'], 'bitsgate serve: --listen: an IPv6 address must be in brackets, e.g. [::1]:8080, in "::1:8090"'],
  ])('%j: exit 2 and one line', async (args, line) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe(`${line}; ${HINT}`);
  });
});

describe('an address that cannot be listened on', () => {
  it('a port in use: one line naming the address, exit 1', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const r = await run(['serve', '--root', join(dir, 'busy'), '--listen', `127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      expect(r.err).toBe(`bitsgate serve: cannot listen on 127.0.0.1:${port}: the address is already in use (EADDRINUSE)\n`);
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });
});

describe('an upload root that cannot be created or written', () => {
  it('bitsgate serve --root /proc/nonexistent-dir (as a process): fails at start with a clear error instead of hanging', async () => {
    const r = await runProcess(['serve', '--root', '/proc/nonexistent-dir', '--listen', '127.0.0.1:0']);
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    expect(r.err).toBe('bitsgate serve: cannot create the upload root /proc/nonexistent-dir: ENOENT\n');
  }, 20_000);

  it('an existing directory nobody can write into (/proc): refused at start', async () => {
    const r = await run(['serve', '--root', '/proc', '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^bitsgate serve: (cannot open the temp directory \/proc\/\S+: [^\n]+|the upload root \/proc is not writable)\n$/);
  });

  it('a path through a regular file: refused at start', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    const r = await run(['serve', '--root', join(file, 'sub'), '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`bitsgate serve: cannot create the upload root ${join(file, 'sub')}: ENOTDIR\n`);
  });

  it.skipIf(process.getuid?.() === 0)('a directory without write permission (chmod 555): refused at start', async () => {
    const ro = join(dir, 'read-only');
    mkdtempSync(ro);
    chmodSync(ro, 0o555);
    const r = await run(['serve', '--root', ro, '--listen', '127.0.0.1:0']);
    chmodSync(ro, 0o755);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^bitsgate serve: (cannot open the temp directory|the upload root \S+ is not writable)/);
  });

  it('the gateway\'s embedded server refuses the same root the same way', async () => {
    const r = await run(['--root', '/proc/nonexistent-dir', '--listen', '127.0.0.1:0', '--no-dashboard']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('bitsgate gateway: cannot create the upload root /proc/nonexistent-dir: ENOENT\n');
  });
});
