/**
 * When a finished upload reaches its destination, what Cancel keeps, and that a failed
 * commit loses nothing: the session and its data stay so the client's retry succeeds.
 * Raw sockets, literal BITS_POST.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyAnswer } from '../../src/protocol/index.js';
import type { CommitOps } from '../../src/server/index.js';
import { ackOf, createSession, fragmentPacket, listFiles, sessionPacket, startFixture, type Fixture } from './helpers.js';
import { buildRequest, RawConnection } from './raw-http.js';

let fx: Fixture | undefined;
const open: RawConnection[] = [];

afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await fx?.close();
  fx = undefined;
});

async function conn(): Promise<RawConnection> {
  const c = await RawConnection.open(fx!.port);
  open.push(c);
  return c;
}

/** A commit whose link (or rename) fails once with `code`, then works. */
function failOnce(code: string): { ops: Partial<CommitOps>; calls: () => number } {
  let calls = 0;
  const fail = async () => {
    throw Object.assign(new Error(`${code}: injected`), { code });
  };
  return {
    ops: {
      link: async (from, to) => (calls++ === 0 ? fail() : fs.link(from, to)),
      rename: async (from, to) => (calls++ === 0 ? fail() : fs.rename(from, to)),
    },
    calls: () => calls,
  };
}

const data = Buffer.from('every byte matters');

describe('--commit-on close ([MC-BUP] 1.3.2)', () => {
  it('writes nothing to the destination before Close-Session, then commits on Close', async () => {
    fx = await startFixture({ commitOn: 'close' });
    const c = await conn();
    const sid = await createSession(c, '/d/f.bin');
    expect(ackOf(await c.request(fragmentPacket('/d/f.bin', sid, 0, data, data.length)))).toEqual({ status: 200 });
    expect((await listFiles(fx.root)).filter((f) => !f.startsWith('.bitsgate-tmp/'))).toEqual([]);
    expect(ackOf(await c.request(sessionPacket('/d/f.bin', 'Close-Session', sid)))).toEqual({ status: 200 });
    expect(await listFiles(fx.root)).toEqual(['d/f.bin']);
    expect(await fs.readFile(path.join(fx.root, 'd/f.bin'))).toEqual(data);
  });

  it('deletes the data on a Cancel-Session after the last fragment (M 3.2.5.2.8)', async () => {
    fx = await startFixture({ commitOn: 'close' });
    const c = await conn();
    const sid = await createSession(c, '/f.bin');
    await c.request(fragmentPacket('/f.bin', sid, 0, data, data.length));
    expect(ackOf(await c.request(sessionPacket('/f.bin', 'Cancel-Session', sid)))).toEqual({ status: 200 });
    expect(await listFiles(fx.root)).toEqual([]);
  });
});

describe('upload-reply and Cancel-Session after the last fragment (default commit point)', () => {
  it('cancels only the reply: the file stays, the reply URL is gone', async () => {
    fx = await startFixture({ replyMode: 'sha256' });
    const c = await conn();
    const sid = await createSession(c, '/r.bin');
    const r = await c.request(fragmentPacket('/r.bin', sid, 0, data, data.length));
    const replyPath = new URL(r.get('BITS-Reply-URL')!).pathname;
    expect((await c.request(buildRequest('GET', replyPath, []))).status).toBe(200);
    expect(ackOf(await c.request(sessionPacket('/r.bin', 'Cancel-Session', sid)))).toEqual({ status: 200 });
    expect((await c.request(buildRequest('GET', replyPath, []))).status).toBe(404);
    expect(await listFiles(fx.root)).toEqual(['r.bin']);
  });
});

describe('zero-byte uploads (no fragment at all, §4)', () => {
  it.each(['final-fragment', 'close'] as const)('are committed on Close-Session (%s), upload-reply with the built-in app too', async (commitOn) => {
    fx = await startFixture({ commitOn, replyMode: 'sha256', replyPrefix: '/reply/' });
    const c = await conn();
    for (const target of ['/empty.bin', '/reply/empty.bin']) {
      const sid = await createSession(c, target);
      expect(ackOf(await c.request(sessionPacket(target, 'Close-Session', sid)))).toEqual({ status: 200 });
    }
    expect(await listFiles(fx.root)).toEqual(['empty.bin', 'reply/empty.bin']);
  });
});

