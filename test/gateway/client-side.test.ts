import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway/index.js';
import {
  bitsPost, CollectingSink, headerOf, startUpstream, useGatewayFixture, waitUntil,
} from './helpers.js';

const fx = useGatewayFixture();
const { client } = fx;

async function gatewayTo(url: URL, sink = new CollectingSink()) {
  fx.gateway = await startGateway({ upstream: url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink], upstreamTimeoutMs: 3_000 });
  return sink;
}

/** An upstream for Expect tests: `onHead` decides what happens when a request head arrives. */
async function expectUpstream(onHead: (socket: net.Socket, head: string, bodyDone: Promise<number>) => void) {
  const sockets = new Set<net.Socket>();
  fx.extraServer = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let need = -1;
    let got = 0;
    let resolveBody: (n: number) => void = () => {};
    socket.on('data', (d) => {
      if (need < 0) {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        need = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        got = buf.length - end - 4;
        const bodyDone = new Promise<number>((r) => (resolveBody = r));
        onHead(socket, head, bodyDone);
      } else got += d.length;
      if (got >= need) resolveBody(got);
    });
  });
  fx.extraServer.on('close', () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((r) => fx.extraServer!.listen(0, '127.0.0.1', r));
  return new URL(`http://127.0.0.1:${(fx.extraServer.address() as net.AddressInfo).port}`);
}

