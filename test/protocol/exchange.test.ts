/**
 * Decode once: an exchange's BITS request and Ack are decoded by the first reader and every
 * later reader (tracker, metrics, request log) reads that decoding, not the headers again.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Observation } from '../../src/observation.js';
import { decodeExchange, decodeExchangeWithHead, decodeRequest } from '../../src/protocol/index.js';
import { SessionTracker } from '../../src/sessions/tracker.js';
import { BitsgateMetrics } from '../../src/sinks/metrics.js';
import { Recorder } from '../../src/sinks/recorder.js';
import { requestLogLine } from '../../src/sinks/request-log.js';
import { replay } from '../../src/sessions/replay.js';

function ping(patch: Partial<Observation> = {}): Observation {
  return {
    id: 1, connectionId: 1, client: { address: '127.0.0.1', port: 5000 }, method: 'BITS_POST', url: '/up/f.bin',
    httpVersion: '1.1', requestHeaders: [['Host', 'h'], ['BITS-Packet-Type', 'Ping']], startedAt: 1000, requestBodyBytes: 0,
    status: 200, responseHeaders: [['BITS-Packet-Type', 'Ack']], responseBodyBytes: 0, respondedAt: 1001, endedAt: 1002,
    responder: 'upstream', ...patch,
  };
}

describe('decodeExchangeWithHead: a head decoded before its body, completed with the relayed count', () => {
  const fragmentHead = (extra: Array<[string, string]>): Array<[string, string]> =>
    [['Host', 'h'], ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', '{s}'], ['Content-Range', 'bytes 0-9/10'], ...extra];
  it.each<[string, Partial<Observation>]>([
    ['a chunked Fragment shorter than its range', { requestHeaders: fragmentHead([['Transfer-Encoding', 'chunked']]), requestBodyBytes: 4 }],
    ['a chunked Fragment of its range', { requestHeaders: fragmentHead([['Transfer-Encoding', 'chunked']]), requestBodyBytes: 10 }],
    ['a Fragment whose Content-Length disagrees, cut short', { requestHeaders: fragmentHead([['Content-Length', '12']]), requestBodyBytes: 3 }],
    ['a Fragment with a bad Content-Length', { requestHeaders: fragmentHead([['Content-Length', 'x']]), requestBodyBytes: 7 }],
    ['a Ping with a chunked body', { requestHeaders: [['Host', 'h'], ['BITS-Packet-Type', 'Ping'], ['Transfer-Encoding', 'chunked']], requestBodyBytes: 5 }],
    ['a Ping with Content-Length and a body', { requestHeaders: [['Host', 'h'], ['BITS-Packet-Type', 'Ping'], ['Content-Length', '5']], requestBodyBytes: 5 }],
    ['an unknown packet with a body', { requestHeaders: [['Host', 'h'], ['BITS-Packet-Type', 'Nope']], requestBodyBytes: 5 }],
    ['an ordinary GET', { method: 'GET', requestHeaders: [['Host', 'h']], requestBodyBytes: 5 }],
    ['an unanswered Fragment', { requestHeaders: fragmentHead([]), requestBodyBytes: 2, status: undefined, responseHeaders: undefined }],
  ])('gives what one decoding of the whole exchange gives: %s', (_what, patch) => {
    const whole = decodeExchange(ping(patch));
    const obs = ping(patch);
    const head = decodeRequest(obs.method, obs.requestHeaders);
    const problemsBefore = head ? [...head.problems] : [];
    const d = decodeExchangeWithHead(obs, head);
    expect(d).toEqual(whole);
    expect(obs.decoded).toBe(d);
    // The head handed to the injection policy is not changed after the fact.
    if (head) expect(head.problems).toEqual(problemsBefore);
  });

  it('keeps a decoding already made', () => {
    const obs = ping();
    const first = decodeExchange(obs);
    expect(decodeExchangeWithHead(obs, null)).toBe(first);
  });
});

describe('decodeExchange', () => {
  it('decodes the request and the Ack once and keeps them on the observation', () => {
    const obs = ping();
    const first = decodeExchange(obs);
    expect(first.request?.type).toBe('ping');
    expect(first.ack?.isAck).toBe(true);
    expect(obs.decoded).toBe(first);
    expect(decodeExchange(obs)).toBe(first);
  });

  it('has no Ack for an ordinary request, and no request packet', () => {
    const d = decodeExchange(ping({ method: 'GET', requestHeaders: [['Host', 'h']] }));
    expect(d).toEqual({ request: null, ack: undefined });
  });

  it('the tracker, the metrics and the request log read the one decoding, not the headers', async () => {
    // The headers say Ping; a decoding planted on the observation says Cancel-Session. Every
    // reader that reports `cancel-session` read the decoding instead of decoding again.
    const obs = ping();
    const planted = decodeExchange(ping({ requestHeaders: [['Host', 'h'], ['BITS-Packet-Type', 'Cancel-Session'], ['BITS-Session-Id', '{s}']] }));
    obs.decoded = planted;
    const events = new SessionTracker().observe(obs);
    expect(events.find((e) => e.type === 'packet')).toMatchObject({ packet: { kind: 'cancel-session' } });
    const metrics = new BitsgateMetrics({ defaultMetrics: false });
    metrics.onObservation(obs);
    expect(await metrics.registry.metrics()).toContain('bitsgate_request_duration_seconds_count{packet="cancel-session"} 1');
    expect(requestLogLine(obs)).toMatchObject({ packet: 'cancel-session', session: '{s}' });
  });

  it('is never recorded, and a recording without it replays the same (analyze decodes)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitsgate-decoded-'));
    try {
      const file = join(dir, 'r.ndjson');
      const rec = await Recorder.open(file);
      const obs = ping();
      decodeExchange(obs);
      rec.onObservation(obs);
      await rec.close();
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      expect(lines[1]).not.toContain('decoded');
      const result = await replay(lines);
      expect(result.observations).toBe(1);
      expect(result.malformed).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
