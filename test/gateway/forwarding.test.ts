import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway/index.js';
import {
  bitsPost, CollectingSink, headerOf, PROTOCOL_GUID, startUpstream, useGatewayFixture, waitUntil,
} from './helpers.js';

const SESSION = '{0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}';

const fx = useGatewayFixture();

async function setup(sink = new CollectingSink(), handler?: Parameters<typeof startUpstream>[0], forwardedHeaders = true) {
  fx.upstream = await startUpstream(handler ?? ((req) => {
    const type = req.headers.find(([n]) => n.toLowerCase() === 'bits-packet-type')?.[1] ?? '';
    const headers: Array<[string, string]> = [['BITS-Packet-Type', 'Ack']];
    if (type === 'Create-Session') headers.push(['BITS-Protocol', PROTOCOL_GUID], ['BITS-Session-Id', SESSION]);
    if (type === 'Fragment') headers.push(['BITS-Received-Content-Range', String(req.bodyBytes)]);
    headers.push(['Content-Length', '0']);
    return { status: 200, headers };
  }));
  fx.gateway = await startGateway({ upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink], forwardedHeaders });
  const client = await fx.client();
  return { client, sink, upstream: fx.upstream, gateway: fx.gateway };
}

function uploadSequence(fragment: Buffer): Buffer[] {
  const third = fragment.length / 4;
  const frag = (i: number) => bitsPost('/up/f.bin', [
    ['BITS-Packet-Type', 'Fragment'],
    ['BITS-Session-Id', SESSION],
    ['Content-Range', `bytes ${i * third}-${(i + 1) * third - 1}/${fragment.length}`],
    ['Content-Length', String(third)],
  ], fragment.subarray(i * third, (i + 1) * third));
  return [
    bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]),
    bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', PROTOCOL_GUID], ['Content-Length', '0']]),
    frag(0),
    frag(1),
    frag(2),
    bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', SESSION], ['Content-Length', '0']]),
  ];
}

