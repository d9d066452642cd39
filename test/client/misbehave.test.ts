/**
 * Each --misbehave mode commits exactly its protocol error, asserted on what the server
 * saw (its log and its files) and on how it answered.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/client/index.js';
import { listFiles, sha256, startFixture, type Fixture } from '../server/helpers.js';

let fx: Fixture;
let file: string;
const data = randomBytes(10_000);

beforeEach(async () => {
  fx = await startFixture({ replyMode: 'sha256' });
  file = path.join(fx.dir, 'src.bin');
  await fs.writeFile(file, data);
});
afterEach(async () => {
  await fx.close();
});

const url = (p: string) => `http://127.0.0.1:${fx.port}${p}`;
const msgs = () => fx.logs.map((l) => l.msg);

describe('--misbehave', () => {
  it('close-early: closes after the first fragment; the server deletes the partial upload', async () => {
    const r = await uploadFile({ url: url('/early.bin'), file, fragmentSize: 4096, misbehave: 'close-early' });
    expect(r.misbehaved).toEqual({ mode: 'close-early', detail: 'closed after 4096 of 10000 bytes' });
    expect(r).toMatchObject({ acked: 4096, closed: true });
    expect(fx.logs.find((l) => l.msg === 'incomplete upload deleted')?.obj).toMatchObject({ received: 4096, total: 10_000 });
    expect(await listFiles(fx.root)).toEqual([]);
  });

  it('close-early on a one-fragment file still leaves bytes unsent', async () => {
    const r = await uploadFile({ url: url('/early1.bin'), file, misbehave: 'close-early' });
    expect(r.acked).toBe(5000);
    expect(fx.logs.find((l) => l.msg === 'incomplete upload deleted')?.obj).toMatchObject({ received: 5000, total: 10_000 });
  });

  it('skip-reply: completes the upload but closes without fetching BITS-Reply-URL', async () => {
    const r = await uploadFile({ url: url('/skip.bin'), file, misbehave: 'skip-reply' });
    expect(r.misbehaved?.mode).toBe('skip-reply');
    expect(r.replyUrl).toBeDefined();
    expect(r.reply).toBeUndefined();
    expect(msgs()).not.toContain('reply served');
    expect(msgs()).toContain('upload committed');
    // The well-behaved client does fetch it.
    await uploadFile({ url: url('/good.bin'), file });
    expect(msgs()).toContain('reply served');
  });

  it('gap: sends a fragment past the server offset, gets 416, resyncs and completes', async () => {
    const r = await uploadFile({ url: url('/gap.bin'), file, fragmentSize: 4096, misbehave: 'gap' });
    expect(r.misbehaved).toEqual({ mode: 'gap', detail: 'sent bytes from 4096 while the server held 0', status: 416 });
    expect(r).toMatchObject({ resyncs: 1, closed: true, acked: 10_000 });
    expect(sha256(await fs.readFile(path.join(fx.root, 'gap.bin')))).toBe(sha256(data));
  });

  it('gap with megabyte fragments: the 416 reaches the client although the server never reads the body', async () => {
    const big = randomBytes(3 * 1024 * 1024);
    await fs.writeFile(file, big);
    const r = await uploadFile({ url: url('/gapbig.bin'), file, fragmentSize: 1024 * 1024, misbehave: 'gap', backoffBaseMs: 1 });
    expect(r).toMatchObject({ resyncs: 1, retries: 0, closed: true });
    expect(r.misbehaved?.status).toBe(416);
    expect(sha256(await fs.readFile(path.join(fx.root, 'gapbig.bin')))).toBe(sha256(big));
  });

  it('unknown-session: closes a never-issued session id; the server answers 500 BG_E_SESSION_NOT_FOUND', async () => {
    const r = await uploadFile({ url: url('/unknown.bin'), file, misbehave: 'unknown-session' });
    expect(r.misbehaved?.status).toBe(500);
    expect(r.misbehaved?.detail).toMatch(/^closed never-issued session \{[0-9a-f-]{36}\}; server answered 500 0x8020001F BG_E_SESSION_NOT_FOUND$/);
    expect(r.sessionId).toBeUndefined();
    expect(msgs()).not.toContain('session created');
    expect(await listFiles(fx.root)).toEqual([]);
  });

  it('double-close: commits, then closes the same session again and gets 500 BG_E_SESSION_NOT_FOUND', async () => {
    const r = await uploadFile({ url: url('/double.bin'), file, misbehave: 'double-close' });
    expect(r.closed).toBe(true);
    expect(r.misbehaved).toEqual({ mode: 'double-close', detail: 'closed the session twice; second Close answered 500 0x8020001F BG_E_SESSION_NOT_FOUND', status: 500 });
    expect(msgs().filter((m) => m === 'upload committed')).toHaveLength(1);
    expect(sha256(await fs.readFile(path.join(fx.root, 'double.bin')))).toBe(sha256(data));
  });
});
