import { describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway/index.js';
import { errorBytes } from './http1/helpers.js';
import { bitsPost, CollectingSink, startUpstream, useGatewayFixture } from './helpers.js';

/**
 * A client that shuts down its sending side (FIN) before a request body is complete can
 * never complete it. The gateway answers at once (400 truncated-body) instead of waiting
 * for --upstream-timeout, and never blames the upstream for it (issue 15, part 2).
 */

const fx = useGatewayFixture();
const PING = bitsPost('/a.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]);
const ACK = 'HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\n\r\n';
const TRUNCATED = errorBytes(400, 'Bad Request', 'truncated-body');
/** Far beyond what the test waits: an answer must not come from the upstream timeout. */
const UPSTREAM_TIMEOUT_MS = 30_000;

async function setup() {
  fx.upstream = await startUpstream();
  const sink = new CollectingSink();
  fx.gateway = await startGateway({
    upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink], upstreamTimeoutMs: UPSTREAM_TIMEOUT_MS,
  });
  return sink;
}

describe('client half-close before a request body is complete', () => {
  it('pipelined Ping then a Fragment without its body, then FIN: the Ping is answered, the Fragment gets 400 at once', async () => {
    const sink = await setup();
    const c = await fx.client();
    c.socket.end(Buffer.concat([PING, bitsPost('/b.bin', [['BITS-Packet-Type', 'Fragment'], ['Content-Length', '5']])]));
    // Event-driven: both answers and the close, well before the 30 s upstream timeout.
    await c.responsesAfter(2, 2_000);
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toBe(ACK + TRUNCATED);
    const obs = await sink.waitFor(2);
    expect(obs[0]).toMatchObject({ method: 'BITS_POST', url: '/a.bin', status: 200, responder: 'upstream' });
    expect(obs[0]!.error).toBeUndefined();
    expect(obs[1]).toMatchObject({
      method: 'BITS_POST', url: '/b.bin', status: 400, responder: 'gateway', error: 'truncated-body', requestBodyBytes: 0,
    });
    // The upstream only ever received the Ping in full.
    expect(fx.upstream!.requests.map((r) => r.url)).toEqual(['/a.bin']);
  });

  it('FIN in the middle of a Fragment body: 400 at once, the partial body is never completed upstream', async () => {
    const sink = await setup();
    const c = await fx.client();
    c.socket.end(bitsPost('/a.bin', [['BITS-Packet-Type', 'Fragment'], ['Content-Length', '10']], 'abc'));
    await c.responsesAfter(1, 2_000);
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toBe(TRUNCATED);
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ status: 400, responder: 'gateway', error: 'truncated-body' });
    expect(obs!.requestBodyBytes).toBeLessThanOrEqual(3);
    expect(fx.upstream!.requests).toHaveLength(0);
  });

  it('a complete request followed by FIN is still answered by the upstream (half-close is not an abort)', async () => {
    const sink = await setup();
    const c = await fx.client();
    c.socket.end(bitsPost('/a.bin', [['BITS-Packet-Type', 'Fragment'], ['Content-Length', '3']], 'abc'));
    await c.responsesAfter(1, 2_000);
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toBe(ACK);
    const [obs] = await sink.waitFor(1);
    expect(obs).toMatchObject({ status: 200, responder: 'upstream', requestBodyBytes: 3 });
    expect(obs!.error).toBeUndefined();
  });
});
