import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway/index.js';
import {
  bitsPost, CollectingSink, headerOf, startRawUpstream, useGatewayFixture, waitUntil, type TestUpstream,
} from './helpers.js';

/**
 * A misbehaving upstream never hangs a client, and never stops the gateway from serving
 * another client: every case sends its fault on the first upstream connection only and a
 * correct answer on later ones, then checks a second client is still served.
 */

const fx = useGatewayFixture<TestUpstream & { sockets: Set<net.Socket> }>();
const { client } = fx;
const OK = 'HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\n\r\n';
const PING = bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]);

/** `fault` answers requests on the first upstream connection; later connections get a 200 Ack. */
async function setup(fault: (socket: net.Socket, index: number) => void, upstreamTimeoutMs = 2_000) {
  const firstSocket: { s?: net.Socket } = {};
  fx.upstream = await startRawUpstream((socket, index) => {
    firstSocket.s ??= socket;
    if (socket === firstSocket.s) fault(socket, index);
    else socket.write(OK);
  });
  const sink = new CollectingSink();
  fx.gateway = await startGateway({ upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink], upstreamTimeoutMs });
  return sink;
}

async function secondClientServed(): Promise<void> {
  const other = await client();
  other.write(PING);
  const [res] = await other.responsesAfter(1, 3_000);
  expect(res!.status).toBe(200);
}

