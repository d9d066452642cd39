/**
 * Upload-reply through a real server application (IIS notification, bits-protocol.md §7):
 * a node:http application on loopback receives the POST, for type 1 and type 2, answers
 * slowly, fails, names a static reply, asks for the file to be copied. The BITS side is
 * raw sockets with the literal BITS_POST.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyAnswer } from '../../src/protocol/index.js';
import { ackOf, createSession, fragmentPacket, listFiles, sessionPacket, startFixture, type Fixture } from './helpers.js';
import { buildRequest, RawConnection } from './raw-http.js';

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Contents of BITS-Request-DataFile-Name when the POST arrived (type 1). */
  dataFile?: Buffer;
}

type Handler = (seen: Seen, res: http.ServerResponse, n: number) => void | Promise<void>;

let fx: Fixture | undefined;
let app: http.Server | undefined;
const conns: RawConnection[] = [];

afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  await fx?.close();
  fx = undefined;
  if (app) {
    app.closeAllConnections();
    await new Promise((r) => app!.close(r));
    app = undefined;
  }
});

/** A real application on loopback; `seen` records every POST it got. */
async function startApp(handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  app = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const s: Seen = { url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
    const dataName = req.headers['bits-request-datafile-name'];
    if (typeof dataName === 'string') s.dataFile = await fs.readFile(dataName).catch(() => undefined);
    seen.push(s);
    await handler(s, res, seen.length);
  });
  await new Promise<void>((r) => app!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(app.address() as AddressInfo).port}/app/notify`, seen };
}

async function conn(): Promise<RawConnection> {
  const c = await RawConnection.open(fx!.port);
  conns.push(c);
  return c;
}

const file = Buffer.from('the file the application gets');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function getReply(c: RawConnection, replyUrl: string): Promise<string> {
  const r = await c.request(buildRequest('GET', new URL(replyUrl).pathname, []));
  expect(r.status).toBe(200);
  return r.body.toString();
}

describe('notification type 1: file names, empty body, reply from the response file', () => {
  it('posts the headers of §7 with the query string passed on; the reply is what the app wrote', async () => {
    const { url, seen } = await startApp(async (s, res) => {
      await fs.writeFile(s.headers['bits-response-datafile-name'] as string, `type1:${sha(s.dataFile!)}`);
      res.writeHead(200, { 'BITS-Copy-File-To-Destination': '1' }).end();
    });
    fx = await startFixture({ notification: { url, type: 1 } });
    const c = await conn();
    const target = '/up/one.bin?user=alice&n=1';
    const sid = await createSession(c, target);
    const final = await c.request(fragmentPacket(target, sid, 0, file, file.length));
    expect(ackOf(final)).toEqual({ status: 200 });
    expect(seen).toHaveLength(1);
    const post = seen[0]!;
    expect(post.url).toBe('/app/notify?user=alice&n=1');
    expect(post.headers['bits-original-request-url']).toBe('http://127.0.0.1/up/one.bin?user=alice&n=1');
    expect(post.headers['content-length']).toBe('0');
    expect(post.body.length).toBe(0);
    expect(post.dataFile).toEqual(file);
    expect(path.dirname(post.headers['bits-request-datafile-name'] as string)).toBe(path.join(await fs.realpath(fx.root), '.bitsgate-tmp'));
    expect(await getReply(c, final.get('BITS-Reply-URL')!)).toBe(`type1:${sha(file)}`);
    // BITS-Copy-File-To-Destination: the file is stored at its URL too.
    expect(await fs.readFile(path.join(fx.root, 'up/one.bin'))).toEqual(file);
    expect(ackOf(await c.request(sessionPacket(target, 'Close-Session', sid)))).toEqual({ status: 200 });
    // BITS deletes both files afterwards.
    expect(await listFiles(fx.root)).toEqual(['up/one.bin']);
  });

  it('with --commit-on close, a copied file reaches its URL on Close-Session only', async () => {
    const { url } = await startApp((_s, res) => void res.writeHead(200, { 'BITS-Copy-File-To-Destination': 'yes' }).end());
    fx = await startFixture({ notification: { url, type: 1 }, commitOn: 'close' });
    const c = await conn();
    const sid = await createSession(c, '/later.bin');
    const final = await c.request(fragmentPacket('/later.bin', sid, 0, file, file.length));
    expect(await getReply(c, final.get('BITS-Reply-URL')!)).toBe(''); // the app wrote no reply file
    expect((await listFiles(fx.root)).filter((f) => !f.startsWith('.bitsgate-tmp/'))).toEqual([]);
    expect(ackOf(await c.request(sessionPacket('/later.bin', 'Close-Session', sid)))).toEqual({ status: 200 });
    expect(await listFiles(fx.root)).toEqual(['later.bin']);
  });

  it('without BITS-Copy-File-To-Destination the file is not stored at its URL', async () => {
    const { url } = await startApp(async (s, res) => {
      await fs.writeFile(s.headers['bits-response-datafile-name'] as string, 'ok');
      res.writeHead(200).end();
    });
    fx = await startFixture({ notification: { url, type: 1 } });
    const c = await conn();
    const sid = await createSession(c, '/nocopy.bin');
    const final = await c.request(fragmentPacket('/nocopy.bin', sid, 0, file, file.length));
    expect(await getReply(c, final.get('BITS-Reply-URL')!)).toBe('ok');
    expect(ackOf(await c.request(sessionPacket('/nocopy.bin', 'Close-Session', sid)))).toEqual({ status: 200 });
    expect(await listFiles(fx.root)).toEqual([]);
  });
});

describe('notification type 2: the file as body, the response body as reply', () => {
  it('posts the file and serves the response body as the reply', async () => {
    const { url, seen } = await startApp((s, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`type2:${sha(s.body)}`);
    });
    fx = await startFixture({ notification: { url, type: 2 } });
    const c = await conn();
    const sid = await createSession(c, '/two.bin?k=v');
    await c.request(fragmentPacket('/two.bin?k=v', sid, 0, file.subarray(0, 10), file.length));
    expect(seen).toHaveLength(0); // not before the last fragment
    const final = await c.request(fragmentPacket('/two.bin?k=v', sid, 10, file.subarray(10), file.length));
    expect(ackOf(final)).toEqual({ status: 200 });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/app/notify?k=v');
    expect(seen[0]!.body).toEqual(file);
    expect(seen[0]!.headers['bits-original-request-url']).toBe('http://127.0.0.1/two.bin?k=v');
    expect(seen[0]!.headers['bits-request-datafile-name']).toBeUndefined();
    expect(await getReply(c, final.get('BITS-Reply-URL')!)).toBe(`type2:${sha(file)}`);
    expect(ackOf(await c.request(sessionPacket('/two.bin', 'Close-Session', sid)))).toEqual({ status: 200 });
    expect(await listFiles(fx.root)).toEqual([]);
  });

  it('honours BITS-Static-Response-URL: it becomes BITS-Reply-URL and nothing is served here', async () => {
    const { url } = await startApp((_s, res) => {
      res.writeHead(200, { 'BITS-Static-Response-URL': 'http://cdn.example/replies/42' }).end('ignored');
    });
    fx = await startFixture({ notification: { url, type: 2 } });
    const c = await conn();
    const sid = await createSession(c, '/static.bin');
    const final = await c.request(fragmentPacket('/static.bin', sid, 0, file, file.length));
    expect(ackOf(final)).toEqual({ status: 200 });
    expect(final.get('BITS-Reply-URL')).toBe('http://cdn.example/replies/42');
    expect(await listFiles(path.join(fx.root, '.bitsgate-tmp'))).toHaveLength(1); // the upload only
  });

  it('a slow application (no answer within the timeout) gets the file posted again', async () => {
    const { url, seen } = await startApp((s, res, n) => {
      if (n === 1) return; // never answers the first post
      res.writeHead(200).end(`after ${n} posts, ${s.body.length} bytes`);
    });
    fx = await startFixture({ notification: { url, type: 2, timeoutMs: 300 } });
    const c = await conn();
    const sid = await createSession(c, '/slow.bin');
    const final = await c.request(fragmentPacket('/slow.bin', sid, 0, file, file.length));
    expect(ackOf(final)).toEqual({ status: 200 });
    expect(seen.map((s) => s.body)).toEqual([file, file]);
    expect(await getReply(c, final.get('BITS-Reply-URL')!)).toBe(`after 2 posts, ${file.length} bytes`);
  });

  it('an application that never answers: after 3 posts the client gets 504 with context 0x7 (transient)', async () => {
    const { url, seen } = await startApp(() => {});
    fx = await startFixture({ notification: { url, type: 2, timeoutMs: 150 } });
    const c = await conn();
    const sid = await createSession(c, '/never.bin');
    const final = await c.request(fragmentPacket('/never.bin', sid, 0, file, file.length));
    expect(ackOf(final)).toEqual({ status: 504, code: '0x801901F8', context: '0x7' });
    expect(seen).toHaveLength(3);
    expect(classifyAnswer('fragment', 504, 0x801901f8, 7).class).toBe('retry');
  });
});

describe('application errors reach the client with context 0x7 and the application\'s status', () => {
  it('a failing application (503): 503 + context 0x7, data kept; the resent final fragment posts the file again', async () => {
    const { url, seen } = await startApp((_s, res, n) => {
      if (n === 1) return void res.writeHead(503).end('busy');
      res.writeHead(200).end('second time lucky');
    });
    fx = await startFixture({ notification: { url, type: 2 } });
    const c = await conn();
    const sid = await createSession(c, '/fail.bin');
    const first = await c.request(fragmentPacket('/fail.bin', sid, 0, file, file.length));
    expect(ackOf(first)).toEqual({ status: 503, code: '0x801901F7', context: '0x7' });
    expect(first.get('BITS-Reply-URL')).toBeUndefined();
    expect(classifyAnswer('fragment', 503, 0x801901f7, 7).class).toBe('retry');
    const again = await c.request(fragmentPacket('/fail.bin', sid, 0, file, file.length));
    expect(ackOf(again)).toEqual({ status: 200 });
    expect(seen.map((s) => s.body)).toEqual([file, file]);
    expect(await getReply(c, again.get('BITS-Reply-URL')!)).toBe('second time lucky');
  });

  it('403 stops re-posting: a resent final fragment gets the 403 again without a new POST', async () => {
    const { url, seen } = await startApp((_s, res) => void res.writeHead(403).end());
    fx = await startFixture({ notification: { url, type: 1 } });
    const c = await conn();
    const sid = await createSession(c, '/deny.bin');
    for (let i = 0; i < 2; i++) {
      expect(ackOf(await c.request(fragmentPacket('/deny.bin', sid, 0, file, file.length)))).toEqual({ status: 403, code: '0x80190193', context: '0x7' });
    }
    expect(seen).toHaveLength(1);
    expect(classifyAnswer('fragment', 403, 0x80190193, 7).class).toBe('fatal');
    expect(ackOf(await c.request(sessionPacket('/deny.bin', 'Cancel-Session', sid)))).toEqual({ status: 200 });
    expect(await listFiles(fx.root)).toEqual([]);
  });

  it('an unreachable application: 502 + context 0x7', async () => {
    const { url } = await startApp(() => {});
    app!.close();
    app!.closeAllConnections();
    app = undefined;
    fx = await startFixture({ notification: { url, type: 2 } });
    const c = await conn();
    const sid = await createSession(c, '/gone.bin');
    expect(ackOf(await c.request(fragmentPacket('/gone.bin', sid, 0, file, file.length)))).toEqual({ status: 502, code: '0x801901F6', context: '0x7' });
  });
});
