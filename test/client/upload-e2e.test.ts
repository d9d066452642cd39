/**
 * Client ↔ server end to end, directly (the client writes the literal BITS_POST; the
 * server runs on the gateway's HTTP/1.1 listener): files arrive byte-identical.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile, UploadError } from '../../src/client/index.js';
import { listFiles, sha256, startFixture, type Fixture } from '../server/helpers.js';

let fx: Fixture;
let src: string;

beforeAll(async () => {
  fx = await startFixture({ maxUpload: 60 * 1024 * 1024 });
  src = path.join(fx.dir, 'src');
  await fs.mkdir(src);
});
afterAll(async () => {
  await fx.close();
});

async function localFile(name: string, data: Buffer): Promise<string> {
  const p = path.join(src, name);
  await fs.writeFile(p, data);
  return p;
}

const url = (p: string) => `http://127.0.0.1:${fx.port}${p}`;

describe('uploadFile → bitsgate serve', () => {
  it.each([
    ['a zero-byte file', 0, 1024],
    ['a one-byte file', 1, 1024],
    ['a file of exactly one fragment', 65_536, 65_536],
    ['a file one byte over one fragment', 65_537, 65_536],
  ])('uploads %s byte-identically', async (_label, size, fragmentSize) => {
    const data = randomBytes(size);
    const name = `f-${size}-${fragmentSize}.bin`;
    const result = await uploadFile({ url: url(`/e2e/${name}`), file: await localFile(name, data), fragmentSize, backoffBaseMs: 1 });
    expect(result).toMatchObject({ total: size, acked: size, closed: true, retries: 0, resyncs: 0 });
    expect(result.sessionId).toMatch(/^\{[0-9a-f-]{36}\}$/);
    const got = await fs.readFile(path.join(fx.root, 'e2e', name));
    expect(got.length).toBe(size);
    expect(sha256(got)).toBe(sha256(data));
    // Ping, Create-Session, ceil(size / fragmentSize) fragments, Close-Session.
    expect(result.requests).toBe(3 + Math.ceil(size / fragmentSize));
  });

  it('uploads 50 MiB in odd-sized fragments byte-identically', async () => {
    const data = randomBytes(50 * 1024 * 1024);
    const file = await localFile('big.bin', data);
    const result = await uploadFile({ url: url('/big/big.bin'), file, fragmentSize: 3_333_331 });
    expect(result).toMatchObject({ acked: data.length, closed: true, retries: 0 });
    expect(result.requests).toBe(3 + Math.ceil(data.length / 3_333_331));
    const got = await fs.readFile(path.join(fx.root, 'big', 'big.bin'));
    expect(sha256(got)).toBe(sha256(data));
    expect((await listFiles(fx.root)).filter((f) => f.startsWith('.bitsgate-tmp'))).toEqual([]);
  });

  it('stops on a fatal answer with a clear message and no retries (403: the destination exists)', async () => {
    await fs.mkdir(path.join(fx.root, 'dup'), { recursive: true });
    await fs.writeFile(path.join(fx.root, 'dup', 'x.bin'), 'old');
    const file = await localFile('dup.bin', Buffer.from('new'));
    const err = await uploadFile({ url: url('/dup/x.bin'), file, maxRetries: 2, backoffBaseMs: 1, backoffMaxMs: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect((err as UploadError).status).toBe(403);
    expect((err as UploadError).message).toBe('Create-Session answered 403 (0x80070005 E_ACCESSDENIED): the server refuses uploads to this path');
    expect(await fs.readFile(path.join(fx.root, 'dup', 'x.bin'), 'utf8')).toBe('old');
  });
});

describe('upload-reply', () => {
  it('fetches the reply before Close-Session (returned, or written to replyOut)', async () => {
    const reply = await startFixture({ replyMode: 'sha256' });
    try {
      const data = randomBytes(10_000);
      const file = await localFile('reply.bin', data);
      const r1 = await uploadFile({ url: `http://127.0.0.1:${reply.port}/r1.bin`, file, fragmentSize: 4096 });
      expect(r1.replyUrl).toMatch(/\/\.bitsgate-reply\//);
      expect(r1.reply?.toString()).toBe(sha256(data) + '\n');
      expect(r1.requests).toBe(3 + 3 + 1);
      const out = path.join(reply.dir, 'reply.txt');
      const r2 = await uploadFile({ url: `http://127.0.0.1:${reply.port}/r2.bin`, file, replyOut: out });
      expect(r2.reply).toBeUndefined();
      expect(await fs.readFile(out, 'utf8')).toBe(sha256(data) + '\n');
      expect(sha256(await fs.readFile(path.join(reply.root, 'r2.bin')))).toBe(sha256(data));
    } finally {
      await reply.close();
    }
  });
});

describe('uploadFile cancelAfter', () => {
  it('sends Cancel-Session once the server holds that many bytes: nothing committed, no temp file, session gone', async () => {
    const data = randomBytes(10_000);
    const result = await uploadFile({ url: url('/cancel/c.bin'), file: await localFile('c.bin', data), fragmentSize: 4096, cancelAfter: 5000 });
    // Ping, Create-Session, two fragments (8192 >= 5000), Cancel-Session; no Close-Session.
    expect(result).toMatchObject({ total: 10_000, acked: 8192, cancelled: true, closed: false, requests: 5 });
    expect(fx.server.sessionCount()).toBe(0);
    expect((await listFiles(fx.root)).filter((f) => f.startsWith('cancel') || f.startsWith('.bitsgate-tmp'))).toEqual([]);
  });

  it('does not cancel an upload that completes before reaching the threshold', async () => {
    const data = randomBytes(100);
    const result = await uploadFile({ url: url('/cancel/small.bin'), file: await localFile('small.bin', data), cancelAfter: 100 });
    expect(result).toMatchObject({ acked: 100, closed: true });
    expect(result.cancelled).toBeUndefined();
    expect(await fs.readFile(path.join(fx.root, 'cancel', 'small.bin'))).toEqual(data);
  });

  it('rejects a negative or fractional threshold', async () => {
    const file = await localFile('x.bin', Buffer.from('x'));
    await expect(uploadFile({ url: url('/cancel/x.bin'), file, cancelAfter: -1 })).rejects.toThrow(UploadError);
    await expect(uploadFile({ url: url('/cancel/x.bin'), file, cancelAfter: 1.5 })).rejects.toThrow('cancelAfter must be a byte count');
  });
});
