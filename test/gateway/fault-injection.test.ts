import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { injectedAnswerHeaders } from '../../src/gateway/fault-injector.js';
import { startGateway } from '../../src/gateway/index.js';
import { InjectionRegistry } from '../../src/inject/registry.js';
import { parseInjectionRule } from '../../src/inject/rule-syntax.js';
import { decodeRequest } from '../../src/protocol/index.js';
import {
  bitsPost, CollectingSink, PROTOCOL_GUID, RawClient, startUpstream, type TestUpstream, useGatewayFixture, waitUntil,
} from './helpers.js';

const SESSION = '{0F2E52B4-6D1C-4B3A-9D3E-31E8C1B7A5D0}';
const fx = useGatewayFixture();

/** The upstream a BITS server would be: Acks with the session id and the received range. */
function bitsServer(): Parameters<typeof startUpstream>[0] {
  return (req) => {
    const type = req.headers.find(([n]) => n.toLowerCase() === 'bits-packet-type')?.[1] ?? '';
    const headers: Array<[string, string]> = [['BITS-Packet-Type', 'Ack']];
    if (type === 'Create-Session') headers.push(['BITS-Protocol', PROTOCOL_GUID], ['BITS-Session-Id', SESSION]);
    else headers.push(['BITS-Session-Id', SESSION]);
    if (type === 'Fragment') {
      const range = /bytes (\d+)-(\d+)/.exec(req.headers.find(([n]) => n === 'Content-Range')?.[1] ?? '');
      headers.push(['BITS-Received-Content-Range', String(Number(range?.[2] ?? -1) + 1)]);
    }
    headers.push(['Content-Length', '0']);
    return { status: 200, headers };
  };
}

async function setup(rules: string[], options: { random?: () => number; upstream?: TestUpstream; upstreamTimeoutMs?: number } = {}) {
  const registry = new InjectionRegistry(options.random ? { random: options.random } : {});
  for (const r of rules) registry.add(parseInjectionRule(r), 'cli');
  const sink = new CollectingSink();
  fx.upstream = options.upstream ?? await startUpstream(bitsServer());
  fx.gateway = await startGateway({
    upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink], injections: registry,
    ...(options.upstreamTimeoutMs !== undefined && { upstreamTimeoutMs: options.upstreamTimeoutMs }),
  });
  return { registry, sink, client: await fx.client() };
}

