import net from 'node:net';
import { PassThrough } from 'node:stream';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway/index.js';
import { Forwarder } from '../../src/gateway/forwarder.js';
import { RequestBodyError, type Http1Request, type Http1Response } from '../../src/gateway/http1/index.js';
import {
  bitsPost, CollectingSink, startUpstream, useGatewayFixture, waitUntil,
} from './helpers.js';

/**
 * How an exchange ends when its request body fails: the listener rejects a malformed or
 * stalled body mid-exchange, the body stream errors with a reason, or the upstream answers
 * before the body was read. Always exactly one observation, carrying the real cause.
 */

const fx = useGatewayFixture();
const { client } = fx;

/** Lets late end paths (body error, res 'close', socket close) run, so a second observation would show. */
const settle = () => new Promise((r) => setTimeout(r, 80));

describe('request body failures through the gateway', () => {
  it('a malformed chunk mid-body fails that exchange with bad-chunk-size: one observation, the listener\'s 400', async () => {
    fx.upstream = await startUpstream();
    const sink = new CollectingSink();
    fx.gateway = await startGateway({ upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink] });
    const c = await client();
    c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Fragment'], ['Transfer-Encoding', 'chunked']], '5\r\nhello\r\n'));
    await waitUntil(() => fx.upstream!.accepted === 1, 2_000, 'upstream connection');
    await new Promise((r) => setTimeout(r, 30));
    c.write('zz\r\n');
    const [res] = await c.responsesAfter(1);
    expect(res!.status).toBe(400);
    expect(await c.waitClosed(2_000)).toBe(true);
    await settle();
    expect(sink.starts).toHaveLength(1);
    expect(sink.observations).toHaveLength(1);
    expect(sink.observations[0]).toMatchObject({
      id: sink.starts[0]!.id, error: 'bad-chunk-size', status: 400, responder: 'gateway', method: 'BITS_POST', url: '/up/f.bin',
    });
    expect(sink.observations[0]!.requestBodyBytes).toBe(5);
    // The upstream request was aborted, never completed.
    await waitUntil(() => fx.upstream!.open === 0, 2_000, 'upstream socket closed');
    expect(fx.upstream.requests).toHaveLength(0);
  });

  it('a body that stops arriving past bodyTimeoutMs (a GatewayOptions limit) -> 408, error body-timeout', async () => {
    fx.upstream = await startUpstream();
    const sink = new CollectingSink();
    fx.gateway = await startGateway({ upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink], bodyTimeoutMs: 150 });
    const c = await client();
    const started = Date.now();
    c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Fragment'], ['Content-Length', '1000']], Buffer.alloc(10)));
    const [res] = await c.responsesAfter(1, 3_000);
    expect(res!.status).toBe(408);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await c.waitClosed(2_000)).toBe(true);
    await settle();
    expect(sink.observations).toHaveLength(1);
    expect(sink.observations[0]).toMatchObject({ id: sink.starts[0]!.id, error: 'body-timeout', status: 408, responder: 'gateway', requestBodyBytes: 10 });
  });

  it.each([
    ['keeps its connection', false],
    ['closes its connection', true],
  ])('an early final answer (413 before the body) from an upstream that %s is observed as its answer, without an error, every time', async (_, closes) => {
    const sockets = new Set<net.Socket>();
    fx.extraServer = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('data', () => {
        socket.write(`HTTP/1.1 413 Too Large\r\nBITS-Packet-Type: Ack\r\n${closes ? 'Connection: close\r\n' : ''}Content-Length: 0\r\n\r\n`);
        if (closes) socket.end();
      });
    });
    fx.extraServer.on('close', () => sockets.forEach((s) => s.destroy()));
    await new Promise<void>((r) => fx.extraServer!.listen(0, '127.0.0.1', r));
    const url = new URL(`http://127.0.0.1:${(fx.extraServer.address() as net.AddressInfo).port}`);
    const sink = new CollectingSink();
    fx.gateway = await startGateway({ upstream: url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink] });
    for (let i = 0; i < 8; i++) {
      const c = await client();
      c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Fragment'], ['Content-Length', String(1 << 20)]], Buffer.alloc(20_000)));
      const [res] = await c.responsesAfter(1);
      expect(res!.status).toBe(413);
      expect(await c.waitClosed(2_000)).toBe(true);
      c.destroy();
    }
    await sink.waitFor(8);
    await settle();
    expect(sink.observations).toHaveLength(8);
    for (const obs of sink.observations) {
      expect(obs).toMatchObject({ status: 413, responder: 'upstream' });
      expect(obs.error).toBeUndefined();
    }
  });
});

