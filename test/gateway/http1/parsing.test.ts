/** End to end over raw sockets: what a real BITS client sends, the handler sees exactly. */
import { describe, expect, it } from 'vitest';
import type { Http1Request, Http1Response } from '../../../src/gateway/http1/index.js';
import { readAll, startServer, useServerFixture, type TestServer } from './helpers.js';

const fx = useServerFixture();
const { open } = fx;

interface Seen { method: string; url: string; httpVersion: string; rawHeaders: string[]; headers: Record<string, string | string[]>; body: string; contentLength: number | null; chunked: boolean; expectContinue: boolean; complete: boolean; bodyBytesRead: number; connectionId: number }

/** Echo server: answers each request with `<method> <url> <body length>` after reading the whole body. */
async function echoServer(seen: Seen[]): Promise<TestServer> {
  return startServer(async (req: Http1Request, res: Http1Response) => {
    const body = await readAll(req);
    seen.push({
      method: req.method, url: req.url, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, headers: req.headers,
      body: body.toString('latin1'), contentLength: req.contentLength, chunked: req.chunked,
      expectContinue: req.expectContinue, complete: req.complete, bodyBytesRead: req.bodyBytesRead, connectionId: req.connectionId,
    });
    const out = Buffer.from(`${req.method} ${req.url} ${body.length}`);
    res.writeHead(200, [['BITS-Packet-Type', 'Ack'], ['Content-Length', String(out.length)]]);
    res.end(out);
  });
}

const ackClose = (text: string) => `HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`;
const ack = (text: string) => `HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: ${text.length}\r\n\r\n${text}`;

