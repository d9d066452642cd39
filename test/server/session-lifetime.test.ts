/**
 * How long a session lives: the idle timeout counts progress (2xx Acks), not packets; and
 * a restart of `serve` loses every session (as IIS does when its temp files go): the
 * client is told 0x8020001F and no temp file stays behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ackOf, createSession, fragmentPacket, listFiles, sessionPacket, startFixture, type Fixture } from './helpers.js';
import { RawConnection } from './raw-http.js';

let fx: Fixture | undefined;
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await fx?.close();
  fx = undefined;
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

describe('idle timeout (IIS BITSSessionTimeout): progress, not packets', () => {
  it('failing packets do not keep a session alive; a 2xx does', async () => {
    let now = 0;
    fx = await startFixture({ sessionTimeoutMs: 1000, now: () => now });
    const c = await RawConnection.open(fx.port);
    try {
      const stale = await createSession(c, '/stale.bin');
      const live = await createSession(c, '/live.bin');
      for (const sid of [stale, live]) {
        expect(ackOf(await c.request(fragmentPacket('/x.bin', sid, 0, Buffer.from('ab'), 10)))).toEqual({ status: 200 });
      }
      // At 400, 800 and 1 000 ms: a gap (416) for one, progress (200) for the other.
      let off = 2;
      for (const t of [400, 800, 1000]) {
        now = t;
        const gap = await c.request(fragmentPacket('/stale.bin', stale, 5, Buffer.from('z'), 10));
        expect(ackOf(gap)).toEqual({ status: 416, code: '0x00000000', context: '0x5' });
        expect(ackOf(await c.request(fragmentPacket('/live.bin', live, off++, Buffer.from('y'), 10)))).toEqual({ status: 200 });
        await fx.server.cleanup();
        expect(fx.server.sessionCount()).toBe(2);
      }
      now = 1001;
      await fx.server.cleanup();
      // The stale session's last 2xx was at 0: gone since 1 001 ms, whatever it sent since.
      expect(ackOf(await c.request(fragmentPacket('/stale.bin', stale, 2, Buffer.from('c'), 10)))).toEqual({ status: 500, code: '0x8020001F', context: '0x5' });
      expect(ackOf(await c.request(fragmentPacket('/live.bin', live, off, Buffer.from('w'), 10)))).toEqual({ status: 200 });
      expect(fx.logs.filter((l) => l.msg === 'session expired').map((l) => l.obj.sessionId)).toEqual([stale]);
      expect(await listFiles(path.join(fx.root, '.bitsgate-tmp'))).toHaveLength(1); // the live session's only
    } finally {
      c.close();
    }
  });
});

describe('restart of bitsgate serve', () => {
  const cli = path.join(__dirname, '..', '..', 'src', 'cli.ts');

  async function serve(root: string): Promise<{ child: ChildProcess; port: number }> {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--root', root, '--listen', '127.0.0.1:0', '--log-level', 'silent'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    const port = await new Promise<number>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    return { child, port };
  }

  it('a killed server leaves no orphan temp file after it restarts, and answers the old session with 0x8020001F', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-restart-'));
    dirs.push(dir);
    const root = path.join(dir, 'root');
    const first = await serve(root);
    let c = await RawConnection.open(first.port);
    const sid = await createSession(c, '/big.bin');
    expect(ackOf(await c.request(fragmentPacket('/big.bin', sid, 0, Buffer.alloc(4096, 1), 8192)))).toEqual({ status: 200 });
    c.close();
    expect(await listFiles(root)).toHaveLength(1); // the temp file of the session in flight
    const exited = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await exited;

    const second = await serve(root);
    expect(await listFiles(root)).toEqual([]);
    c = await RawConnection.open(second.port);
    try {
      for (const req of [fragmentPacket('/big.bin', sid, 4096, Buffer.alloc(4096, 2), 8192), sessionPacket('/big.bin', 'Close-Session', sid)]) {
        const r = await c.request(req);
        expect(ackOf(r)).toEqual({ status: 500, code: '0x8020001F', context: '0x5' });
        expect(r.get('BITS-Session-Id')).toBe(sid);
      }
      // The client starts again at Create-Session (M 3.1.5.2.1) and that works.
      const again = await createSession(c, '/big.bin');
      expect(ackOf(await c.request(fragmentPacket('/big.bin', again, 0, Buffer.alloc(8192, 3), 8192)))).toEqual({ status: 200 });
      expect(ackOf(await c.request(sessionPacket('/big.bin', 'Close-Session', again)))).toEqual({ status: 200 });
      expect(await listFiles(root)).toEqual(['big.bin']);
    } finally {
      c.close();
    }
  });
});
