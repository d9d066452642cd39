/**
 * Issue 15 parts 4 and 5: names measured in bytes, directories created race-free (a symlink
 * swapped in between Create and commit leads nowhere), and a symlinked temp directory
 * refused at start without touching what it points to.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerStartError, startBitsServer } from '../../src/server/index.js';
import { ackOf, createPacket, createSession, fragmentPacket, listFiles, sessionPacket, startFixture, type Fixture } from './helpers.js';
import { RawConnection } from './raw-http.js';

let fx: Fixture | undefined;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await fx?.close();
  fx = undefined;
  for (const f of cleanups.splice(0)) await f();
});

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-race-'));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('file names are measured in bytes (NAME_MAX 255)', () => {
  it('refuses 86 snowmen (258 bytes) at Create-Session with 400 + 0x80070057; 85 upload fine', async () => {
    fx = await startFixture();
    const c = await RawConnection.open(fx.port);
    try {
      const tooLong = '/' + encodeURIComponent('\u2603'.repeat(86));
      expect(ackOf(await c.request(createPacket(tooLong)))).toEqual({ status: 400, code: '0x80070057', context: '0x5' });
      expect(fx.server.sessionCount()).toBe(0);
      const fits = '/' + encodeURIComponent('\u2603'.repeat(85));
      const sid = await createSession(c, fits);
      expect(ackOf(await c.request(fragmentPacket(fits, sid, 0, Buffer.from('snow'), 4)))).toEqual({ status: 200 });
      expect(ackOf(await c.request(sessionPacket(fits, 'Close-Session', sid)))).toEqual({ status: 200 });
      expect(await listFiles(fx.root)).toEqual(['\u2603'.repeat(85)]);
    } finally {
      c.close();
    }
  });
});

describe('directories are created race-free', () => {
  it.each(['final-fragment', 'close'] as const)(
    'a directory swapped for a symlink between Create and the commit (%s) creates nothing outside the root',
    async (commitOn) => {
      fx = await startFixture({ commitOn });
      const outside = path.join(fx.dir, 'outside');
      await fs.mkdir(outside);
      await fs.mkdir(path.join(fx.root, 'a'));
      const c = await RawConnection.open(fx.port);
      try {
        const target = '/a/b/c/f.bin';
        const sid = await createSession(c, target);
        // The swap: root/a becomes a link to a directory outside the root.
        await fs.rm(path.join(fx.root, 'a'), { recursive: true });
        await fs.symlink(outside, path.join(fx.root, 'a'));
        const last = await c.request(fragmentPacket(target, sid, 0, Buffer.from('pwned'), 5));
        const answer = commitOn === 'close' ? await c.request(sessionPacket(target, 'Close-Session', sid)) : last;
        expect(ackOf(answer)).toEqual({ status: 403, code: '0x80070005', context: '0x5' });
        expect(await fs.readdir(outside)).toEqual([]);
        // Only the link itself; no temp file left either (403 is final for the client).
        expect(await listFiles(fx.root)).toEqual(['a']);
      } finally {
        c.close();
      }
    },
  );
});

describe('the temp directory', () => {
  async function symlinkedWorkDir() {
    const dir = await tempDir();
    const root = path.join(dir, 'root');
    const outside = path.join(dir, 'outside');
    await fs.mkdir(root);
    await fs.mkdir(outside);
    await fs.writeFile(path.join(outside, 'victim.part'), 'keep me');
    await fs.symlink(outside, path.join(root, '.bitsgate-tmp'));
    return { root, outside };
  }

  it('refuses to start when it is a symlink, and deletes nothing through it', async () => {
    const { root, outside } = await symlinkedWorkDir();
    const start = startBitsServer({ root, listen: { host: '127.0.0.1', port: 0 } });
    await expect(start).rejects.toBeInstanceOf(ServerStartError);
    await expect(start).rejects.toThrow(/\.bitsgate-tmp is a symlink \(to .*outside\); refusing to start/);
    expect(await fs.readdir(outside)).toEqual(['victim.part']);
    expect(await fs.readFile(path.join(outside, 'victim.part'), 'utf8')).toBe('keep me');
  });

  it('bitsgate serve says so in one line and exits 1', async () => {
    const { root, outside } = await symlinkedWorkDir();
    const cli = path.join(__dirname, '..', '..', 'src', 'cli.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--root', root, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(err).toMatch(/^bitsgate serve: the temp directory .*\.bitsgate-tmp is a symlink/);
    expect(err).not.toMatch(/\n\s+at /); // no stack trace
    expect(await fs.readdir(outside)).toEqual(['victim.part']);
  });

  it.skipIf(process.platform !== 'linux')('a root that cannot be created (under /proc) is a clear start error, not a silent hang', async () => {
    const start = startBitsServer({ root: '/proc/bitsgate-never/root', listen: { host: '127.0.0.1', port: 0 } });
    await expect(start).rejects.toThrow(/^cannot create the upload root \/proc\/bitsgate-never\/root: ENOENT$/);
  });

  it('removes what an earlier process left in it at start (sessions do not survive a restart)', async () => {
    const dir = await tempDir();
    const root = path.join(dir, 'root');
    await fs.mkdir(path.join(root, '.bitsgate-tmp'), { recursive: true });
    await fs.writeFile(path.join(root, '.bitsgate-tmp', 'old.part'), 'x');
    await fs.writeFile(path.join(root, '.bitsgate-tmp', 'old.reply'), 'y');
    const server = await startBitsServer({ root, listen: { host: '127.0.0.1', port: 0 } });
    try {
      expect(await fs.readdir(path.join(root, '.bitsgate-tmp'))).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