describe('HTTP/1.1 listener: parsing', () => {
  it('accepts a BITS_POST Fragment with a Content-Length body', async () => {
    const seen: Seen[] = [];
    fx.srv = await echoServer(seen);
    const c = await open();
    c.write('BITS_POST /uploads/report.zip HTTP/1.1\r\nHost: files.example.com\r\nBITS-Packet-Type: Fragment\r\n' +
      'BITS-Session-Id: {0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}\r\nContent-Range: bytes 0-9/10\r\nContent-Length: 10\r\n\r\n0123456789');
    await c.untilText(ack('BITS_POST /uploads/report.zip 10'));
    expect(c.text).toBe(ack('BITS_POST /uploads/report.zip 10'));
    expect(seen[0]).toMatchObject({
      method: 'BITS_POST', url: '/uploads/report.zip', httpVersion: '1.1', body: '0123456789',
      contentLength: 10, chunked: false, complete: true, bodyBytesRead: 10, expectContinue: false,
    });
    expect(seen[0]!.headers['bits-packet-type']).toBe('Fragment');
    expect(c.ended).toBe(false); // keep-alive
  });

  it('accepts a chunked body with several chunks, extensions and trailers', async () => {
    const seen: Seen[] = [];
    fx.srv = await echoServer(seen);
    const c = await open();
    c.write('BITS_POST /up/f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '4\r\nabcd\r\n3;ext=1;other\r\nefg\r\n10\r\n0123456789ABCDEF\r\n0\r\nX-Trailer: t\r\n\r\n');
    await c.untilText(ack('BITS_POST /up/f 23'));
    expect(seen[0]).toMatchObject({ body: 'abcdefg0123456789ABCDEF', chunked: true, contentLength: null, complete: true });
  });

  it('delivers a chunked body that arrives split inside size lines and CRLFs', async () => {
    const seen: Seen[] = [];
    fx.srv = await echoServer(seen);
    const c = await open();
    const wire = 'BITS_POST /up/f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n';
    for (const piece of wire.match(/[\s\S]{1,3}/g)!) {
      c.write(piece);
      await new Promise((r) => setImmediate(r));
    }
    await c.untilText(ack('BITS_POST /up/f 26'));
    expect(seen[0]!.body).toBe('abcdefghijklmnopqrstuvwxyz');
  });

  it('serves a keep-alive sequence of packets on one connection', async () => {
    const seen: Seen[] = [];
    fx.srv = await echoServer(seen);
    const c = await open();
    const packets = ['Ping', 'Create-Session', 'Fragment', 'Close-Session'];
    let expected = '';
    for (const [i, type] of packets.entries()) {
      const body = type === 'Fragment' ? 'data' : '';
      c.write(`BITS_POST /up/${i} HTTP/1.1\r\nHost: a\r\nBITS-Packet-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      expected += ack(`BITS_POST /up/${i} ${body.length}`);
      await c.untilText(expected);
    }
    expect(c.text).toBe(expected);
    expect(new Set(seen.map((s) => s.connectionId)).size).toBe(1);
    expect(fx.srv.connections).toHaveLength(1);
  });

  it('answers pipelined requests sent in one write in order', async () => {
    const seen: Seen[] = [];
    const order: string[] = [];
    // Handlers answer out of order in time (later requests faster) — responses must still be in order.
    fx.srv = await startServer(async (req, res) => {
      const body = await readAll(req);
      order.push(req.url);
      await new Promise((r) => setTimeout(r, req.url === '/1' ? 50 : 1));
      const out = Buffer.from(`${req.url}:${body.toString()}`);
      res.writeHead(200, [['Content-Length', String(out.length)]]);
      res.end(out);
    });
    void seen;
    const c = await open();
    c.write('BITS_POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nA' +
      'BITS_POST /2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nBB\r\n0\r\n\r\n' +
      'GET /3 HTTP/1.1\r\nHost: a\r\n\r\n' +
      'BITS_POST /4 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nDDD');
    await c.untilEnded();
    expect(c.text).toBe(
      'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n/1:A' +
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n/2:BB' +
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n/3:' +
      'HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\n/4:DDD');
    expect(order).toEqual(['/1', '/2', '/3', '/4']);
  });

  it('handles the next pipelined request only after the current response ended', async () => {
    let active = 0;
    let maxActive = 0;
    fx.srv = await startServer((req, res) => {
      active++;
      maxActive = Math.max(maxActive, active);
      req.resume();
      setTimeout(() => {
        active--;
        res.writeHead(204, []);
        res.end();
      }, 10);
    });
    const c = await open();
    c.write('GET /a HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(5));
    await c.until(() => c.text.split('204 No Content').length === 6);
    expect(maxActive).toBe(1);
  });

  it('starts the next pipelined request only after the previous response emitted finish, even when answered synchronously', async () => {
    const log: string[] = [];
    fx.srv = await startServer((req, res) => {
      log.push(`start ${req.url}`);
      res.on('finish', () => log.push(`finish ${req.url}`));
      res.writeHead(204, []);
      res.end();
    });
    const c = await open();
    c.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n');
    await expect.poll(() => log.length).toBe(6);
    expect(log).toEqual(['start /1', 'finish /1', 'start /2', 'finish /2', 'start /3', 'finish /3']);
  });

  it('closes an HTTP/1.0 connection after the response', async () => {
    const seen: Seen[] = [];
    fx.srv = await echoServer(seen);
    const c = await open();
    c.write('BITS_POST /old HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi');
    await c.untilEnded();
    expect(c.text).toBe(ackClose('BITS_POST /old 2'));
    expect(seen[0]!.httpVersion).toBe('1.0');
  });

  it('keeps an HTTP/1.0 connection that asked for keep-alive', async () => {
    const seen: Seen[] = [];
    fx.srv = await echoServer(seen);
    const c = await open();
    c.write('GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const expected = 'HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 10\r\nConnection: keep-alive\r\n\r\nGET /old 0';
    await c.untilText(expected);
    c.write('GET /again HTTP/1.0\r\n\r\n');
    await c.untilEnded();
    expect(c.text).toContain('GET /again 0');
  });

  it('closes after a request with Connection: close', async () => {
    fx.srv = await echoServer([]);
    const c = await open();
    c.write('BITS_POST /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    await c.untilEnded();
    expect(c.text).toBe(ackClose('BITS_POST /x 0'));
  });

  it('sends no body on a HEAD response but keeps its Content-Length', async () => {
    fx.srv = await startServer((req, res) => {
      res.writeHead(200, [['Content-Length', '5']]);
      res.end(Buffer.from('hello'));
    });
    const c = await open();
    c.write('HEAD /f HTTP/1.1\r\nHost: a\r\n\r\nHEAD /g HTTP/1.1\r\nHost: a\r\n\r\n');
    const one = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n';
    await c.untilText(one + one);
    await new Promise((r) => setTimeout(r, 20));
    expect(c.text).toBe(one + one);
  });

  it('flags Expect: 100-continue without answering it, and sends 100 only when asked', async () => {
    const seen: Seen[] = [];
    fx.srv = await startServer(async (req, res) => {
      seen.push({ expectContinue: req.expectContinue } as Seen);
      await new Promise((r) => setTimeout(r, 30));
      res.writeContinue();
      res.writeContinue(); // at most once
      const body = await readAll(req);
      res.writeHead(200, [['Content-Length', String(body.length)]]);
      res.writeContinue(); // ignored after the head
      res.end(body);
    });
    const c = await open();
    c.write('BITS_POST /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n');
    await new Promise((r) => setTimeout(r, 15));
    expect(c.text).toBe(''); // nothing automatic
    await c.untilText('HTTP/1.1 100 Continue\r\n\r\n');
    c.write('abc');
    await c.untilText('abc');
    expect(c.text).toBe('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc');
    expect(seen[0]!.expectContinue).toBe(true);
  });

  it('closes after a final answer to Expect: 100-continue sent without a 100 (the client may or may not send the body)', async () => {
    fx.srv = await startServer((req, res) => {
      res.writeHead(413, [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0']]);
      res.end();
    });
    const c = await open();
    c.write('BITS_POST /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n');
    await c.untilEnded();
    expect(c.text).toBe('HTTP/1.1 413 Payload Too Large\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });

  it('tolerates two leading CRLFs before a request line', async () => {
    const seen: Seen[] = [];
    fx.srv = await echoServer(seen);
    const c = await open();
    c.write('\r\n\r\nBITS_POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n');
    await c.untilText(ack('BITS_POST /x 0'));
    // also between pipelined requests (a client adding CRLF after a body)
    c.write('\r\nGET /y HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.untilText(ack('GET /y 0'));
    expect(seen.map((s) => s.url)).toEqual(['/x', '/y']);
  });

  it('preserves header order, case, duplicates and byte values in rawHeaders', async () => {
    const seen: Seen[] = [];
    fx.srv = await echoServer(seen);
    const c = await open();
    c.write('BITS_POST /x HTTP/1.1\r\nhost: a\r\nbits-packet-type: Create-Session\r\nBITS-Supported-Protocols: {7df0354d-249b-430f-820d-3d2a9bef4931}\r\n' +
      'X-Dup: 1\r\nx-dup: 2\r\nSet-Cookie: a\r\nSet-Cookie: b\r\nX-Latin: caf\xe9\r\nContent-Length: 0\r\n\r\n');
    await c.untilText('BITS_POST /x 0');
    expect(seen[0]!.rawHeaders).toEqual([
      'host', 'a', 'bits-packet-type', 'Create-Session', 'BITS-Supported-Protocols', '{7df0354d-249b-430f-820d-3d2a9bef4931}',
      'X-Dup', '1', 'x-dup', '2', 'Set-Cookie', 'a', 'Set-Cookie', 'b', 'X-Latin', 'caf\xe9', 'Content-Length', '0',
    ]);
    expect(seen[0]!.headers['x-dup']).toBe('1, 2');
    expect(seen[0]!.headers['set-cookie']).toEqual(['a', 'b']);
    expect(seen[0]!.contentLength).toBe(0);
  });

  it('serves a client that half-closes after its request', async () => {
    fx.srv = await echoServer([]);
    const c = await open();
    c.socket.end('BITS_POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nZ');
    await c.untilEnded();
    expect(c.text).toBe(ack('BITS_POST /x 1'));
  });

  it('serves every pipelined request of a client that half-closes at once', async () => {
    fx.srv = await echoServer([]);
    const c = await open();
    c.socket.end('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.untilEnded();
    expect(c.text).toBe(ack('GET /1 0') + ack('GET /2 0'));
  });
});
