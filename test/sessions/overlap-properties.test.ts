/**
 * Property: legitimate BITS clients whose exchanges really overlap in time (several sessions
 * at once, each on its own connections), with lost answers (the gateway delivered the Ack,
 * the connection then dropped, the client reconnected, pinged and resent), a Fragment stuck on
 * a connection that broke silently (no FIN: the gateway gives up on it only long after the
 * session closed; the client reconnected and resent it), 413 then smaller
 * fragments, 5xx Close answers that are retried, lower-cased id echoes and a connection per
 * packet. Fed to the tracker as the gateway does (begin at the request head, observe at the
 * end, connection-closed after the last exchange), in time order. No run may produce an
 * error-level violation, and nothing above info but the server's own 5xx (server-error).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ExchangeStart, Observation } from '../../src/observation.js';
import { SessionTracker, type BitsEvent } from '../../src/sessions/index.js';
import { Wire } from './factory.js';

interface Spec {
  total: number;
  chunk: number;
  ping: boolean;
  perPacketConnection: boolean;
  /** Index of the fragment whose Ack is lost (-1: none). */
  lostFragment: number;
  /** Index of the fragment stuck on a silently broken connection (-1: none). */
  stuckFragment: number;
  dup416: boolean;
  shrinkFirst: boolean;
  close5xx: number;
  lostClose: boolean;
  releasedAnswer: 200 | 500;
  lowerEcho: boolean;
  start: number;
}

const spec: fc.Arbitrary<Spec> = fc.record({
  total: fc.integer({ min: 1, max: 400 }),
  chunk: fc.integer({ min: 1, max: 120 }),
  ping: fc.boolean(),
  perPacketConnection: fc.boolean(),
  lostFragment: fc.integer({ min: -1, max: 3 }),
  stuckFragment: fc.integer({ min: -1, max: 3 }),
  dup416: fc.boolean(),
  shrinkFirst: fc.boolean(),
  close5xx: fc.integer({ min: 0, max: 2 }),
  lostClose: fc.boolean(),
  releasedAnswer: fc.constantFrom(200 as const, 500 as const),
  lowerEcho: fc.boolean(),
  start: fc.integer({ min: 0, max: 40 }),
});

/** One exchange of a client, before times and connections are assigned. */
interface Step {
  build: (w: Wire, o: { startedAt: number; endedAt: number; connectionId: number }) => Observation;
  /** The connection drops right after this exchange's answer (lost Ack or connection per packet). */
  drop: boolean;
  /** The connection broke silently mid-request: the gateway ends the exchange (no answer) only this much later. */
  stuckMs?: number;
}

/** The gateway's late end of a request stuck on a silently broken connection: no answer. */
function unanswered(o: Observation): Observation {
  const copy = { ...o, error: 'client-aborted' };
  delete copy.status;
  delete copy.respondedAt;
  delete copy.responseHeaders;
  return copy;
}

