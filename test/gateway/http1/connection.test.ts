/** Connection bookkeeping and handler behaviours not covered by the parsing/response tests. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Http1Request } from '../../../src/gateway/http1/index.js';
import { Client, exchange, readAll, startServer, type TestServer } from './helpers.js';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
async function serve(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}

describe('HTTP/1.1 listener: connections', () => {
  it('reports accepted and closed connections with a process-unique id and the peer address', async () => {
    const ids: number[] = [];
    const srv = await serve((req, res) => {
      ids.push(req.connectionId);
      res.writeHead(204, []);
      res.end();
    });
    const other = await serve((req, res) => { ids.push(req.connectionId); res.writeHead(204, []); res.end(); });
    await exchange(srv.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await exchange(other.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await expect.poll(() => srv.closed.length + other.closed.length).toBe(2);
    expect(srv.connections[0]).toMatchObject({ id: ids[0], remoteAddress: '127.0.0.1' });
    expect(srv.connections[0]!.remotePort).toBeGreaterThan(0);
    expect(srv.closed[0]!.id).toBe(ids[0]);
    expect(ids[1]).toBeGreaterThan(ids[0]!);
  });

  it('exposes trailers of a chunked body as rawTrailers, never in headers', async () => {
    let seen: (Http1Request & { rawTrailers: string[] }) | undefined;
    const srv = await serve(async (req, res) => {
      await readAll(req);
      seen = req as Http1Request & { rawTrailers: string[] };
      res.writeHead(204, []);
      res.end();
    });
    await exchange(srv.port, 'BITS_POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-Sum: 1\r\n\r\n');
    expect(seen!.rawTrailers).toEqual(['X-Sum', '1']);
    expect(seen!.headers['x-sum']).toBeUndefined();
  });

  it('a handler may destroy the body stream and still answer; the connection stays usable', async () => {
    const srv = await serve((req, res) => {
      if (req.url === '/drop') req.destroy();
      else req.resume();
      res.writeHead(200, [['Content-Length', '1']]);
      res.end(Buffer.from(req.url === '/drop' ? 'D' : 'K'));
    });
    const c = await Client.open(srv.port);
    try {
      c.write('BITS_POST /drop HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789GET /keep HTTP/1.1\r\nHost: a\r\n\r\n');
      await c.untilText('K');
      expect(c.text).toBe('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nDHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nK');
    } finally {
      c.destroy();
    }
  });

  it('write() before writeHead() sends an implicit 200 with chunked framing', async () => {
    const srv = await serve((req, res) => {
      res.write(Buffer.from('hi'));
      res.end();
    });
    expect(await exchange(srv.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))
      .toBe('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nhi\r\n0\r\n\r\n');
  });

  it('serves 40 clients in parallel, each with 3 pipelined requests, every answer on its own connection and in order', async () => {
    const srv = await serve(async (req, res) => {
      const body = await readAll(req);
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      const out = Buffer.from(`${req.url}=${body.toString()}`);
      res.writeHead(200, [['Content-Length', String(out.length)]]);
      res.end(out);
    });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => exchange(srv.port,
      `BITS_POST /${i}/a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nA` +
      `BITS_POST /${i}/b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nB\r\n0\r\n\r\n` +
      `GET /${i}/c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`)));
    results.forEach((text, i) => {
      const bodies = text.split(/HTTP\/1\.1 200 OK\r\nContent-Length: \d+\r\n(?:Connection: close\r\n)?\r\n/).filter(Boolean);
      expect(bodies).toEqual([`/${i}/a=A`, `/${i}/b=B`, `/${i}/c=`]);
    });
  });

  it('a throwing onReject hook does not break the connection handling', async () => {
    const srv = await serve((req, res) => { res.writeHead(204, []); res.end(); }, { onReject: () => { throw new Error('logger down'); } });
    expect(await exchange(srv.port, 'GET / HTTP/1.1\r\n\r\n')).toContain('400 Bad Request');
    expect(await exchange(srv.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).toBe('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
  });
});
