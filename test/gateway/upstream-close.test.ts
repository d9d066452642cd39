import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway/index.js';
import {
  bitsPost, CollectingSink, startRawUpstream, useGatewayFixture, type TestUpstream,
} from './helpers.js';

/**
 * A pinned relay mirrors its upstream's closes (issue 15, part 10): a server that closes
 * after every response (without `Connection: close`) gets its client connection closed
 * after the response in flight, and a request that meets a closing upstream connection
 * gets no answer at all, as it would direct. The gateway never invents a 502 the client
 * would take as the server's word; the exchange is observed as `upstream-closed`, no status.
 */

const fx = useGatewayFixture<TestUpstream & { sockets: Set<net.Socket> }>();
const OK = 'HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\n\r\n';
/** The relayed Ack; `Connection: close` only when the gateway already knew the upstream was closing. */
const RELAYED_OK = /^HTTP\/1\.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\n(?:Connection: close\r\n)?\r\n$/;
const ping = (n: number) => bitsPost(`/up/${n}`, [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]);

/** `script(socket, n)` handles the n-th request (0-based) of each upstream connection. */
async function setup(script: (socket: net.Socket, n: number) => void) {
  const perSocket = new Map<net.Socket, number>();
  fx.upstream = await startRawUpstream((socket) => {
    const n = perSocket.get(socket) ?? 0;
    perSocket.set(socket, n + 1);
    script(socket, n);
  });
  const sink = new CollectingSink();
  // Far beyond the test's waits: nothing here may be decided by a timeout.
  fx.gateway = await startGateway({ upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink], upstreamTimeoutMs: 30_000 });
  return sink;
}

/** Every observation after the first is a request that met the closing upstream: no answer, no status. */
function expectMirroredCloses(obs: readonly { status?: number; error?: string; responder?: string }[]): void {
  expect(obs[0]).toMatchObject({ status: 200, responder: 'upstream' });
  expect(obs[0]!.error).toBeUndefined();
  for (const o of obs.slice(1)) {
    expect(o.error).toBe('upstream-closed');
    expect(o.status).toBeUndefined();
    expect(o.responder).toBeUndefined();
  }
}

async function retryServed(): Promise<void> {
  const again = await fx.client();
  again.write(ping(9));
  expect((await again.responsesAfter(1, 2_000))[0]!.status).toBe(200);
}

describe('an upstream that closes after every response without Connection: close', () => {
  it.each([
    ['at once', 0],
    ['a moment later', 30],
  ])('closing %s, next request sent immediately: response delivered, then the client connection closes without an invented answer', async (_when, delay) => {
    const sink = await setup((socket, n) => {
      if (n > 0) return; // already closing: what arrives now is never answered
      socket.write(OK);
      if (delay === 0) socket.end();
      else setTimeout(() => socket.end(), delay);
    });
    const c = await fx.client();
    c.write(ping(1));
    await c.responsesAfter(1, 2_000);
    c.write(ping(2));
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toMatch(RELAYED_OK);
    const obs = await sink.waitFor(1);
    await new Promise((r) => setTimeout(r, 20)); // let a second observation, if any, land
    expectMirroredCloses(obs);
    expect(fx.upstream!.accepted).toBe(1);
    await retryServed();
  });

  it('next request after a pause: the client connection was already closed when the upstream closed', async () => {
    const sink = await setup((socket) => {
      socket.write(OK);
      socket.end();
    });
    const c = await fx.client();
    c.write(ping(1));
    await c.responsesAfter(1, 2_000);
    // The pause: the gateway closes the idle client connection as soon as the upstream closed.
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toMatch(RELAYED_OK);
    expect(await sink.waitFor(1)).toHaveLength(1);
    await retryServed();
  });

  it('pipelined requests: the first answer is delivered, the rest of the connection is closed unanswered', async () => {
    const sink = await setup((socket) => {
      socket.write(OK);
      socket.end();
    });
    const c = await fx.client();
    c.write(Buffer.concat([ping(1), ping(2), ping(3)]));
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toMatch(RELAYED_OK);
    const obs = await sink.waitFor(1);
    await new Promise((r) => setTimeout(r, 20));
    expectMirroredCloses(obs);
    await retryServed();
  });
});

describe('a request written to an upstream connection that closes without a byte of response', () => {
  it.each([
    ['immediately', 0],
    ['after a pause', 100],
  ])('second request sent %s on a kept-alive connection: client connection closed without an answer, observed upstream-closed', async (_when, pause) => {
    const sink = await setup((socket, n) => {
      if (n === 0) socket.write(OK);
      else socket.end(); // read the request, answer nothing, close
    });
    const c = await fx.client();
    c.write(ping(1));
    await c.responsesAfter(1, 2_000);
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    c.write(ping(2));
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toBe(OK);
    const obs = await sink.waitFor(2);
    expect(obs).toHaveLength(2);
    expectMirroredCloses(obs);
    expect(obs[1]).toMatchObject({ url: '/up/2', upstreamConnectionId: obs[0]!.upstreamConnectionId });
    await retryServed();
  });

  it('a Fragment whose body the upstream stops reading: client connection closed without an answer', async () => {
    const sink = await setup((socket, n) => {
      if (n === 0) socket.write(OK);
      else socket.end();
    });
    const c = await fx.client();
    c.write(ping(1));
    await c.responsesAfter(1, 2_000);
    c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Fragment'], ['Content-Range', 'bytes 0-4/5'], ['Content-Length', '5']], 'hello'));
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toBe(OK);
    expectMirroredCloses(await sink.waitFor(2));
  });

  it('the first request on a fresh upstream connection: closed without an answer too', async () => {
    const sink = await setup((socket) => socket.end());
    const c = await fx.client();
    c.write(ping(1));
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toBe('');
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ error: 'upstream-closed', url: '/up/1' });
    expect(obs!.status).toBeUndefined();
  });
});