/** A stand-in for the listener's request: a body stream plus the parsed head. */
function fakeRequest(socket: net.Socket, contentLength: number): Http1Request {
  const body = new PassThrough();
  const head = {
    method: 'BITS_POST', url: '/up/f.bin', httpVersion: '1.1', httpVersionMajor: 1, httpVersionMinor: 1,
    headers: { host: 'h', 'content-length': String(contentLength) },
    rawHeaders: ['Host', 'h', 'Content-Length', String(contentLength)],
    headerList: [['Host', 'h'], ['Content-Length', String(contentLength)]],
    socket, connection: socket, connectionId: 999_001, contentLength, chunked: false, expectContinue: false,
    receivedAt: Date.now(), bodyBytesRead: 0, complete: false,
  };
  return Object.assign(body, head) as unknown as Http1Request;
}

type FakeResponse = Http1Response & { destroyed: boolean; finished: boolean };

function fakeResponse(req: Http1Request): FakeResponse {
  const res = Object.assign(new EventEmitter(), {
    req, headersSent: false, finished: false, destroyed: false,
    writeHead() { res.headersSent = true; },
    writeContinue() {},
    write() { return true; },
    end() { res.finished = true; },
    closeAfter() {},
    destroy() {
      res.destroyed = true;
      res.emit('close');
    },
  });
  return res as unknown as FakeResponse;
}

describe('forwarder: body stream errors', () => {
  it('records the `.reason` of a body stream error as the observation error', async () => {
    fx.upstream = await startUpstream();
    const sink = new CollectingSink();
    const forwarder = new Forwarder({ upstream: fx.upstream.url, upstreamTimeoutMs: 5_000, forwardedHeaders: false, sink });
    const socket = new net.Socket();
    try {
      const req = fakeRequest(socket, 100);
      const res = fakeResponse(req);
      forwarder.handle(req, res);
      (req as unknown as PassThrough).write(Buffer.alloc(10));
      await waitUntil(() => fx.upstream!.accepted === 1, 2_000, 'upstream connection');
      req.destroy(new RequestBodyError('body-timeout', 'HTTP1_BODY_TIMEOUT', 'request body timed out'));
      const [obs] = await sink.waitFor(1);
      await settle();
      expect(sink.observations).toHaveLength(1);
      expect(obs).toMatchObject({ error: 'body-timeout', connectionId: 999_001 });
      expect(obs!.status).toBeUndefined();
    } finally {
      forwarder.closeAll();
      socket.destroy();
    }
  });

  it('an early answer whose last write completes late still ends as the upstream\'s answer, not client-aborted', async () => {
    // The listener emits 'finish' when the socket took the last byte; under load that can come
    // after the body pipeline failed (proxyReq destroyed once the early answer was relayed).
    const sockets = new Set<net.Socket>();
    fx.extraServer = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.once('data', () => s.write('HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n'));
    });
    fx.extraServer.on('close', () => sockets.forEach((s) => s.destroy()));
    await new Promise<void>((r) => fx.extraServer!.listen(0, '127.0.0.1', r));
    const sink = new CollectingSink();
    const forwarder = new Forwarder({
      upstream: new URL(`http://127.0.0.1:${(fx.extraServer.address() as net.AddressInfo).port}`),
      upstreamTimeoutMs: 5_000, forwardedHeaders: false, sink,
    });
    const socket = new net.Socket();
    try {
      const req = fakeRequest(socket, 100_000);
      const res = fakeResponse(req);
      res.end = () => {
        res.finished = true;
        setTimeout(() => res.emit('finish'), 60);
      };
      forwarder.handle(req, res);
      (req as unknown as PassThrough).write(Buffer.alloc(1000));
      const [obs] = await sink.waitFor(1);
      await settle();
      expect(sink.observations).toHaveLength(1);
      expect(obs).toMatchObject({ status: 413, responder: 'upstream' });
      expect(obs!.error).toBeUndefined();
    } finally {
      forwarder.closeAll();
      socket.destroy();
    }
  });
});
