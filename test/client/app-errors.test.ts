/**
 * Server-application errors end to end: `bitsgate serve` hosts a real application on
 * loopback (IIS notification type 2); its failure reaches our client as the application's
 * status with BITS-Error-Context 0x7, and the client follows §6's application table.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { uploadFile, UploadError } from '../../src/client/index.js';
import { sha256, startFixture, type Fixture } from '../server/helpers.js';

let fx: Fixture | undefined;
let app: http.Server | undefined;

afterEach(async () => {
  await fx?.close();
  fx = undefined;
  if (app) {
    app.closeAllConnections();
    await new Promise((r) => app!.close(r));
    app = undefined;
  }
});

/** An application answering the n-th POST (1-based) with `answer(n)`; counts the POSTs. */
async function startApp(answer: (n: number) => { status: number; body: string }): Promise<{ url: string; posts: () => number }> {
  let n = 0;
  app = http.createServer(async (req, res) => {
    for await (const _ of req);
    const a = answer(++n);
    res.writeHead(a.status, { 'BITS-Copy-File-To-Destination': '1' }).end(a.body);
  });
  await new Promise<void>((r) => app!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(app.address() as AddressInfo).port}/app`, posts: () => n };
}

describe('an application error (context 0x7) through bitsgate serve', () => {
  it('409 is transient: the client resends the final fragment, the file is posted again, the reply arrives', async () => {
    const a = await startApp((n) => (n === 1 ? { status: 409, body: 'busy' } : { status: 200, body: 'reply-ok' }));
    fx = await startFixture({ notification: { url: a.url, type: 2 } });
    const data = randomBytes(5000);
    const file = path.join(fx.dir, 'in.bin');
    await fs.writeFile(file, data);
    const waits: string[] = [];
    const r = await uploadFile({ url: `http://127.0.0.1:${fx.port}/app/in.bin`, file, fragmentSize: 2000, backoffBaseMs: 1, onWait: (w) => waits.push(`${w.packet}: ${w.reason}`) });
    expect(r).toMatchObject({ closed: true, retries: 1, restarts: 0 });
    expect(r.reply?.toString()).toBe('reply-ok');
    expect(a.posts()).toBe(2);
    expect(waits).toEqual(['Fragment: answered 409 (0x80190199 BG_E_HTTP_ERROR_409): server application error 409 is transient']);
    expect(sha256(await fs.readFile(path.join(fx.root, 'app', 'in.bin')))).toBe(sha256(data));
  });

  it('404 is fatal: the client stops without resending and says the application failed', async () => {
    const a = await startApp(() => ({ status: 404, body: 'no' }));
    fx = await startFixture({ notification: { url: a.url, type: 2 } });
    const file = path.join(fx.dir, 'in.bin');
    await fs.writeFile(file, randomBytes(3000));
    const err = await uploadFile({ url: `http://127.0.0.1:${fx.port}/app/in.bin`, file, fragmentSize: 2000, backoffBaseMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect((err as UploadError).message).toBe('Fragment answered 404 (0x80190194 BG_E_HTTP_ERROR_404): the server application failed (context 0x7); 404 is fatal for it (§6)');
    expect(a.posts()).toBe(1);
  });
});