describe('upstream faults', () => {
  it('connection refused -> 502 with Content-Length, error upstream-refused', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const sink = new CollectingSink();
    fx.gateway = await startGateway({ upstream: new URL(`http://127.0.0.1:${port}`), listen: { host: '127.0.0.1', port: 0 }, sinks: [sink] });
    const c = await client();
    c.write(PING);
    const [res] = await c.responsesAfter(1);
    expect(res!.status).toBe(502);
    expect(Number(headerOf(res!, 'Content-Length'))).toBe(res!.body.length);
    expect(res!.body.length).toBeGreaterThan(0);
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ status: 502, responder: 'gateway', error: 'upstream-refused', method: 'BITS_POST' });
    // Another client gets its own (also refused) answer: nothing is stuck.
    const other = await client();
    other.write(PING);
    expect((await other.responsesAfter(1))[0]!.status).toBe(502);
  });

  it('a gateway answer is one write: the first segment a client reads holds the whole 502, body included', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    fx.gateway = await startGateway({ upstream: new URL(`http://127.0.0.1:${port}`), listen: { host: '127.0.0.1', port: 0 }, sinks: [new CollectingSink()] });
    // Every write the gateway makes on the client connection, as handed to the socket.
    const writes: string[] = [];
    fx.gateway.server.on('connection', (s: net.Socket) => {
      const write = s.write.bind(s) as (...args: unknown[]) => boolean;
      (s as unknown as { write: (...args: unknown[]) => boolean }).write = (data: unknown, ...rest: unknown[]) => {
        writes.push(Buffer.isBuffer(data) ? data.toString('latin1') : String(data));
        return write(data, ...rest);
      };
    });
    const socket = net.connect(fx.gateway.address.port, '127.0.0.1');
    const first = new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString('latin1'))));
    socket.write(PING);
    const expected = 'HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n';
    const seg = await first;
    socket.destroy();
    expect(seg.startsWith(expected)).toBe(true);
    const [head, body] = seg.split('\r\n\r\n') as [string, string];
    expect(body.length).toBeGreaterThan(0);
    expect(body.length).toBe(Number(/Content-Length: (\d+)/.exec(head)![1]));
    expect(writes).toEqual([seg]);
  });

  it('connection reset -> 502, client connection closed after it', async () => {
    const sink = await setup((socket) => socket.resetAndDestroy());
    const c = await client();
    c.write(PING);
    const [res] = await c.responsesAfter(1);
    expect(res!.status).toBe(502);
    expect(await c.waitClosed(2_000)).toBe(true);
    expect((await sink.waitFor(1))[0]!.error).toMatch(/^upstream-(reset|closed)$/);
    await secondClientServed();
  });

  it('close without any response -> client connection closed without an answer (mirrored, no 502), upstream-closed', async () => {
    // Issue 15 part 10: a 502 would read as the server's answer; direct, the client sees a close.
    const sink = await setup((socket) => socket.end());
    const c = await client();
    c.write(PING);
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toBe('');
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ error: 'upstream-closed' });
    expect(obs!.status).toBeUndefined();
    expect(obs!.responder).toBeUndefined();
    await secondClientServed();
  });

  it('no response head within the upstream timeout -> 504, other clients served meanwhile', async () => {
    const sink = await setup(() => {}, 800);
    const c = await client();
    const started = Date.now();
    c.write(PING);
    // While the first client waits, a second one is served.
    await secondClientServed();
    expect(c.raw).toBe('');
    const [res] = await c.responsesAfter(1, 3_000);
    expect(res!.status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(790);
    expect(Number(headerOf(res!, 'Content-Length'))).toBe(res!.body.length);
    expect(await c.waitClosed(2_000)).toBe(true);
    const obs = sink.observations.find((o) => o.status === 504)!;
    expect(obs).toMatchObject({ error: 'upstream-timeout', responder: 'gateway' });
    // The hung upstream connection was dropped.
    await waitUntil(() => fx.upstream!.closedCount() >= 1, 2_000, 'upstream socket closed');
  });

  it('response without framing on a kept-alive connection is relayed re-framed, then the client is closed', async () => {
    await setup((socket) => {
      socket.write('HTTP/1.1 500 Oops\r\nBITS-Packet-Type: Ack\r\nBITS-Error-Code: 0x8020001F\r\n\r\nno framing here');
      setTimeout(() => socket.end(), 50);
    });
    const c = await client();
    c.write(PING);
    const [res] = await c.responsesAfter(1);
    expect(res!.status).toBe(500);
    expect(res!.body.toString()).toBe('no framing here');
    expect(headerOf(res!, 'Transfer-Encoding')).toBe('chunked');
    expect(headerOf(res!, 'Connection')).toBe('close');
    expect(await c.waitClosed(2_000)).toBe(true);
    await secondClientServed();
  });

  it.each([
    ['a well-formed second response', 'HTTP/1.1 299 Stray\r\nContent-Length: 0\r\n\r\n'],
    ['garbage', 'GARBAGE 299 bytes'],
  ])('Content-Length: 0 followed by %s: response delivered with Connection: close, stray bytes never relayed', async (_what, stray) => {
    const sink = await setup((socket) => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n${stray}`));
    const c = await client();
    c.write(PING);
    const [res] = await c.responsesAfter(1);
    expect(res!.status).toBe(200);
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).not.toContain('299');
    expect(c.raw).toContain('Connection: close');
    expect((await sink.waitFor(1))[0]!.status).toBe(200);
    await secondClientServed();
  });

  it('stray bytes arriving later on the idle upstream connection close the pair', async () => {
    await setup((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      setTimeout(() => socket.write('HTTP/1.1 299 Stray\r\nContent-Length: 0\r\n\r\n'), 60);
    });
    const c = await client();
    c.write(PING);
    expect((await c.responsesAfter(1))[0]!.status).toBe(200);
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).not.toContain('299');
    await secondClientServed();
  });

  it('response with both Content-Length and Transfer-Encoding -> 502 and the upstream connection dropped', async () => {
    const sink = await setup((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
    const c = await client();
    c.write(PING);
    expect((await c.responsesAfter(1))[0]!.status).toBe(502);
    expect((await sink.waitFor(1))[0]!.error).toBe('bad-upstream-response');
    await waitUntil(() => fx.upstream!.closedCount() >= 1, 2_000, 'upstream socket closed');
    expect(await c.waitClosed(2_000)).toBe(true);
    await secondClientServed();
  });

  it('response with conflicting Content-Length values -> 502', async () => {
    const sink = await setup((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'));
    const c = await client();
    c.write(PING);
    expect((await c.responsesAfter(1))[0]!.status).toBe(502);
    expect((await sink.waitFor(1))[0]!.error).toBe('bad-upstream-response');
    await secondClientServed();
  });

  it('upstream closing mid-body -> client connection closed (head already sent), observation records the failure', async () => {
    const sink = await setup((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      setTimeout(() => socket.destroy(), 30);
    });
    const c = await client();
    c.write(PING);
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ status: 200, responder: 'upstream', responseBodyBytes: 7 });
    expect(obs!.error).toMatch(/^upstream-/);
    await secondClientServed();
  });

  it('a response body that stalls past the upstream timeout closes the client connection', async () => {
    const sink = await setup((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'), 300);
    const c = await client();
    const started = Date.now();
    c.write(PING);
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ status: 200, error: 'upstream-timeout', responseBodyBytes: 7 });
    await secondClientServed();
  });

  it('a response body that keeps arriving, slowly, for several timeouts is relayed whole (progress is sampled)', async () => {
    const sink = await setup((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n');
      // One byte every 60 ms: 720 ms of body against a 200 ms timeout, never 200 ms of silence.
      let sent = 0;
      const drip = setInterval(() => {
        if (socket.destroyed || sent === 12) return clearInterval(drip);
        socket.write('y');
        sent++;
      }, 60);
    }, 200);
    const c = await client();
    c.write(PING);
    const [res] = await c.responsesAfter(1, 3_000);
    expect(res!.body.toString()).toBe('y'.repeat(12));
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ status: 200, responseBodyBytes: 12 });
    expect(obs!.error).toBeUndefined();
  });

  it('upstream Connection: close ends the pinning: the client connection closes after the response', async () => {
    await setup((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok');
      socket.end();
    });
    const c = await client();
    c.write(PING);
    const [res] = await c.responsesAfter(1);
    expect(res!.body.toString()).toBe('ok');
    expect(headerOf(res!, 'Connection')).toBe('close');
    expect(await c.waitClosed(2_000)).toBe(true);
  });

  it('upstream closing an idle pinned connection closes the idle client connection', async () => {
    await setup((socket) => {
      socket.write(OK);
      setTimeout(() => socket.end(), 50);
    });
    const c = await client();
    c.write(PING);
    expect((await c.responsesAfter(1))[0]!.status).toBe(200);
    expect(await c.waitClosed(2_000)).toBe(true);
    // Only one upstream connection was ever opened for it: no silent replacement.
    expect(fx.upstream!.accepted).toBe(1);
  });
});
