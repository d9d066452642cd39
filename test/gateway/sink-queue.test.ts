/**
 * Sinks run off the response path: the gateway queues each exchange start and observation
 * and a per-turn drain hands them to the sinks, so a slow sink never delays a response.
 */
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway/index.js';
import { SinkFanout } from '../../src/gateway/sink-fanout.js';
import type { ExchangeStart, Observation } from '../../src/observation.js';
import { bitsPost, CollectingSink, startRawUpstream, useGatewayFixture } from './helpers.js';

const ACK = 'HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\n\r\n';
const PING = bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]);

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a sink stuck in synchronous work (a slow disk write, a huge fan-out)
  }
}

describe('sink queue', () => {
  const fx = useGatewayFixture<Awaited<ReturnType<typeof startRawUpstream>>>();

  it('a sink that blocks does not delay the next response: both responses are written before the sink runs', async () => {
    // Two client connections whose Acks the upstream releases in the same turn: the gateway
    // reads both upstream answers in one poll phase. With sinks inside 'finish', the first
    // response's sink would block before the second response is written.
    const held: net.Socket[] = [];
    fx.upstream = await startRawUpstream((socket) => {
      held.push(socket);
      if (held.length === 2) for (const s of held) s.write(ACK);
    });
    const clientSockets: net.Socket[] = [];
    /** For each sink call: bytes the gateway had written to each client connection by then. */
    const writtenAtSink: number[][] = [];
    const collected = new CollectingSink();
    const slow = {
      onObservation(_obs: Observation) {
        writtenAtSink.push(clientSockets.map((s) => s.bytesWritten));
        busyFor(50);
      },
    };
    fx.gateway = await startGateway({ upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [slow, collected] });
    fx.gateway.server.on('connection', (s: net.Socket) => clientSockets.push(s));
    const a = await fx.client();
    const b = await fx.client();
    a.write(PING);
    b.write(PING);
    const [ra, rb] = await Promise.all([a.responsesAfter(1), b.responsesAfter(1)]);
    expect(ra[0]!.status).toBe(200);
    expect(rb[0]!.status).toBe(200);
    await collected.waitFor(2);
    expect(clientSockets).toHaveLength(2);
    // When the slow sink first ran, BOTH responses (ACK.length bytes each) were already out.
    expect(writtenAtSink[0]).toEqual([ACK.length, ACK.length]);
  });
});

describe('SinkFanout', () => {
  const start = (id: number): ExchangeStart => ({
    id, connectionId: 1, client: { address: '127.0.0.1', port: 1 }, method: 'BITS_POST', url: '/', httpVersion: '1.1',
    requestHeaders: [], startedAt: 0,
  });
  const obs = (id: number): Observation => ({ ...start(id), requestBodyBytes: 0, responseBodyBytes: 0, endedAt: 1 });

  it('delivers nothing synchronously, then everything in one later turn, starts and observations in order', async () => {
    const seen: string[] = [];
    const fan = new SinkFanout([{
      onExchangeStart: (s) => seen.push(`start ${s.id}`),
      onObservation: (o) => seen.push(`obs ${o.id}`),
    }]);
    fan.onExchangeStart(start(1));
    fan.onObservation(obs(1));
    fan.onExchangeStart(start(2));
    fan.onObservation(obs(2));
    expect(seen).toEqual([]);
    expect(fan.pending).toBe(4);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['start 1', 'obs 1', 'start 2', 'obs 2']);
    expect(fan.pending).toBe(0);
  });

  it('a connection close reaches the sinks after the observations queued before it (the tracker reads a lost Close Ack from that order)', async () => {
    const seen: string[] = [];
    const fan = new SinkFanout([{
      onObservation: (o) => seen.push(`obs ${o.id}`),
      onConnectionClosed: (c) => seen.push(`closed ${c.connectionId}`),
    }]);
    // The forwarder's order when a client connection closes: the last exchange's observation, then the close.
    fan.onObservation(obs(1));
    fan.onConnectionClosed({ connectionId: 1, at: 2 });
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['obs 1', 'closed 1']);
  });

  it('flush() delivers what is queued at once (shutdown)', () => {
    const seen: number[] = [];
    const fan = new SinkFanout([{ onObservation: (o) => seen.push(o.id) }]);
    fan.onObservation(obs(5));
    fan.flush();
    expect(seen).toEqual([5]);
  });
});