describe('client side of the gateway', () => {
  it('a client that disconnects mid-fragment aborts the upstream request (upstream socket closed)', async () => {
    fx.upstream = await startUpstream();
    const sink = await gatewayTo(fx.upstream.url);
    const c = await client();
    c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Fragment'], ['Content-Length', String(1 << 20)]]));
    c.write(Buffer.alloc(100_000, 7));
    await waitUntil(() => fx.upstream!.accepted === 1, 2_000, 'upstream connection');
    await new Promise((r) => setTimeout(r, 50));
    c.socket.resetAndDestroy(); // a FIN alone would be a half-close (half-close.test.ts)
    await waitUntil(() => fx.upstream!.open === 0 && fx.upstream!.closedCount() === 1, 2_000, 'upstream socket closed');
    const [obs] = await sink.waitFor(1);
    expect(obs!.error).toBe('client-aborted');
    expect(obs!.status).toBeUndefined();
    expect(obs!.requestBodyBytes).toBeGreaterThan(0);
    expect(obs!.requestBodyBytes).toBeLessThanOrEqual(100_000);
    expect(fx.upstream!.requests).toHaveLength(0);
  });

  it('Expect: 100-continue: forwards Expect, relays the upstream 100 exactly once, then the final answer', async () => {
    let seenHead = '';
    const url = await expectUpstream((socket, head, bodyDone) => {
      seenHead = head;
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      void bodyDone.then((n) => socket.write(`HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nX-Got: ${n}\r\nContent-Length: 0\r\n\r\n`));
    });
    const sink = await gatewayTo(url);
    const c = await client();
    c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Fragment'], ['Expect', '100-continue'], ['Content-Length', '5']]));
    const [interim] = await c.responsesAfter(1);
    expect(interim!.status).toBe(100);
    c.write('hello');
    const [, final] = await c.responsesAfter(2);
    expect(final!.status).toBe(200);
    expect(headerOf(final!, 'X-Got')).toBe('5');
    expect(c.raw.match(/100 Continue/g)).toHaveLength(1);
    expect(seenHead).toMatch(/\r\nExpect: 100-continue\r\n/);
    expect((await sink.waitFor(1))[0]).toMatchObject({ status: 200, requestBodyBytes: 5 });
  });

  it('Expect: 100-continue answered finally without a 100: relayed, no 100 sent, connection closed after', async () => {
    const url = await expectUpstream((socket) => {
      socket.write('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n');
    });
    await gatewayTo(url);
    const c = await client();
    c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Fragment'], ['Expect', '100-continue'], ['Content-Length', '5']]));
    const [res] = await c.responsesAfter(1);
    expect(res!.status).toBe(401);
    expect(c.raw).not.toContain('100 Continue');
    expect(await c.waitClosed(2_000)).toBe(true);
  });

  it('an early final answer (413 before the body is complete) is relayed, then both connections close', async () => {
    let upstreamClosed = false;
    const url = await expectUpstream((socket) => {
      socket.on('close', () => (upstreamClosed = true));
      socket.write('HTTP/1.1 413 Too Large\r\nBITS-Packet-Type: Ack\r\nBITS-Error-Code: 0x80200020\r\nContent-Length: 0\r\n\r\n');
    });
    const sink = await gatewayTo(url);
    const c = await client();
    c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Fragment'], ['Content-Length', String(1 << 20)]], Buffer.alloc(1000)));
    const [res] = await c.responsesAfter(1);
    expect(res!.status).toBe(413);
    expect(headerOf(res!, 'Connection')).toBe('close');
    expect(await c.waitClosed(2_000)).toBe(true);
    await waitUntil(() => upstreamClosed, 2_000, 'upstream connection dropped');
    expect((await sink.waitFor(1))[0]).toMatchObject({ status: 413, responder: 'upstream' });
  });

  it('a client that stops sending its body is closed after the timeout (client-timeout), upstream released', async () => {
    fx.upstream = await startUpstream();
    const sink = new CollectingSink();
    fx.gateway = await startGateway({ upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink], upstreamTimeoutMs: 300 });
    const c = await client();
    c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Fragment'], ['Content-Length', '1000']], Buffer.alloc(10)));
    expect(await c.waitClosed(2_000)).toBe(true);
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ error: 'client-timeout', requestBodyBytes: 10 });
    expect(obs!.status).toBeUndefined();
    await waitUntil(() => fx.upstream!.open === 0, 2_000, 'upstream socket closed');
  });

  it('a request body that keeps arriving, slowly, for several upstream timeouts is relayed whole (progress is sampled)', async () => {
    fx.upstream = await startUpstream();
    const sink = new CollectingSink();
    fx.gateway = await startGateway({ upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink], upstreamTimeoutMs: 200 });
    const c = await client();
    c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Fragment'], ['Content-Length', '12']]));
    // One byte every 60 ms: 720 ms of body against a 200 ms timeout, never 200 ms of silence.
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 60));
      c.write(Buffer.from('z'));
    }
    const [res] = await c.responsesAfter(1, 3_000);
    expect(res!.status).toBe(200);
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ status: 200, requestBodyBytes: 12 });
    expect(obs!.error).toBeUndefined();
  });

  it('pins: two parallel clients use two distinct upstream connections; each client stays on its own', async () => {
    fx.upstream = await startUpstream(async (req) => {
      await new Promise((r) => setTimeout(r, 5));
      return { status: 200, headers: [['Content-Length', '0']] };
    });
    const sink = await gatewayTo(fx.upstream.url);
    const a = await client();
    const b = await client();
    for (let i = 0; i < 3; i++) {
      a.write(bitsPost(`/a/${i}`, [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
      b.write(bitsPost(`/b/${i}`, [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
      await Promise.all([a.responsesAfter(i + 1), b.responsesAfter(i + 1)]);
    }
    const socketsOf = (prefix: string) => new Set(fx.upstream!.requests.filter((r) => r.url.startsWith(prefix)).map((r) => r.socketId));
    expect(socketsOf('/a/').size).toBe(1);
    expect(socketsOf('/b/').size).toBe(1);
    expect([...socketsOf('/a/')][0]).not.toBe([...socketsOf('/b/')][0]);
    expect(fx.upstream.accepted).toBe(2);
    const obs = await sink.waitFor(6);
    const idsOf = (prefix: string) => new Set(obs.filter((o) => o.url.startsWith(prefix)).map((o) => o.upstreamConnectionId));
    expect(idsOf('/a/').size).toBe(1);
    expect(idsOf('/b/').size).toBe(1);
    expect([...idsOf('/a/')][0]).not.toBe([...idsOf('/b/')][0]);
    // Closing a client releases its upstream connection.
    a.destroy();
    await waitUntil(() => fx.upstream!.open === 1, 2_000, 'upstream connection of the closed client released');
  });

  it('a request the listener rejects yields one observation and never reaches the upstream', async () => {
    fx.upstream = await startUpstream();
    const sink = await gatewayTo(fx.upstream.url);
    const c = await client();
    c.write('BITS_POST /up/f.bin HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    const [res] = await c.responsesAfter(1);
    expect(res!.status).toBe(400);
    expect(await c.waitClosed(2_000)).toBe(true);
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ status: 400, responder: 'gateway', requestBodyBytes: 0 });
    expect(typeof obs!.error).toBe('string');
    expect(fx.upstream.accepted).toBe(0);
    expect(sink.starts).toHaveLength(0);
  });

  it('HEAD: relays the Content-Length without a body and keeps the connection usable', async () => {
    fx.upstream = await startUpstream((req) => ({
      status: 200,
      headers: [['Content-Length', req.method === 'HEAD' ? '10' : '2']],
      body: req.method === 'HEAD' ? '' : 'ok',
    }));
    await gatewayTo(fx.upstream.url);
    const c = await client();
    c.parsing = false;
    c.write('HEAD /f.bin HTTP/1.1\r\nHost: h\r\n\r\n');
    await waitUntil(() => c.raw.includes('\r\n\r\n'), 2_000, 'HEAD response');
    expect(c.raw).toBe('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n');
    c.write('GET /f.bin HTTP/1.1\r\nHost: h\r\n\r\n');
    await waitUntil(() => c.raw.endsWith('ok'), 2_000, 'GET response');
    expect(fx.upstream.requests.map((r) => r.method)).toEqual(['HEAD', 'GET']);
  });

  it('emits onExchangeStart before the observation, with the same id and head fields', async () => {
    fx.upstream = await startUpstream();
    const sink = await gatewayTo(fx.upstream.url);
    const c = await client();
    c.write(bitsPost('/up/x', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
    await c.responsesAfter(1);
    const [obs] = await sink.waitFor(1);
    expect(sink.starts).toHaveLength(1);
    const start = sink.starts[0]!;
    expect(start).toMatchObject({ id: obs!.id, connectionId: obs!.connectionId, method: 'BITS_POST', url: '/up/x', httpVersion: '1.1' });
    expect(start.requestHeaders).toEqual([['Host', 'files.example.com'], ['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]);
    expect(start.client.address).toBe('127.0.0.1');
    expect(obs!.endedAt).toBeGreaterThanOrEqual(obs!.respondedAt!);
    expect(obs!.respondedAt).toBeGreaterThanOrEqual(obs!.startedAt);
  });
});
