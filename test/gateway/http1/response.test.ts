/** The response writer end to end: framing, keep-alive decisions, early answers, backpressure. */
import { describe, expect, it } from 'vitest';
import type { Http1Request, Http1Response } from '../../../src/gateway/http1/index.js';
import { exchange, startServer, useServerFixture } from './helpers.js';

const fx = useServerFixture();
const { open } = fx;

describe('HTTP/1.1 listener: responses', () => {
  it('chunks a streamed response to a 1.1 client and keeps the connection', async () => {
    fx.srv = await startServer((req, res) => {
      req.resume();
      res.writeHead(200, [['Content-Type', 'application/octet-stream']]);
      res.write(Buffer.from('hello '));
      res.write(Buffer.alloc(0)); // an empty write must not end the chunked body
      setTimeout(() => res.end(Buffer.from('world, and more')), 5);
    });
    const c = await open();
    c.write('GET /reply HTTP/1.1\r\nHost: a\r\n\r\n');
    const expected = 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '6\r\nhello \r\nf\r\nworld, and more\r\n0\r\n\r\n';
    await c.untilText(expected);
    c.write('GET /reply HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.untilText(expected + expected);
    expect(c.ended).toBe(false);
  });

  it('writes a small response (head and body) as one buffer: the first data chunk holds all of it', async () => {
    const writes: string[] = [];
    fx.srv = await startServer((req, res) => {
      res.writeHead(404, [['Content-Type', 'text/plain'], ['Content-Length', '10']]);
      res.end(Buffer.from('not here\r\n'));
    }, {
      // Loopback often coalesces two writes into one read: count the writes themselves too.
      onConnection: ({ socket }) => {
        const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
        (socket as unknown as { write: (...args: unknown[]) => boolean }).write = (data: unknown, ...rest: unknown[]) => {
          writes.push(Buffer.isBuffer(data) ? data.toString('latin1') : String(data));
          return write(data, ...rest);
        };
      },
    });
    const c = await open();
    const first = new Promise<string>((resolve) => c.socket.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
    c.write('GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
    const whole = 'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nnot here\r\n';
    expect(await first).toBe(whole);
    expect(writes).toEqual([whole]);
  });

  it('delimits a response of unknown length by closing to a 1.0 client', async () => {
    fx.srv = await startServer((req, res) => {
      res.writeHead(200, []);
      res.write(Buffer.from('abc'));
      res.end(Buffer.from('def'));
    });
    expect(await exchange(fx.srv.port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')).toBe('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabcdef');
  });

  it('closeAfter() before the head adds Connection: close and closes', async () => {
    fx.srv = await startServer((req, res) => {
      res.closeAfter();
      res.writeHead(200, [['Content-Length', '0']]);
      res.end();
    });
    expect(await exchange(fx.srv.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n'))
      .toBe('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });

  it('closeAfter() after the head still closes after the response', async () => {
    let calls = 0;
    fx.srv = await startServer((req, res) => {
      calls++;
      res.writeHead(200, [['Content-Length', '2']]);
      res.closeAfter();
      res.end(Buffer.from('ok'));
    });
    expect(await exchange(fx.srv.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n'))
      .toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    expect(calls).toBe(1);
  });

  it('sends no body for 204 and 304', async () => {
    fx.srv = await startServer((req, res) => {
      res.writeHead(req.url === '/a' ? 204 : 304, []);
      res.end(Buffer.from('ignored'));
    });
    const c = await open();
    c.write('GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.untilText('304 Not Modified\r\n\r\n');
    await new Promise((r) => setTimeout(r, 20));
    expect(c.text).toBe('HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n');
  });

  it('never writes more than Content-Length, and closes when the body is short', async () => {
    fx.srv = await startServer((req, res) => {
      res.writeHead(200, [['Content-Length', '3']]);
      if (req.url === '/long') res.end(Buffer.from('abcdef'));
      else res.end(Buffer.from('a'));
    });
    expect(await exchange(fx.srv.port, 'GET /long HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc');
    expect(await exchange(fx.srv.port, 'GET /short HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na');
  });

  it('relays an interim 103 to a 1.1 client and keeps headersSent false until the final head', async () => {
    let sentAfterInterim: boolean | undefined;
    fx.srv = await startServer((req, res) => {
      res.writeHead(103, [['Link', '</a>; rel=preload']]);
      sentAfterInterim = res.headersSent;
      res.writeHead(200, [['Content-Length', '0']]);
      res.end();
    });
    const c = await open();
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.untilText('200 OK');
    await c.untilText('Content-Length: 0\r\n\r\n');
    expect(c.text).toBe('HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    expect(sentAfterInterim).toBe(false);
  });

  it('an early answer (413) with a small unread body drains it and keeps the connection', async () => {
    const urls: string[] = [];
    fx.srv = await startServer((req, res) => {
      urls.push(req.url);
      if (req.url === '/big') {
        res.writeHead(413, [['Content-Length', '0']]);
        res.end();
        return;
      }
      req.resume();
      req.on('end', () => { res.writeHead(200, [['Content-Length', '0']]); res.end(); });
    });
    const c = await open();
    c.write('BITS_POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n');
    await c.untilText('413');
    c.write('x'.repeat(5000) + 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.untilText('200 OK');
    expect(c.text).toBe('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    expect(urls).toEqual(['/big', '/next']);
  });

  it('an early answer with a huge unread body closes the connection instead of reading it', async () => {
    fx.srv = await startServer((req, res) => {
      res.writeHead(413, [['Content-Length', '0']]);
      res.end();
    });
    const c = await open();
    c.write('BITS_POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000\r\n\r\nxxxx');
    await c.untilEnded();
    expect(c.text).toBe('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n');
  });

  it('an early answer while a chunked body is still arriving and the head says close: closes', async () => {
    fx.srv = await startServer((req, res) => {
      res.closeAfter();
      res.writeHead(401, [['Content-Length', '0']]);
      res.end();
    });
    const c = await open();
    c.write('BITS_POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab');
    await c.untilEnded();
    expect(c.text).toBe('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });

  it('res.destroy() closes the client connection at once', async () => {
    fx.srv = await startServer((req, res) => {
      res.writeHead(200, [['Content-Length', '10']]);
      res.write(Buffer.from('abc'));
      res.destroy(new Error('upstream reset'));
    });
    expect(await exchange(fx.srv.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
  });

  it('a throwing handler gets a 500 and the connection closes', async () => {
    fx.srv = await startServer(() => {
      throw new Error('bug');
    });
    const text = await exchange(fx.srv.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(text.startsWith('HTTP/1.1 500 Internal Server Error\r\n')).toBe(true);
    expect(text).toContain('Connection: close\r\n');
  });

  it('emits finish but no close for a response on a kept-alive connection; close after finish when the connection then closes', async () => {
    const events: string[] = [];
    fx.srv = await startServer((req, res) => {
      res.on('finish', () => events.push(`finish ${req.url}`));
      res.on('close', () => events.push(`close ${req.url}`));
      if (req.url === '/last') res.closeAfter();
      res.writeHead(204, []);
      res.end();
    });
    const c = await open();
    c.write('GET /kept HTTP/1.1\r\nHost: a\r\n\r\nGET /last HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.untilEnded();
    await expect.poll(() => events.length).toBe(3);
    expect(events).toEqual(['finish /kept', 'finish /last', 'close /last']);
  });

  it('write() returns false under backpressure and drain follows', async () => {
    let sawFalse = false;
    let drained = false;
    fx.srv = await startServer((req, res) => {
      res.writeHead(200, [['Content-Length', String(64 * 1024 * 1024)]]);
      const block = Buffer.alloc(1024 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < 64) {
          sent++;
          if (!res.write(block)) {
            sawFalse = true;
            res.once('drain', () => { drained = true; pump(); });
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const c = await open();
    c.socket.pause(); // a slow reader
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await expect.poll(() => sawFalse).toBe(true);
    expect(drained).toBe(false);
    c.socket.resume();
    await expect.poll(() => drained).toBe(true);
  });

  it('ends a bodiless or already-written response without an empty write, and still emits finish', async () => {
    const writes: number[] = [];
    let finished = 0;
    fx.srv = await startServer((req, res) => {
      req.resume();
      const socket = req.socket as unknown as { write: (...args: unknown[]) => boolean };
      const original = socket.write;
      writes.length = 0;
      socket.write = function (this: unknown, data: unknown, ...rest: unknown[]) {
        writes.push(typeof data === 'string' ? Buffer.byteLength(data, 'latin1') : (data as Buffer).length);
        return original.call(this, data, ...rest);
      };
      res.on('finish', () => {
        finished++;
        socket.write = original;
      });
      if (req.url === '/ack') {
        res.writeHead(200, [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0']]);
        res.end();
      } else {
        res.writeHead(200, [['Content-Length', '3']]);
        res.write(Buffer.from('abc'));
        setTimeout(() => res.end(), 5);
      }
    });
    const c = await open();
    c.write('BITS_POST /ack HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n');
    await c.untilText('\r\n\r\n');
    await expect.poll(() => finished).toBe(1);
    expect(c.text).toBe('HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\n\r\n');
    // Head and end in the same turn: one write carrying the whole response.
    expect(writes).toHaveLength(1);
    c.write('GET /body HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.untilText('abc');
    await expect.poll(() => finished).toBe(2);
    expect(writes.every((n) => n > 0)).toBe(true);
    expect(c.ended).toBe(false);
  });
});
