/**
 * Request smuggling and malformed messages: every vector gets the exact listener answer,
 * the connection closes, not one byte reaches the handler, and the server keeps serving.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Http1Request } from '../../../src/gateway/http1/index.js';
import { Client, errorBytes, exchange, readAll, startServer, type TestServer } from './helpers.js';

let srv: TestServer;
let handled: { method: string; url: string; body: Buffer | string }[] = [];
const bodyErrors: { url: string; error: Error; resClosed: boolean }[] = [];

beforeAll(async () => {
  srv = await startServer((req: Http1Request, res) => {
    const record = { method: req.method, url: req.url, body: '' as Buffer | string };
    handled.push(record);
    let resClosed = false;
    res.on('close', () => { resClosed = true; });
    if (req.url === '/early-head') {
      // answers with a streaming head before the body arrives
      res.writeHead(200, []);
      res.write(Buffer.from('partial'));
    }
    readAll(req).then(
      (body) => {
        record.body = body;
        if (res.headersSent) return res.end();
        res.writeHead(200, [['Content-Length', '2']]);
        res.end(Buffer.from('ok'));
      },
      (error: Error) => setImmediate(() => bodyErrors.push({ url: req.url, error, resClosed })),
    );
  }, { maxChunkExtensionBytes: 1024 });
});
afterAll(async () => srv.close());
beforeEach(() => {
  handled = [];
  bodyErrors.length = 0;
  srv.rejects.length = 0;
});

const H = 'Host: gw\r\n';

const HEAD_VECTORS: [string, string, number, string][] = [
  ['CL.TE', `BITS_POST /up HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX`, 400, 'cl-and-te'],
  ['TE.CL', `BITS_POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`, 400, 'cl-and-te'],
  ['two differing Content-Length', `BITS_POST /up HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`, 400, 'duplicate-content-length'],
  ['two identical Content-Length lines', `BITS_POST /up HTTP/1.1\r\n${H}Content-Length: 2\r\nContent-Length: 2\r\n\r\nab`, 400, 'duplicate-content-length'],
  ['Content-Length list "2, 2"', `BITS_POST /up HTTP/1.1\r\n${H}Content-Length: 2, 2\r\n\r\nab`, 400, 'bad-content-length'],
  ['Content-Length list "2, 3"', `BITS_POST /up HTTP/1.1\r\n${H}Content-Length: 2, 3\r\n\r\nab`, 400, 'bad-content-length'],
  ['Content-Length "+2"', `BITS_POST /up HTTP/1.1\r\n${H}Content-Length: +2\r\n\r\nab`, 400, 'bad-content-length'],
  ['Content-Length "-1"', `BITS_POST /up HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 400, 'bad-content-length'],
  ['Content-Length "003"', `BITS_POST /up HTTP/1.1\r\n${H}Content-Length: 003\r\n\r\nabc`, 400, 'bad-content-length'],
  ['Content-Length "1e3"', `BITS_POST /up HTTP/1.1\r\n${H}Content-Length: 1e3\r\n\r\n`, 400, 'bad-content-length'],
  ['Transfer-Encoding: gzip', `BITS_POST /up HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\nabc`, 400, 'te-not-chunked'],
  ['Transfer-Encoding: chunked, identity', `BITS_POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, 400, 'te-not-chunked'],
  ['Transfer-Encoding: xchunked', `BITS_POST /up HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, 400, 'te-not-chunked'],
  ['two Transfer-Encoding lines', `BITS_POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'duplicate-te'],
  ['Transfer-Encoding in HTTP/1.0', `BITS_POST /up HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'te-in-http10'],
  ['obs-fold', `BITS_POST /up HTTP/1.1\r\n${H}X-A: b\r\n Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n`, 400, 'obs-fold'],
  ['space before colon', `BITS_POST /up HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\nContent-Length: 0\r\n\r\n`, 400, 'space-before-colon'],
  ['invalid name character', `BITS_POST /up HTTP/1.1\r\n${H}Content[Length]: 0\r\n\r\n`, 400, 'bad-header-name'],
  ['bare LF line ends', `BITS_POST /up HTTP/1.1\n${H}Content-Length: 0\n\n`, 400, 'bare-lf'],
  ['bare CR in a value', `BITS_POST /up HTTP/1.1\r\n${H}X-A: a\rContent-Length: 5\r\n\r\n`, 400, 'bare-cr'],
  ['NUL in a value', `BITS_POST /up HTTP/1.1\r\n${H}X-A: a\x00b\r\nContent-Length: 0\r\n\r\n`, 400, 'nul-in-head'],
  ['malformed request line', `BITS_POST  /up HTTP/1.1\r\n${H}\r\n`, 400, 'bad-request-line'],
  ['garbage instead of a request', 'hello world\r\n\r\n', 400, 'bad-request-line'],
  ['HTTP/2.0 request line', `BITS_POST /up HTTP/2.0\r\n${H}\r\n`, 505, 'http-version-not-supported'],
  ['three leading CRLFs', `\r\n\r\n\r\nBITS_POST /up HTTP/1.1\r\n${H}\r\n`, 400, 'too-many-empty-lines'],
  ['missing Host in 1.1', 'BITS_POST /up HTTP/1.1\r\nContent-Length: 0\r\n\r\n', 400, 'missing-host'],
  ['two Host fields', `BITS_POST /up HTTP/1.1\r\n${H}Host: other\r\n\r\n`, 400, 'duplicate-host'],
  ['invalid Host value', 'BITS_POST /up HTTP/1.1\r\nHost: evil.example/path\r\n\r\n', 400, 'bad-host'],
];

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 505: 'HTTP Version Not Supported', 431: 'Request Header Fields Too Large' };

describe('HTTP/1.1 listener: malformed heads', () => {
  it.each(HEAD_VECTORS)('%s -> exact %i, closed, handler never called', async (_name, wire, status, reason) => {
    const text = await exchange(srv.port, wire + `GET /smuggled HTTP/1.1\r\n${H}\r\n`);
    expect(text).toBe(errorBytes(status, STATUS_TEXT[status]!, reason));
    expect(handled).toEqual([]);
    expect(srv.rejects).toHaveLength(1);
    expect(srv.rejects[0]).toMatchObject({ status, reason });
    // and the next client is still served
    const ok = await exchange(srv.port, `BITS_POST /next HTTP/1.1\r\n${H}Content-Length: 1\r\nConnection: close\r\n\r\nZ`);
    expect(ok).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    expect(handled.map((h) => h.url)).toEqual(['/next']);
  });

  it('reports method and url of a rejected request', async () => {
    await exchange(srv.port, `BITS_POST /up/f.bin HTTP/1.1\r\n${H}Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n`);
    expect(srv.rejects[0]).toMatchObject({ status: 400, reason: 'cl-and-te', method: 'BITS_POST', url: '/up/f.bin', remoteAddress: '127.0.0.1' });
    expect(typeof srv.rejects[0]!.at).toBe('number');
  });

  it('never resynchronises after a rejected request on a kept-alive connection', async () => {
    const c = await Client.open(srv.port);
    try {
      c.write(`GET /first HTTP/1.1\r\n${H}\r\n`);
      await c.untilText('ok');
      c.write(`BITS_POST /bad HTTP/1.1\r\n${H}Content-Length: 2\r\nContent-Length: 3\r\n\r\nabGET /smuggled HTTP/1.1\r\n${H}\r\n`);
      await c.untilEnded();
      expect(c.text).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' + errorBytes(400, 'Bad Request', 'duplicate-content-length'));
      expect(handled.map((h) => h.url)).toEqual(['/first']);
    } finally {
      c.destroy();
    }
  });
});

const BODY_VECTORS: [string, string, string][] = [
  ['non-hex chunk size', 'g\r\n', 'bad-chunk-size'],
  ['chunk size over 2^53', '20000000000001\r\n', 'chunk-size-overflow'],
  ['chunk-size line ending in LF only', '3\nabc\r\n0\r\n\r\n', 'bad-chunk-size'],
  ['chunk size with a sign', '-3\r\nabc\r\n0\r\n\r\n', 'bad-chunk-size'],
  ['chunk data not followed by CRLF', '3\r\nabcX\r\n0\r\n\r\n', 'chunk-missing-crlf'],
  ['20 KB chunk extension', `3;${'e'.repeat(20_000)}\r\nabc\r\n0\r\n\r\n`, 'chunk-extension-too-large'],
  ['Content-Length in trailers', '3\r\nabc\r\n0\r\nContent-Length: 99\r\n\r\n', 'forbidden-trailer'],
];

describe('HTTP/1.1 listener: malformed chunked bodies', () => {
  it.each(BODY_VECTORS)('%s -> body stream errors, client gets exact 400, connection closed', async (_n, chunks, reason) => {
    const text = await exchange(srv.port, `BITS_POST /body HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${chunks}GET /smuggled HTTP/1.1\r\n${H}\r\n`);
    expect(text).toBe(errorBytes(400, 'Bad Request', reason));
    await expect.poll(() => bodyErrors.length).toBe(1);
    expect(bodyErrors[0]!.url).toBe('/body');
    expect((bodyErrors[0]!.error as Error & { reason: string }).reason).toBe(reason);
    expect(bodyErrors[0]!.resClosed).toBe(true);
    expect(handled.map((h) => h.url)).toEqual(['/body']);
    expect(srv.rejects[0]).toMatchObject({ status: 400, reason, method: 'BITS_POST', url: '/body' });
  });

  it('delivers the good chunks before the bad one, then errors the stream', async () => {
    const seen: Buffer[] = [];
    let error: Error | undefined;
    const local = await startServer((req) => {
      req.on('data', (d: Buffer) => seen.push(d));
      req.on('error', (e) => { error = e; });
    });
    try {
      const text = await exchange(local.port, `BITS_POST /b HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n`);
      expect(text).toBe(errorBytes(400, 'Bad Request', 'bad-chunk-size'));
      await expect.poll(() => error?.message).toBe('malformed request body: bad-chunk-size');
      expect(Buffer.concat(seen).toString()).toBe('abc');
    } finally {
      await local.close();
    }
  });

  it('closes without a 400 when the response head was already sent', async () => {
    const text = await exchange(srv.port, `BITS_POST /early-head HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nnope\r\n`);
    expect(text).toBe('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\n');
    await expect.poll(() => bodyErrors.length).toBe(1);
    expect(srv.rejects[0]).toMatchObject({ status: null, reason: 'bad-chunk-size' });
  });
});
