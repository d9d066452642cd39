/**
 * `replyPrefix` / `--reply-prefix`: upload-reply per directory, as IIS configures it per
 * virtual directory (BITSServerNotificationType). Under the prefix the final Ack carries
 * BITS-Reply-URL; elsewhere the same server answers as a plain upload server.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { command as serveCommand } from '../../src/commands/serve.js';
import { checkReplyPrefix, startBitsServer } from '../../src/server/index.js';
import { UsageError } from '../../src/util/option-values.js';
import { createSession, fragmentPacket, listFiles, sessionPacket, sha256, startFixture, type Fixture } from './helpers.js';
import { buildRequest, RawConnection, type RawResponse } from './raw-http.js';

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

/** Uploads `data` in two fragments; returns the two Acks and the session id. */
async function uploadTwoFragments(c: RawConnection, target: string, data: Buffer): Promise<{ sid: string; first: RawResponse; last: RawResponse }> {
  const sid = await createSession(c, target);
  const half = Math.floor(data.length / 2);
  const first = await c.request(fragmentPacket(target, sid, 0, data.subarray(0, half), data.length));
  const last = await c.request(fragmentPacket(target, sid, half, data.subarray(half), data.length));
  return { sid, first, last };
}

const REPLY_URL = /^http:\/\/127\.0\.0\.1\/\.bitsgate-reply\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('replyPrefix with replyMode sha256', () => {
  it('under the prefix: the final Ack carries BITS-Reply-URL (and only the final one), GET returns the sha256, Close commits', async () => {
    fx = await startFixture({ replyMode: 'sha256', replyPrefix: '/reply/' });
    const c = await conn();
    const data = Buffer.from('an upload-reply job under /reply/');
    const { sid, first, last } = await uploadTwoFragments(c, '/reply/job.bin', data);
    expect(first.status).toBe(200);
    expect(first.headers).toEqual([
      ['BITS-Packet-Type', 'Ack'],
      ['BITS-Session-Id', sid],
      ['BITS-Received-Content-Range', '16'],
      ['Content-Length', '0'],
    ]);
    expect(last.status).toBe(200);
    const replyUrl = last.get('BITS-Reply-URL')!;
    expect(replyUrl).toMatch(REPLY_URL);
    expect(last.headers).toEqual([
      ['BITS-Packet-Type', 'Ack'],
      ['BITS-Session-Id', sid],
      ['BITS-Received-Content-Range', String(data.length)],
      ['BITS-Reply-URL', replyUrl],
      ['Content-Length', '0'],
    ]);
    const reply = await c.request(buildRequest('GET', new URL(replyUrl).pathname, []));
    expect(reply.status).toBe(200);
    expect(reply.body.toString('utf8')).toBe(`${sha256(data)}\n`);
    const closed = await c.request(sessionPacket('/reply/job.bin', 'Close-Session', sid));
    expect(closed.status).toBe(200);
    expect(closed.headers).toEqual([['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', sid], ['Content-Length', '0']]);
    expect(await fs.readFile(path.join(fx.root, 'reply', 'job.bin'))).toEqual(data);
    // The reply lives until Close-Session only.
    expect((await c.request(buildRequest('GET', new URL(replyUrl).pathname, []))).status).toBe(404);
  });

  it('outside the prefix: a plain upload, no BITS-Reply-URL on the final Ack, Close commits', async () => {
    fx = await startFixture({ replyMode: 'sha256', replyPrefix: '/reply/' });
    const c = await conn();
    const data = Buffer.from('a plain upload next to the reply directory');
    const { sid, last } = await uploadTwoFragments(c, '/uploads/plain.bin', data);
    expect(last.status).toBe(200);
    expect(last.headers).toEqual([
      ['BITS-Packet-Type', 'Ack'],
      ['BITS-Session-Id', sid],
      ['BITS-Received-Content-Range', String(data.length)],
      ['Content-Length', '0'],
    ]);
    const closed = await c.request(sessionPacket('/uploads/plain.bin', 'Close-Session', sid));
    expect(closed.status).toBe(200);
    expect(closed.get('BITS-Error-Code')).toBeUndefined();
    expect(await fs.readFile(path.join(fx.root, 'uploads', 'plain.bin'))).toEqual(data);
    expect(await listFiles(fx.root)).toEqual([path.join('uploads', 'plain.bin')]);
  });

  it('runs both kinds side by side on one connection, interleaved', async () => {
    fx = await startFixture({ replyMode: 'sha256', replyPrefix: '/reply/' });
    const c = await conn();
    const a = Buffer.from('aaaa');
    const b = Buffer.from('bbbbbb');
    const sa = await createSession(c, '/reply/a.bin');
    const sb = await createSession(c, '/plain/b.bin');
    const ra = await c.request(fragmentPacket('/reply/a.bin', sa, 0, a, a.length));
    const rb = await c.request(fragmentPacket('/plain/b.bin', sb, 0, b, b.length));
    expect(ra.get('BITS-Reply-URL')).toMatch(REPLY_URL);
    expect(rb.get('BITS-Reply-URL')).toBeUndefined();
    expect((await c.request(sessionPacket('/plain/b.bin', 'Close-Session', sb))).status).toBe(200);
    expect((await c.request(sessionPacket('/reply/a.bin', 'Close-Session', sa))).status).toBe(200);
    expect(await listFiles(fx.root)).toEqual([path.join('plain', 'b.bin'), path.join('reply', 'a.bin')]);
  });

  it('matches the decoded path: /%72eply/x is under /reply/, /replyx/ and /Reply/ are not', async () => {
    fx = await startFixture({ replyMode: 'sha256', replyPrefix: '/reply/' });
    const c = await conn();
    const finalAck = async (target: string) => {
      const sid = await createSession(c, target);
      const r = await c.request(fragmentPacket(target, sid, 0, Buffer.from('x'), 1));
      expect(r.status).toBe(200);
      return r.get('BITS-Reply-URL');
    };
    // First: once a file under /reply/ is written (at its final fragment), /reply is a directory.
    expect(await finalAck('/reply')).toBeUndefined(); // the directory's own name is a file outside it
    await fs.rm(path.join(fx.root, 'reply'));
    expect(await finalAck('/%72eply/encoded.bin')).toMatch(REPLY_URL);
    expect(await finalAck('/reply/sub/dir/deep.bin?q=1')).toMatch(REPLY_URL);
    expect(await finalAck('/replyx/near-miss.bin')).toBeUndefined();
    expect(await finalAck('/Reply/case.bin')).toBeUndefined();
  });

  it('without a prefix every URL is upload-reply (unchanged behaviour)', async () => {
    fx = await startFixture({ replyMode: 'sha256' });
    const c = await conn();
    const sid = await createSession(c, '/anywhere/f.bin');
    const r = await c.request(fragmentPacket('/anywhere/f.bin', sid, 0, Buffer.from('zz'), 2));
    expect(r.get('BITS-Reply-URL')).toMatch(REPLY_URL);
  });

  it('with replyMode none a prefix changes nothing: no reply anywhere', async () => {
    fx = await startFixture({ replyMode: 'none', replyPrefix: '/reply/' });
    const c = await conn();
    const sid = await createSession(c, '/reply/f.bin');
    const r = await c.request(fragmentPacket('/reply/f.bin', sid, 0, Buffer.from('zz'), 2));
    expect(r.status).toBe(200);
    expect(r.get('BITS-Reply-URL')).toBeUndefined();
  });
});