describe('a failed commit loses nothing', () => {
  it('final-fragment commit on a full disk: 500 + 0x80070112, data kept; the resent fragment commits', async () => {
    const inject = failOnce('ENOSPC');
    fx = await startFixture({ commitOps: inject.ops });
    const c = await conn();
    const sid = await createSession(c, '/full.bin');
    const first = await c.request(fragmentPacket('/full.bin', sid, 0, data, data.length));
    expect(ackOf(first)).toEqual({ status: 500, code: '0x80070112', context: '0x5' });
    expect(first.get('BITS-Received-Content-Range')).toBe(String(data.length));
    // What the server relies on: a Windows client resends after this answer.
    expect(classifyAnswer('fragment', 500, 0x80070112, 5).class).toBe('retry');
    expect(fx.server.sessionCount()).toBe(1);
    expect(await listFiles(fx.root)).toHaveLength(1); // the temp file, nothing at the destination
    const again = await c.request(fragmentPacket('/full.bin', sid, 0, data, data.length));
    expect(ackOf(again)).toEqual({ status: 200 });
    expect(again.get('BITS-Received-Content-Range')).toBe(String(data.length));
    expect(ackOf(await c.request(sessionPacket('/full.bin', 'Close-Session', sid)))).toEqual({ status: 200 });
    expect(await listFiles(fx.root)).toEqual(['full.bin']);
    expect(await fs.readFile(path.join(fx.root, 'full.bin'))).toEqual(data);
    expect(inject.calls()).toBe(2);
  });

  it('Close-Session commit on a full disk: 500 + 0x80070112, session kept; the retried Close succeeds byte-identical', async () => {
    const inject = failOnce('ENOSPC');
    fx = await startFixture({ commitOn: 'close', commitOps: inject.ops });
    const c = await conn();
    const sid = await createSession(c, '/close.bin');
    await c.request(fragmentPacket('/close.bin', sid, 0, data, data.length));
    const first = await c.request(sessionPacket('/close.bin', 'Close-Session', sid));
    expect(ackOf(first)).toEqual({ status: 500, code: '0x80070112', context: '0x5' });
    expect(first.get('BITS-Session-Id')).toBe(sid);
    expect(classifyAnswer('close-session', 500, 0x80070112).class).toBe('retry');
    const retry = await (await conn()).request(sessionPacket('/close.bin', 'Close-Session', sid));
    expect(ackOf(retry)).toEqual({ status: 200 });
    expect(await listFiles(fx.root)).toEqual(['close.bin']);
    expect(await fs.readFile(path.join(fx.root, 'close.bin'))).toEqual(data);
  });

  it('any other commit error is a transient 500 + E_FAIL that keeps the data too', async () => {
    const inject = failOnce('EIO');
    fx = await startFixture({ commitOn: 'close', commitOps: inject.ops });
    const c = await conn();
    const sid = await createSession(c, '/eio.bin');
    await c.request(fragmentPacket('/eio.bin', sid, 0, data, data.length));
    expect(ackOf(await c.request(sessionPacket('/eio.bin', 'Close-Session', sid)))).toEqual({ status: 500, code: '0x80004005', context: '0x5' });
    expect(ackOf(await c.request(sessionPacket('/eio.bin', 'Close-Session', sid)))).toEqual({ status: 200 });
    expect(await fs.readFile(path.join(fx.root, 'eio.bin'))).toEqual(data);
  });

  it('a commit the client will not retry (destination appeared: 403) frees the session and its temp file', async () => {
    fx = await startFixture({ commitOn: 'close' });
    const c = await conn();
    const sid = await createSession(c, '/late.bin');
    await c.request(fragmentPacket('/late.bin', sid, 0, data, data.length));
    await fs.writeFile(path.join(fx.root, 'late.bin'), 'theirs');
    expect(ackOf(await c.request(sessionPacket('/late.bin', 'Close-Session', sid)))).toEqual({ status: 403, code: '0x80070005', context: '0x5' });
    expect(classifyAnswer('close-session', 403, 0x80070005).class).toBe('fatal');
    expect(fx.server.sessionCount()).toBe(0);
    expect(await listFiles(fx.root)).toEqual(['late.bin']);
    expect(await fs.readFile(path.join(fx.root, 'late.bin'), 'utf8')).toBe('theirs');
  });
});
