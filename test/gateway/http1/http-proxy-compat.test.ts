/**
 * The listener's request/response objects are what `http-proxy` expects (method, url,
 * headers, httpVersion*, socket, pipe, 'aborted'): a BITS_POST goes through plain
 * http-proxy with selfHandleResponse to an upstream that is itself our listener.
 */
import { createHash, randomBytes } from 'node:crypto';
import type http from 'node:http';
import httpProxy from 'http-proxy';
import { afterEach, describe, expect, it } from 'vitest';
import type { Http1Request, Http1Response } from '../../../src/gateway/http1/index.js';
import { Client, startServer, type TestServer } from './helpers.js';

const servers: TestServer[] = [];
const proxies: httpProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) p.close();
  for (const s of servers.splice(0)) await s.close();
});

async function upstreamAndGateway(onUpstreamAbort?: () => void) {
  const upstream = await startServer((req, res) => {
    const hash = createHash('sha256');
    req.on('data', (d: Buffer) => hash.update(d));
    req.on('error', () => onUpstreamAbort?.());
    req.on('end', () => {
      const out = Buffer.from(`${req.method} ${req.url} ${req.headers['bits-packet-type']} ${req.bodyBytesRead} ${hash.digest('hex')}`);
      res.writeHead(200, [['BITS-Packet-Type', 'Ack'], ['Content-Length', String(out.length)]]);
      res.end(out);
    });
  });
  const proxy = httpProxy.createProxyServer({ selfHandleResponse: true, target: `http://127.0.0.1:${upstream.port}` });
  proxy.on('error', () => {});
  proxy.on('proxyRes', (proxyRes: http.IncomingMessage, _req, rawRes) => {
    const res = rawRes as unknown as Http1Response;
    const headers: [string, string][] = [];
    for (let i = 0; i < proxyRes.rawHeaders.length; i += 2) {
      const name = proxyRes.rawHeaders[i]!;
      if (!/^(connection|keep-alive|transfer-encoding)$/i.test(name)) headers.push([name, proxyRes.rawHeaders[i + 1]!]);
    }
    res.writeHead(proxyRes.statusCode!, headers, proxyRes.statusMessage);
    proxyRes.on('data', (d: Buffer) => { if (!res.write(d)) proxyRes.pause(); });
    res.on('drain', () => proxyRes.resume());
    proxyRes.on('end', () => res.end());
  });
  proxies.push(proxy);
  const gateway = await startServer((req: Http1Request, res: Http1Response) => {
    proxy.web(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
  });
  servers.push(gateway, upstream);
  return { upstream, gateway };
}

describe('HTTP/1.1 listener under http-proxy', () => {
  it('relays a BITS_POST Fragment (Content-Length) byte-exact to the upstream and the Ack back', async () => {
    const { gateway } = await upstreamAndGateway();
    const body = randomBytes(3 * 1024 * 1024 + 17);
    const digest = createHash('sha256').update(body).digest('hex');
    const c = await Client.open(gateway.port);
    try {
      c.write(`BITS_POST /up/f.bin HTTP/1.1\r\nHost: gw\r\nBITS-Packet-Type: Fragment\r\nContent-Length: ${body.length}\r\n\r\n`);
      c.write(body);
      const text = `BITS_POST /up/f.bin Fragment ${body.length} ${digest}`;
      await c.untilText(text, 20_000);
      expect(c.text).toMatch(/^HTTP\/1\.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: \d+\r\n/);
      expect(c.text.endsWith(`\r\n\r\n${text}`)).toBe(true);
    } finally {
      c.destroy();
    }
  });

  it('relays a chunked body (re-chunked by Node) with the same bytes', async () => {
    const { gateway } = await upstreamAndGateway();
    const c = await Client.open(gateway.port);
    try {
      c.write('BITS_POST /up/c HTTP/1.1\r\nHost: gw\r\nBITS-Packet-Type: Fragment\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
      await c.untilText(`BITS_POST /up/c Fragment 5 ${createHash('sha256').update('abcde').digest('hex')}`);
    } finally {
      c.destroy();
    }
  });

  it('a client that disconnects mid-body aborts the upstream request', async () => {
    let upstreamAborted = false;
    const { gateway } = await upstreamAndGateway(() => { upstreamAborted = true; });
    const c = await Client.open(gateway.port);
    c.write('BITS_POST /up/f HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000000\r\n\r\n' + 'x'.repeat(50_000));
    await new Promise((r) => setTimeout(r, 50));
    c.destroy();
    await expect.poll(() => upstreamAborted).toBe(true);
  });
});
