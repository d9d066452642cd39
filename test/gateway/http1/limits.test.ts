/** Timeouts, size caps and client disconnects. Small limit values keep these fast. */
import { describe, expect, it } from 'vitest';
import type { Http1Request, Http1Response } from '../../../src/gateway/http1/index.js';
import { errorBytes, exchange, startServer, useServerFixture } from './helpers.js';

const fx = useServerFixture();
const { open } = fx;
const okHandler = (req: Http1Request, res: Http1Response) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, [['Content-Length', '2']]);
    res.end(Buffer.from('ok'));
  });
};

describe('HTTP/1.1 listener: limits and timeouts', () => {
  it('answers 408 and closes when a started head is not complete in time', async () => {
    fx.srv = await startServer(okHandler, { headersTimeoutMs: 150 });
    const c = await open();
    const t0 = Date.now();
    c.write('BITS_POST /up HTTP/1.1\r\nHost: a\r\n');
    await c.untilEnded(3000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(c.text).toBe(errorBytes(408, 'Request Timeout', 'headers-timeout'));
    expect(fx.srv.rejects).toMatchObject([{ status: 408, reason: 'headers-timeout' }]);
  });

  it('does not reset the headers timer on each byte (slowloris)', async () => {
    fx.srv = await startServer(okHandler, { headersTimeoutMs: 200 });
    const c = await open();
    const t0 = Date.now();
    const drip = setInterval(() => { if (!c.ended) c.write('X'); }, 20);
    try {
      c.write('BITS_POST /up HTTP/1.1\r\nHost: a\r\nX-Slow: ');
      await c.untilEnded(3000);
    } finally {
      clearInterval(drip);
    }
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(c.text).toBe(errorBytes(408, 'Request Timeout', 'headers-timeout'));
  });

  it('closes a connection that never sends anything within headersTimeoutMs, without a response', async () => {
    fx.srv = await startServer(okHandler, { headersTimeoutMs: 100 });
    const c = await open();
    await c.untilEnded(3000);
    expect(c.text).toBe('');
    expect(fx.srv.rejects).toEqual([]); // no request, nothing rejected: an idle close
  });

  it('closes an idle keep-alive connection after keepAliveTimeoutMs, silently', async () => {
    fx.srv = await startServer(okHandler, { keepAliveTimeoutMs: 100, headersTimeoutMs: 5000 });
    const c = await open();
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.untilText('ok');
    const t0 = Date.now();
    await c.untilEnded(3000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(80);
    expect(c.text).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    expect(fx.srv.rejects).toEqual([]);
  });

  it('starts the headers timer of a kept-alive connection at the first byte of the next head', async () => {
    fx.srv = await startServer(okHandler, { keepAliveTimeoutMs: 2000, headersTimeoutMs: 150 });
    const c = await open();
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.untilText('ok');
    await new Promise((r) => setTimeout(r, 250)); // idle longer than headersTimeoutMs: still open
    expect(c.ended).toBe(false);
    c.write('GET /2 HTTP/1.1\r\n');
    await c.untilEnded(3000);
    expect(c.text.endsWith(errorBytes(408, 'Request Timeout', 'headers-timeout'))).toBe(true);
  });

  it('answers 408 when a request body stops arriving (bodyTimeoutMs), and the body stream errors', async () => {
    let error: (Error & { reason?: string }) | undefined;
    fx.srv = await startServer((req) => {
      req.on('error', (e) => { error = e; });
      req.resume();
    }, { bodyTimeoutMs: 150 });
    const c = await open();
    const t0 = Date.now();
    c.write('BITS_POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345');
    await c.untilEnded(3000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(c.text).toBe(errorBytes(408, 'Request Timeout', 'body-timeout'));
    expect(error?.reason).toBe('body-timeout');
    expect(fx.srv.rejects).toMatchObject([{ status: 408, reason: 'body-timeout', method: 'BITS_POST', url: '/up' }]);
  });

  it('does not time out a body that keeps arriving, slowly, for several timeouts (progress is sampled, not per chunk)', async () => {
    fx.srv = await startServer(okHandler, { bodyTimeoutMs: 150 });
    const c = await open();
    c.write('BITS_POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n');
    // One byte every 50 ms: 600 ms of body, four timeouts long, never 150 ms of silence.
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 50));
      expect(c.ended).toBe(false);
      c.write('x');
    }
    await c.untilText('ok');
    expect(c.text).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    expect(fx.srv.rejects).toEqual([]);
  });

  it('does not time out a body while the handler holds it back (backpressure is not client silence)', async () => {
    let req: Http1Request | undefined;
    fx.srv = await startServer((r, res) => {
      req = r;
      r.pause();
      r.on('end', () => { res.writeHead(200, [['Content-Length', '2']]); res.end(Buffer.from('ok')); });
    }, { bodyTimeoutMs: 100 });
    const c = await open();
    const size = 8 * 1024 * 1024;
    c.write(`BITS_POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: ${size}\r\n\r\n`);
    c.write(Buffer.alloc(size, 0x41));
    await new Promise((r) => setTimeout(r, 300)); // three timeouts long, all spent paused
    expect(c.ended).toBe(false);
    req!.resume();
    await c.untilText('ok');
    expect(fx.srv.rejects).toEqual([]);
  });

  it('still times out a slow second head when the keep-alive timeout is disabled (0)', async () => {
    fx.srv = await startServer(okHandler, { keepAliveTimeoutMs: 0, headersTimeoutMs: 150 });
    const c = await open();
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.untilText('ok');
    c.write('GET /2 HTTP/1.1\r\n');
    await c.untilEnded(3000);
    expect(c.text.endsWith(errorBytes(408, 'Request Timeout', 'headers-timeout'))).toBe(true);
  });

  it('answers 431 to a head over maxHeadBytes', async () => {
    fx.srv = await startServer(okHandler, { maxHeadBytes: 1024 });
    const text = await exchange(fx.srv.port, `BITS_POST /up HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`);
    expect(text).toBe(errorBytes(431, 'Request Header Fields Too Large', 'head-too-large'));
    expect(fx.srv.rejects).toMatchObject([{ status: 431, reason: 'head-too-large', method: 'BITS_POST', url: '/up' }]);
  });

  it('answers 431 to a 70 KB head with the default cap (64 KiB)', async () => {
    fx.srv = await startServer(okHandler);
    const text = await exchange(fx.srv.port, `GET / HTTP/1.1\r\nHost: a\r\nAuthorization: NTLM ${'A'.repeat(70_000)}\r\n\r\n`);
    expect(text).toBe(errorBytes(431, 'Request Header Fields Too Large', 'head-too-large'));
  });

  it('accepts a head exactly at maxHeadBytes', async () => {
    const head = 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
    fx.srv = await startServer(okHandler, { maxHeadBytes: head.length });
    expect(await exchange(fx.srv.port, head)).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
  });

  it('on client disconnect mid-body: the body stream errors and res emits close', async () => {
    const events: string[] = [];
    let error: (Error & { code?: string }) | undefined;
    fx.srv = await startServer((req, res) => {
      req.on('data', () => { if (!events.includes('data')) events.push('data'); });
      req.on('aborted', () => events.push('aborted'));
      req.on('error', (e) => { error = e; events.push('error'); });
      res.on('close', () => events.push('res-close'));
    });
    const c = await open();
    c.write('BITS_POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(1000));
    await expect.poll(() => events.includes('data')).toBe(true);
    // A reset: a FIN alone is a half-close, answered 400 truncated-body (next test).
    c.socket.resetAndDestroy();
    await expect.poll(() => events.includes('res-close') && events.includes('error')).toBe(true);
    expect(events.slice(0, 2)).toEqual(['data', 'aborted']);
    expect(events.slice(2).sort()).toEqual(['error', 'res-close']);
    expect(error?.code).toBe('ECONNRESET');
    await expect.poll(() => fx.srv!.closed.length).toBe(1);
  });

  it('on client half-close mid-chunked-body: 400 truncated-body at once, the body stream errors', async () => {
    let error: (Error & { reason?: string }) | undefined;
    let resClosed = false;
    fx.srv = await startServer((req, res) => {
      req.on('error', (e) => { error = e; });
      req.resume();
      res.on('close', () => { resClosed = true; });
    });
    const c = await open();
    c.socket.end('BITS_POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab');
    await expect.poll(() => error !== undefined && resClosed).toBe(true);
    expect(error!.reason).toBe('truncated-body');
    await c.untilEnded();
    expect(c.text).toBe(errorBytes(400, 'Bad Request', 'truncated-body'));
    expect(fx.srv.rejects).toMatchObject([{ status: 400, reason: 'truncated-body', method: 'BITS_POST', url: '/up' }]);
  });

  it('a pipelined request whose body the client can no longer send (FIN already in) gets 400 after the first answer', async () => {
    let handled = 0;
    fx.srv = await startServer((req, res) => {
      handled++;
      req.resume();
      // The first answer comes late, so the FIN is in before the second head is parsed.
      setTimeout(() => { res.writeHead(200, [['Content-Length', '2']]); res.end(Buffer.from('ok')); }, 30);
    });
    const c = await open();
    c.socket.end('BITS_POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nBITS_POST /b HTTP/1.1\r\nHost: a\r\nBITS-Packet-Type: Fragment\r\nContent-Length: 5\r\n\r\n');
    await c.untilEnded(2_000);
    expect(c.text).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' + errorBytes(400, 'Bad Request', 'truncated-body'));
    expect(handled).toBe(2);
    expect(fx.srv.rejects).toMatchObject([{ status: 400, reason: 'truncated-body', method: 'BITS_POST', url: '/b' }]);
  });

  it('emits res close when the client resets the connection while the handler is still working', async () => {
    let resClosed = false;
    let finished = false;
    fx.srv = await startServer((req, res) => {
      req.resume();
      res.on('close', () => { resClosed = true; });
      res.on('finish', () => { finished = true; });
    });
    const c = await open();
    c.write('BITS_POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n');
    await expect.poll(() => fx.srv!.connections.length).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    c.socket.resetAndDestroy();
    await expect.poll(() => resClosed).toBe(true);
    expect(finished).toBe(false);
    await expect.poll(() => fx.srv!.closed.length).toBe(1);
  });

  it('treats a FIN after a complete request as a half-close: the response is still written, then the connection closes', async () => {
    let finished = false;
    let resClosed = false;
    fx.srv = await startServer((req, res) => {
      req.resume();
      res.on('finish', () => { finished = true; });
      res.on('close', () => { resClosed = true; });
      setTimeout(() => {
        res.writeHead(200, [['Content-Length', '2']]);
        res.end(Buffer.from('ok'));
      }, 50);
    });
    const c = await open();
    c.write('BITS_POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n');
    await new Promise((r) => setTimeout(r, 10));
    c.destroy(); // FIN, nobody reads any more
    // The peer is gone: the write either lands in the kernel buffer (finish) or hits the RST (close).
    await expect.poll(() => finished || resClosed).toBe(true);
    await expect.poll(() => fx.srv!.closed.length).toBe(1);
  });

  it('reports a client vanishing in the middle of a head as truncated-head', async () => {
    fx.srv = await startServer(okHandler);
    const c = await open();
    c.write('BITS_POST /up HTTP/1.1\r\nHo');
    await new Promise((r) => setTimeout(r, 20));
    c.destroy();
    await expect.poll(() => fx.srv!.rejects.length).toBe(1);
    expect(fx.srv.rejects[0]).toMatchObject({ status: null, reason: 'truncated-head' });
  });
});