const create = () => bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', PROTOCOL_GUID], ['Content-Length', '0']]);
const close = () => bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', SESSION], ['Content-Length', '0']]);
function fragment(body: Buffer, start: number, total: number): Buffer {
  return bitsPost('/up/f.bin', [
    ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', SESSION],
    ['Content-Range', `bytes ${start}-${start + body.length - 1}/${total}`], ['Content-Length', String(body.length)],
  ], body);
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const types = (u: TestUpstream) => u.requests.map((r) => r.headers.find(([n]) => n === 'BITS-Packet-Type')?.[1]);
/** Response header lines without the listener's framing/date fields. */
const bitsHeaders = (h: Array<[string, string]>) => h.filter(([n]) => !/^(date|connection|keep-alive)$/i.test(n));

describe('injected answer headers: the one Ack encoder', () => {
  const answerOf = (rule: string) => {
    const a = parseInjectionRule(rule).action;
    if (a.kind !== 'answer') throw new Error('not an answer rule');
    return a;
  };
  const packet = decodeRequest('BITS_POST', [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', SESSION], ['Content-Range', 'bytes 0-9/10'], ['Content-Length', '10']]);

  it('puts BITS-Received-Content-Range before the error fields, as the server\'s Acks (encode.ts ackHeaders)', () => {
    expect(injectedAnswerHeaders(answerOf('fragment: status=416 code=0x80070057 range=700'), packet)).toEqual([
      ['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', SESSION], ['BITS-Received-Content-Range', '700'],
      ['BITS-Error-Code', '0x80070057'], ['BITS-Error-Context', '0x5'], ['Content-Length', '0'],
    ]);
  });

  it('sends a context without a code alone', () => {
    expect(injectedAnswerHeaders(answerOf('fragment: status=503 context=0x7'), packet)).toEqual([
      ['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', SESSION], ['BITS-Error-Context', '0x7'], ['Content-Length', '0'],
    ]);
  });

  it('answers a request that is no BITS packet without BITS-Packet-Type', () => {
    expect(injectedAnswerHeaders(answerOf('any: status=503 code=0x80004005'), decodeRequest('GET', []))).toEqual([
      ['BITS-Error-Code', '0x80004005'], ['BITS-Error-Context', '0x5'], ['Content-Length', '0'],
    ]);
  });
});

describe('fault injection: answers without forwarding', () => {
  it('answers the 2nd Fragment 503 + BITS-Error-Code as a BITS Ack, discards its body, and keeps the connection in step', async () => {
    const { client, sink } = await setup(['fragment#2: status=503 code=0x80004005']);
    const body = randomBytes(3000);
    client.write(create());
    client.write(fragment(body.subarray(0, 1000), 0, 3000));
    client.write(fragment(body.subarray(1000, 2000), 1000, 3000));
    client.write(fragment(body.subarray(1000, 2000), 1000, 3000));
    const res = await client.responsesAfter(4);
    expect(res.map((r) => r.status)).toEqual([200, 200, 503, 200]);
    expect(bitsHeaders(res[2]!.headers)).toEqual([
      ['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', SESSION], ['BITS-Error-Code', '0x80004005'], ['BITS-Error-Context', '0x5'], ['Content-Length', '0'],
    ]);
    expect(res[2]!.body.length).toBe(0);
    expect(client.closed).toBe(false);
    // The injected answer never reached the server; the resend after it arrived intact on the same upstream connection.
    const up = fx.upstream!.requests;
    expect(types(fx.upstream!)).toEqual(['Create-Session', 'Fragment', 'Fragment']);
    expect(up.map((r) => r.socketId)).toEqual([1, 1, 1]);
    expect(up[2]!.sha256).toBe(sha(body.subarray(1000, 2000)));
    expect(up[2]!.rawHead).toContain('Content-Range: bytes 1000-1999/3000\r\n');
    const obs = await sink.waitFor(4);
    expect(obs[2]!.injected).toEqual({ id: 'inj-1', rule: 'fragment#2: status=503 code=0x80004005', action: 'answer' });
    expect(obs[2]!.responder).toBe('gateway');
    // The answered Fragment's body was read (and discarded) in full before the answer.
    expect(obs[2]!.requestBodyBytes).toBe(1000);
    expect(obs.filter((o) => o.injected).length).toBe(1);
  });

  it('answers 416 with BITS-Received-Content-Range as the server last acknowledged it (range=server)', async () => {
    const { client, sink } = await setup(['fragment#2: status=416 range=server']);
    const body = randomBytes(2000);
    client.write(create());
    client.write(fragment(body.subarray(0, 700), 0, 2000));
    await client.responsesAfter(2);
    await sink.waitFor(2);
    client.write(fragment(body.subarray(900, 2000), 900, 2000));
    const res = await client.responsesAfter(3);
    expect(res[2]!.status).toBe(416);
    expect(bitsHeaders(res[2]!.headers)).toEqual([
      ['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', SESSION], ['BITS-Received-Content-Range', '700'], ['Content-Length', '0'],
    ]);
    expect(types(fx.upstream!)).toEqual(['Create-Session', 'Fragment']);
  });

  it('forget-session answers 500 + 0x8020001F for that session from then on, never forwarding', async () => {
    const { client } = await setup(['fragment#2: forget-session']);
    const body = randomBytes(200);
    client.write(create());
    client.write(fragment(body.subarray(0, 100), 0, 200));
    client.write(fragment(body.subarray(100), 100, 200));
    client.write(close());
    const res = await client.responsesAfter(4);
    expect(res.map((r) => r.status)).toEqual([200, 200, 500, 500]);
    for (const r of res.slice(2)) {
      expect(bitsHeaders(r.headers)).toEqual([
        ['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', SESSION], ['BITS-Error-Code', '0x8020001F'], ['BITS-Error-Context', '0x5'], ['Content-Length', '0'],
      ]);
    }
    expect(types(fx.upstream!)).toEqual(['Create-Session', 'Fragment']);
  });

  it('reads a 100-continue body before answering, so the answer is in step', async () => {
    const { client } = await setup(['fragment: status=503']);
    const body = randomBytes(500);
    const head = `BITS_POST /up/f.bin HTTP/1.1\r\nHost: x\r\nBITS-Packet-Type: Fragment\r\nBITS-Session-Id: ${SESSION}\r\nContent-Range: bytes 0-499/500\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n`;
    client.write(head);
    const interim = await client.responsesAfter(1);
    expect(interim[0]!.status).toBe(100);
    client.write(body);
    const res = await client.responsesAfter(2);
    expect(res[1]!.status).toBe(503);
    expect(fx.upstream!.requests).toEqual([]);
  });
});

describe('fault injection: broken connections', () => {
  it('drop-ack forwards the Close, lets the server answer, and closes the client connection without a byte of it', async () => {
    const { client, sink } = await setup(['close: drop-ack times=1']);
    client.write(create());
    await client.responsesAfter(1);
    const before = client.raw.length;
    client.write(close());
    expect(await client.waitClosed()).toBe(true);
    expect(client.raw.length).toBe(before);
    expect(types(fx.upstream!)).toEqual(['Create-Session', 'Close-Session']);
    const obs = await sink.waitFor(2);
    expect(obs[1]).toMatchObject({ status: 200, responder: 'upstream', responseBodyBytes: 0, error: 'injected-drop-ack', injected: { action: 'drop-ack' } });
    // The resend on a new connection reaches the server intact over a new upstream connection.
    const again = await fx.client();
    again.write(close());
    expect((await again.responsesAfter(1))[0]!.status).toBe(200);
    expect(types(fx.upstream!)).toEqual(['Create-Session', 'Close-Session', 'Close-Session']);
    expect(fx.upstream!.requests[2]!.socketId).toBe(2);
    expect(fx.upstream!.requests[2]!.rawHead).toBe(fx.upstream!.requests[1]!.rawHead);
  });

  it.each([
    ['fragment: reset-after=1000', 1000],
    ['fragment: reset-after=25%', 1000],
  ])('%s relays exactly that many body bytes, then resets the client connection', async (rule, bytes) => {
    const received: Buffer[] = [];
    let upstreamClosed = false;
    const server = net.createServer((s) => {
      s.on('data', (d) => received.push(d));
      s.on('close', () => (upstreamClosed = true));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    fx.extraServer = server;
    const port = (server.address() as net.AddressInfo).port;
    const registry = new InjectionRegistry();
    registry.add(parseInjectionRule(rule), 'cli');
    const sink = new CollectingSink();
    fx.gateway = await startGateway({ upstream: new URL(`http://127.0.0.1:${port}`), listen: { host: '127.0.0.1', port: 0 }, sinks: [sink], injections: registry });
    const client = await fx.client();
    let clientError = '';
    client.socket.on('error', (e: NodeJS.ErrnoException) => (clientError = e.code ?? ''));
    const body = randomBytes(4000);
    client.write(fragment(body, 0, 4000));
    expect(await client.waitClosed()).toBe(true);
    expect(clientError).toBe('ECONNRESET');
    await waitUntil(() => upstreamClosed, 5000, 'upstream connection closed');
    const all = Buffer.concat(received);
    const headEnd = all.indexOf('\r\n\r\n') + 4;
    expect(all.subarray(headEnd)).toEqual(body.subarray(0, bytes));
    const obs = await sink.waitFor(1);
    expect(obs[0]).toMatchObject({ requestBodyBytes: bytes, error: 'injected-reset', injected: { action: 'reset-after', rule } });
    expect(obs[0]!.status).toBeUndefined();
  });

  it('after a reset-after, the next request on a new connection reaches the upstream intact', async () => {
    const { client } = await setup(['fragment: reset-after=10 times=1']);
    const body = randomBytes(300);
    client.write(fragment(body, 0, 300));
    expect(await client.waitClosed()).toBe(true);
    const again = await fx.client();
    again.write(fragment(body, 0, 300));
    expect((await again.responsesAfter(1))[0]!.status).toBe(200);
    const up = fx.upstream!.requests;
    expect(up).toHaveLength(1);
    expect(up[0]!.sha256).toBe(sha(body));
    expect(up[0]!.socketId).toBe(2);
  });

  it('reset-after on a bodyless Close resets before anything reaches the upstream', async () => {
    const { client, sink } = await setup(['close: reset-after=0']);
    client.write(close());
    expect(await client.waitClosed()).toBe(true);
    expect((await sink.waitFor(1))[0]).toMatchObject({ error: 'injected-reset', injected: { action: 'reset-after' } });
    expect(fx.upstream!.requests).toEqual([]);
  });
});

describe('fault injection: slow paths', () => {
  it('delay=300ms holds the request before forwarding', async () => {
    const { client } = await setup(['ping: delay=300ms']);
    const sent = Date.now();
    let seenAt = 0;
    client.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
    await waitUntil(() => fx.upstream!.requests.length === 1 && (seenAt = seenAt || Date.now()) > 0, 5000);
    expect(seenAt - sent).toBeGreaterThanOrEqual(290);
    expect((await client.responsesAfter(1))[0]!.status).toBe(200);
  });

  it('bandwidth=20KiB/s relays the body no faster than that, byte for byte', async () => {
    const { client, sink } = await setup(['fragment: bandwidth=20KiB/s']);
    const body = randomBytes(16 * 1024);
    const sent = Date.now();
    client.write(fragment(body, 0, body.length));
    expect((await client.responsesAfter(1))[0]!.status).toBe(200);
    // 16 KiB at 20 KiB/s: the last slice may leave after 0.7 s at the earliest.
    expect(Date.now() - sent).toBeGreaterThanOrEqual(650);
    expect(fx.upstream!.requests[0]!.sha256).toBe(sha(body));
    expect((await sink.waitFor(1))[0]).toMatchObject({ requestBodyBytes: body.length, injected: { action: 'bandwidth' } });
  });
});

describe('fault injection: one decoding per exchange', () => {
  /** Whether each observation arrived decoded. No tracker among the sinks, and the policy's own sink runs after this one: a `decoded` seen here comes from the gateway. */
  function decodedOnArrival(sink: CollectingSink): boolean[] {
    const seen: boolean[] = [];
    const deliver = sink.onObservation.bind(sink);
    sink.onObservation = (obs) => {
      seen.push(obs.decoded !== undefined);
      deliver(obs);
    };
    return seen;
  }

  it('the head decoded to ask the policy becomes the observation\'s decoded, completed with the relayed count', async () => {
    const { client, sink } = await setup(['any: status=503 client=10.0.0.5']);
    const arrived = decodedOnArrival(sink);
    // Chunked, no Content-Length: 5 bytes relayed where Content-Range announces 10.
    client.write(`BITS_POST /up/f.bin HTTP/1.1\r\nHost: x\r\nBITS-Packet-Type: Fragment\r\nBITS-Session-Id: ${SESSION}\r\nContent-Range: bytes 0-9/10\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n`);
    expect((await client.responsesAfter(1))[0]!.status).toBe(200);
    const obs = (await sink.waitFor(1))[0]!;
    expect(obs.requestBodyBytes).toBe(5);
    expect(arrived).toEqual([true]);
    // The same as one decoding of the whole exchange would give.
    expect(obs.decoded!.request).toEqual(decodeRequest(obs.method, obs.requestHeaders, 5));
    expect(obs.decoded!.request!.problems.map((p) => p.reason)).toContain('relayed body 5 but Content-Range bytes 0-9 is 10 bytes');
    expect(obs.decoded!.ack).toMatchObject({ isAck: true, sessionId: SESSION, receivedOffset: 10 });
  });

  it('with no rule the gateway decodes nothing (the first reader does, once)', async () => {
    const { client, sink } = await setup([]);
    const arrived = decodedOnArrival(sink);
    client.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
    expect((await client.responsesAfter(1))[0]!.status).toBe(200);
    await sink.waitFor(1);
    expect(arrived).toEqual([false]);
  });
});

describe('fault injection: throttled bodies and the inactivity sweep', () => {
  it('a throttled body longer than the upstream timeout is progress, not silence', async () => {
    // The whole body is read at once, then the throttle holds it: no client byte arrives for
    // the sweep to see for ~1 s, three times the timeout. The throttle's slices are the activity.
    const { client, sink } = await setup(['fragment: bandwidth=16KiB/s'], { upstreamTimeoutMs: 300 });
    const body = randomBytes(16 * 1024);
    client.write(fragment(body, 0, body.length));
    expect((await client.responsesAfter(1))[0]!.status).toBe(200);
    expect(fx.upstream!.requests[0]!.sha256).toBe(sha(body));
    expect((await sink.waitFor(1))[0]).toMatchObject({ requestBodyBytes: body.length, injected: { action: 'bandwidth' } });
    expect((await sink.waitFor(1))[0]!.error).toBeUndefined();
  });
});

describe('fault injection: which requests', () => {
  it('times and p (with a deterministic random) limit firing; url scopes by path', async () => {
    const draws = [0.9, 0.1, 0.1];
    const { client } = await setup(['ping: status=503 p=0.5 times=1', 'any: status=504 url=/other/*'], { random: () => draws.shift() ?? 0.9 });
    const ping = (path = '/up/f.bin') => bitsPost(path, [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]);
    for (const p of [ping(), ping(), ping(), ping('/other/x')]) client.write(p);
    const res = await client.responsesAfter(4);
    expect(res.map((r) => r.status)).toEqual([200, 503, 200, 504]);
    expect(fx.upstream!.requests.map((r) => r.url)).toEqual(['/up/f.bin', '/up/f.bin']);
  });

  it('a client scope that does not match leaves the request alone', async () => {
    const { client, sink } = await setup(['any: status=503 client=10.0.0.5']);
    client.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
    expect((await client.responsesAfter(1))[0]!.status).toBe(200);
    expect((await sink.waitFor(1))[0]!.injected).toBeUndefined();
  });
});