describe('gateway forwarding', () => {
  it('carries Ping, Create-Session, three Fragments and Close-Session on one kept-alive connection', async () => {
    const { client, sink } = await setup();
    const body = randomBytes(4 * 3000);
    const packets = uploadSequence(body);
    for (let i = 0; i < packets.length; i++) {
      client.write(packets[i]!);
      await client.responsesAfter(i + 1);
    }
    const responses = await client.responsesAfter(6);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(headerOf(responses[1]!, 'BITS-Session-Id')).toBe(SESSION);
    expect(headerOf(responses[2]!, 'BITS-Received-Content-Range')).toBe('3000');
    expect(client.closed).toBe(false);
    expect(fx.upstream!.requests.map((r) => r.method)).toEqual(Array(6).fill('BITS_POST'));
    expect(fx.upstream!.requests.map((r) => r.headers.find(([n]) => n === 'BITS-Packet-Type')?.[1])).toEqual([
      'Ping', 'Create-Session', 'Fragment', 'Fragment', 'Fragment', 'Close-Session',
    ]);
    expect(fx.upstream!.requests.slice(2, 5).map((r) => r.bodyBytes)).toEqual([3000, 3000, 3000]);
    expect(fx.upstream!.requests[2]!.sha256).toBe(createHash('sha256').update(body.subarray(0, 3000)).digest('hex'));
    // Pinned: one upstream connection for the whole client connection.
    expect(new Set(fx.upstream!.requests.map((r) => r.socketId))).toEqual(new Set([1]));
    const obs = await sink.waitFor(6);
    expect(obs.map((o) => o.requestBodyBytes)).toEqual([0, 0, 3000, 3000, 3000, 0]);
    expect(new Set(obs.map((o) => o.upstreamConnectionId)).size).toBe(1);
  });

  it('answers pipelined requests in order', async () => {
    const { client } = await setup(new CollectingSink(), async (req) => {
      // Answer the first request late: order must still hold.
      if (req.url === '/p/0') await new Promise((r) => setTimeout(r, 50));
      return { status: 200, headers: [['X-Url', req.url], ['Content-Length', String(req.url.length)]], body: req.url };
    });
    const all = Buffer.concat([0, 1, 2, 3, 4].map((i) => bitsPost(`/p/${i}`, [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']])));
    client.write(all);
    const responses = await client.responsesAfter(5);
    expect(responses.map((r) => r.body.toString())).toEqual(['/p/0', '/p/1', '/p/2', '/p/3', '/p/4']);
    expect(fx.upstream!.requests.map((r) => r.url)).toEqual(['/p/0', '/p/1', '/p/2', '/p/3', '/p/4']);
  });

  it('forwards a chunked request body re-framed as chunked, payload intact', async () => {
    const { client, sink } = await setup();
    client.write('BITS_POST /up/c.bin HTTP/1.1\r\nHost: h\r\nBITS-Packet-Type: Fragment\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n');
    const [res] = await client.responsesAfter(1);
    expect(res!.status).toBe(200);
    const seen = fx.upstream!.requests[0]!;
    expect(seen.bodyBytes).toBe(12);
    expect(seen.sha256).toBe(createHash('sha256').update('hello, world').digest('hex'));
    expect(seen.headers.filter(([n]) => /^(transfer-encoding|content-length)$/i.test(n))).toEqual([['Transfer-Encoding', 'chunked']]);
    expect((await sink.waitFor(1))[0]!.requestBodyBytes).toBe(12);
  });

  it('passes method, URL, header names and order, and sets X-Forwarded-* replacing spoofed ones', async () => {
    const { client } = await setup();
    client.write('BITS_POST /up//a%20b/f.bin?x=1&y=%2F HTTP/1.1\r\nHost: files.example.com\r\nbits-packet-type: Ping\r\n' +
      'X-Forwarded-For: 6.6.6.6\r\nX-Custom: one\r\nX-Custom: two\r\nAuthorization: NTLM TlRMTVNTUAABAAAA\r\n' +
      'Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n');
    await client.responsesAfter(1);
    const seen = fx.upstream!.requests[0]!;
    expect(seen.rawHead.split('\r\n')[0]).toBe('BITS_POST /up//a%20b/f.bin?x=1&y=%2F HTTP/1.1');
    expect(seen.headers).toEqual([
      ['Host', 'files.example.com'],
      ['bits-packet-type', 'Ping'],
      ['X-Custom', 'one'],
      ['X-Custom', 'two'],
      ['Authorization', 'NTLM TlRMTVNTUAABAAAA'],
      // The client's own persistence intent, without the field names it nominated.
      ['Connection', 'keep-alive'],
      ['Content-Length', '0'],
      ['X-Forwarded-For', '127.0.0.1'],
      ['X-Forwarded-Proto', 'http'],
      ['X-Forwarded-Host', 'files.example.com'],
    ]);
  });

  it('adds no Connection header the client did not send, and still keeps the pinned upstream connection alive', async () => {
    const { client } = await setup(new CollectingSink(), undefined, false);
    for (let i = 0; i < 3; i++) {
      client.write(bitsPost(`/up/${i}`, [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
      await client.responsesAfter(i + 1);
    }
    client.write('GET /r HTTP/1.1\r\nHost: h\r\n\r\n');
    await client.responsesAfter(4);
    const heads = fx.upstream!.requests.map((r) => r.rawHead);
    expect(heads[0]).toBe('BITS_POST /up/0 HTTP/1.1\r\nHost: files.example.com\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n');
    expect(heads[3]).toBe('GET /r HTTP/1.1\r\nHost: h\r\n\r\n');
    for (const head of heads) expect(head).not.toMatch(/\r\nconnection:/i);
    expect(new Set(fx.upstream!.requests.map((r) => r.socketId))).toEqual(new Set([1]));
    expect(fx.upstream!.accepted).toBe(1);
    expect(client.closed).toBe(false);
  });

  it('keeps the client\'s Host in its place and spelling, not where Node puts its own', async () => {
    const { client } = await setup(new CollectingSink(), undefined, false);
    client.write('BITS_POST /up/h.bin HTTP/1.1\r\nBITS-Packet-Type: Ping\r\nhOST: h\r\nContent-Length: 0\r\n\r\n');
    await client.responsesAfter(1);
    expect(fx.upstream!.requests[0]!.rawHead).toBe('BITS_POST /up/h.bin HTTP/1.1\r\nBITS-Packet-Type: Ping\r\nhOST: h\r\nContent-Length: 0\r\n\r\n');
  });

  it('forwards the client\'s Connection: close (in its spelling and place) and closes both sides after the answer', async () => {
    const { client } = await setup(new CollectingSink(), undefined, false);
    client.write('BITS_POST /up/f.bin HTTP/1.1\r\nHost: h\r\nconnection: Close\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n');
    const [res] = await client.responsesAfter(1);
    expect(res!.status).toBe(200);
    expect(fx.upstream!.requests[0]!.rawHead).toBe(
      'BITS_POST /up/f.bin HTTP/1.1\r\nHost: h\r\nconnection: Close\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n');
    expect(await client.waitClosed(2_000)).toBe(true);
    await waitUntil(() => fx.upstream!.open === 0, 2_000, 'upstream connection released');
  });

  it('--no-forwarded-headers leaves X-Forwarded-* as the client sent them', async () => {
    const { client } = await setup(new CollectingSink(), undefined, false);
    client.write('GET /r HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.1.1.1\r\n\r\n');
    await client.responsesAfter(1);
    const names = fx.upstream!.requests[0]!.headers.map(([n, v]) => `${n}: ${v}`);
    expect(names).toContain('X-Forwarded-For: 10.1.1.1');
    expect(names.some((n) => n.startsWith('X-Forwarded-Proto'))).toBe(false);
  });

  it('relays status, reason, headers (duplicate WWW-Authenticate kept separate) and body', async () => {
    const { client, sink } = await setup(new CollectingSink(), () => ({
      status: 401,
      headers: [['WWW-Authenticate', 'Negotiate'], ['WWW-Authenticate', 'NTLM'], ['Connection', 'keep-alive'], ['Content-Length', '6']],
      body: 'denied',
    }));
    client.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
    const [res] = await client.responsesAfter(1);
    expect(res!.status).toBe(401);
    expect(res!.headers.filter(([n]) => n === 'WWW-Authenticate')).toEqual([['WWW-Authenticate', 'Negotiate'], ['WWW-Authenticate', 'NTLM']]);
    expect(res!.body.toString()).toBe('denied');
    expect(client.raw).toMatch(/^HTTP\/1\.1 401 Status\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nContent-Length: 6\r\n\r\ndenied$/);
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ status: 401, responder: 'upstream', responseBodyBytes: 6, requestBodyBytes: 0, method: 'BITS_POST', url: '/up/f.bin' });
    expect(obs!.responseHeaders!.filter(([n]) => n === 'WWW-Authenticate')).toHaveLength(2);
    expect(obs!.error).toBeUndefined();
  });

  it('prefixes the upstream URL path and forwards HTTP/1.0 requests as HTTP/1.1', async () => {
    fx.upstream = await startUpstream((req) => ({ status: 200, headers: [['Content-Length', '2']], body: 'ok' }));
    fx.gateway = await startGateway({ upstream: new URL(`${fx.upstream.url.href}bits/`), listen: { host: '127.0.0.1', port: 0 } });
    const c = await fx.client();
    c.write('GET /up/f.bin?x=1 HTTP/1.0\r\nHost: h\r\n\r\n');
    const [res] = await c.responsesAfter(1);
    expect(res!.body.toString()).toBe('ok');
    expect(fx.upstream.requests[0]!.rawHead.split('\r\n')[0]).toBe('GET /bits/up/f.bin?x=1 HTTP/1.1');
    // An HTTP/1.0 client without keep-alive is closed after its response.
    expect(await c.waitClosed(2_000)).toBe(true);
  });

  it('forwards an absolute-form target in origin-form and observes that path', async () => {
    const sink = new CollectingSink();
    fx.upstream = await startUpstream();
    fx.gateway = await startGateway({ upstream: new URL(`${fx.upstream.url.href}bits/`), listen: { host: '127.0.0.1', port: 0 }, sinks: [sink] });
    const c = await fx.client();
    c.write('BITS_POST http://files.example.com/up/f.bin?x=1 HTTP/1.1\r\nHost: files.example.com\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n');
    c.write('BITS_POST HTTP://files.example.com:8080?q HTTP/1.1\r\nHost: files.example.com:8080\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n');
    const responses = await c.responsesAfter(2);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect(fx.upstream.requests.map((r) => r.rawHead.split('\r\n')[0])).toEqual([
      'BITS_POST /bits/up/f.bin?x=1 HTTP/1.1',
      'BITS_POST /bits/?q HTTP/1.1',
    ]);
    const obs = await sink.waitFor(2);
    expect(obs.map((o) => o.url)).toEqual(['/up/f.bin?x=1', '/?q']);
    expect(sink.starts.map((s) => s.url)).toEqual(['/up/f.bin?x=1', '/?q']);
  });

  it('close() ends client connections and releases every pinned upstream connection', async () => {
    const { client } = await setup();
    client.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
    await client.responsesAfter(1);
    expect(fx.upstream!.open).toBe(1);
    await fx.gateway!.close();
    fx.gateway = undefined;
    expect(await client.waitClosed(2_000)).toBe(true);
    const deadline = Date.now() + 2_000;
    while (fx.upstream!.open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(fx.upstream!.open).toBe(0);
  });

  it('keeps sha256 of a 64 MiB body equal on both sides', async () => {
    const { client, sink } = await setup();
    const size = 64 * 1024 * 1024;
    const block = randomBytes(1024 * 1024);
    const hash = createHash('sha256');
    client.write(`BITS_POST /up/big.bin HTTP/1.1\r\nHost: h\r\nBITS-Packet-Type: Fragment\r\nBITS-Session-Id: ${SESSION}\r\n` +
      `Content-Range: bytes 0-${size - 1}/${size}\r\nContent-Length: ${size}\r\n\r\n`);
    for (let i = 0; i < 64; i++) {
      hash.update(block);
      if (!client.socket.write(block)) await new Promise((r) => client.socket.once('drain', r));
    }
    const [res] = await client.responsesAfter(1, 20_000);
    expect(res!.status).toBe(200);
    expect(fx.upstream!.requests[0]!.bodyBytes).toBe(size);
    expect(fx.upstream!.requests[0]!.sha256).toBe(hash.digest('hex'));
    expect((await sink.waitFor(1))[0]!.requestBodyBytes).toBe(size);
  }, 30_000);
});