describe('reply prefix validation', () => {
  it.each([
    ['/reply/', true],
    ['/', true],
    ['/a/b', true],
    ['reply/', false],
    ['', false],
    ['http://x/reply/', false],
    ['/reply/?x', false],
    ['/re#ply/', false],
    ['/re\\ply/', false],
    ['/a//b/', false],
    ['/../x/', false],
    ['/a/./b', false],
    ['/a\nb/', false],
  ])('checkReplyPrefix(%j) ok=%s', (prefix, ok) => {
    expect(checkReplyPrefix(prefix).ok).toBe(ok);
  });

  it('startBitsServer refuses a prefix without a leading slash before listening', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-prefix-'));
    try {
      await expect(startBitsServer({ root: dir, listen: { host: '127.0.0.1', port: 0 }, replyMode: 'sha256', replyPrefix: 'reply/' }))
        .rejects.toThrow(/replyPrefix must start with "\/"/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('bitsgate serve --reply-prefix: a clear UsageError for a relative path or without --reply-mode sha256', async () => {
    const run = (...args: string[]) => serveCommand.run(['--root', '/nonexistent-never-created', ...args]);
    await expect(run('--reply-mode', 'sha256', '--reply-prefix', 'reply/')).rejects.toThrow(UsageError);
    await expect(run('--reply-mode', 'sha256', '--reply-prefix', 'reply/')).rejects.toThrow('--reply-prefix: must start with "/" (e.g. /reply/), got "reply/"');
    await expect(run('--reply-prefix', '/reply/')).rejects.toThrow('--reply-prefix needs --reply-mode sha256');
  });

  it('bitsgate serve --help documents --reply-prefix', () => {
    expect(serveCommand.help).toMatch(/--reply-prefix PATH/);
  });
});