function stepsOf(s: Spec, i: number): Step[] {
  const url = `/up/p-${i}.bin`;
  const sid = `{${(i + 1).toString(16).padStart(8, '0').toUpperCase()}-0A0B-4C0D-8E0F-00000000000${i % 10}}`;
  const echo = (o: Observation): Observation => {
    // The Create Ack issues the id as it is (the client echoes it); later Acks echo it lower-cased.
    if (!s.lowerEcho || !o.responseHeaders || o.requestHeaders.some(([n, v]) => n === 'BITS-Packet-Type' && v === 'Create-Session')) return o;
    return { ...o, responseHeaders: o.responseHeaders.map(([n, v]) => (n === 'BITS-Session-Id' ? [n, v.toLowerCase()] as const : [n, v] as const)) };
  };
  const out: Step[] = [];
  const add = (build: Step['build'], drop = false) => out.push({ build: (w, o) => echo(build(w, o)), drop: drop || s.perPacketConnection });
  const ping = () => { if (s.ping) add((w, o) => w.ping(url, o)); };
  ping();
  add((w, o) => w.create(url, sid, o));
  let r = 0;
  let k = 0;
  if (s.shrinkFirst) {
    const e = Math.min(s.total, s.chunk * 2) - 1;
    add((w, o) => w.fragment(url, sid, 0, e, s.total, { ...o, status: 413, received: null, extraResponse: [['BITS-Error-Code', '0x0']] }));
  }
  while (r < s.total) {
    const start = r;
    const end = Math.min(s.total, r + s.chunk) - 1;
    r = end + 1;
    const held = r;
    if (k === s.stuckFragment) {
      out.push({ build: (w, o) => unanswered(w.fragment(url, sid, start, end, s.total, { ...o, received: held })), drop: true, stuckMs: 100_000 });
      ping();
    }
    if (k === s.lostFragment) {
      add((w, o) => w.fragment(url, sid, start, end, s.total, { ...o, received: held }), true);
      ping();
      add((w, o) => w.fragment(url, sid, start, end, s.total, s.dup416 ? { ...o, status: 416, received: held } : { ...o, received: held }));
    } else {
      add((w, o) => w.fragment(url, sid, start, end, s.total, { ...o, received: held }));
    }
    k++;
  }
  for (let n = 0; n < s.close5xx; n++) add((w, o) => w.close(url, sid, { ...o, status: 503 }));
  if (s.lostClose) {
    add((w, o) => w.close(url, sid, o), true);
    ping();
    add((w, o) => (s.releasedAnswer === 200 ? w.close(url, sid, o) : w.close(url, sid, { ...o, status: 500, errorCode: '0x8020001F' })));
  } else {
    add((w, o) => w.close(url, sid, o));
  }
  return out;
}

type Timed = { at: number; order: number; run: (t: SessionTracker) => BitsEvent[] };

function startOf(o: Observation): ExchangeStart {
  const { id, connectionId, client, method, url, httpVersion, requestHeaders, startedAt } = o;
  return { id, connectionId, client, method, url, httpVersion, requestHeaders, startedAt };
}

describe('overlapping legitimate sessions (property)', () => {
  it('never produce an error-level violation; every session ends closed', () => {
    fc.assert(
      fc.property(fc.array(spec, { minLength: 2, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 64, maxLength: 64 }), (specs, durations) => {
        const w = new Wire();
        const base = w.clock;
        let nextConnection = 1;
        let d = 0;
        const timeline: Timed[] = [];
        specs.forEach((s, i) => {
          let at = base + s.start;
          let connection = nextConnection++;
          for (const step of stepsOf(s, i)) {
            const startedAt = at;
            const endedAt = startedAt + (step.stuckMs ?? durations[d++ % durations.length]!);
            const obs = step.build(w, { startedAt, endedAt, connectionId: connection });
            timeline.push({ at: startedAt, order: 2, run: (t) => t.begin(startOf(obs)) });
            timeline.push({ at: endedAt, order: 0, run: (t) => t.observe(obs) });
            if (step.drop) {
              const closing = connection;
              timeline.push({ at: endedAt, order: 1, run: (t) => t.connectionClosed({ connectionId: closing, at: endedAt }) });
              connection = nextConnection++;
            }
            // After a silent break the client gives up on its own timeout, long before the gateway does.
            at = (step.stuckMs ? startedAt + 20 : endedAt) + 1 + (durations[d++ % durations.length]! % 3);
          }
        });
        // Time order; at one instant, what ended (observation, then connection close) before what starts.
        timeline.sort((a, b) => a.at - b.at || a.order - b.order);
        const t = new SessionTracker();
        const events = timeline.flatMap((e) => e.run(t));
        const violations = events.flatMap((e) => (e.type === 'violation' ? [e.violation] : []));
        expect(violations.filter((v) => v.severity === 'error')).toEqual([]);
        expect(violations.filter((v) => v.severity !== 'info' && v.code !== 'server-error')).toEqual([]);
        const states = t.sessions().map((s) => s.state);
        expect(states).toEqual(specs.map(() => 'closed'));
      }),
      { numRuns: 100 },
    );
  });
});
