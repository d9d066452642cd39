/**
 * close-while-busy against a request the client abandoned (src/sessions/close-overlap.ts).
 * A Fragment in flight on connection X when X breaks silently (no FIN: the gateway still
 * holds the exchange open, waiting for its body) is not "outstanding" for the client: it
 * reconnected on Y and resent. Once the server acknowledged, on another connection and for a
 * request begun after it, every byte the stale request carries, the Close on Y races nothing.
 * A Close racing a request the client did not move on from is still close-while-busy.
 */
import { describe, expect, it } from 'vitest';
import type { ExchangeStart, Observation } from '../../src/observation.js';
import { SessionTracker, type BitsEvent } from '../../src/sessions/index.js';
import { Wire } from './factory.js';

const URL_ = '/up/f.bin';
const SID = '{0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}';
const X = 1;
const Y = 2;

const startOf = (o: Observation): ExchangeStart => {
  const { id, connectionId, client, method, url, httpVersion, requestHeaders, startedAt } = o;
  return { id, connectionId, client, method, url, httpVersion, requestHeaders, startedAt };
};
const above = (events: BitsEvent[]) => events.flatMap((e) => (e.type === 'violation' && e.violation.severity !== 'info' ? [e.violation.code] : []));
const all = (events: BitsEvent[]) => events.flatMap((e) => (e.type === 'violation' ? [[e.violation.code, e.violation.severity]] : []));

/** A request that starts now and ends (is given up on) `ms` later, without moving the wire's clock past its start. */
function stale(w: Wire, build: (o: { startedAt: number; endedAt: number }) => Observation, ms: number): Observation {
  const at = w.clock;
  const o = build({ startedAt: at, endedAt: at + ms });
  w.clock = at + 1;
  return o;
}

/** Feeds as the gateway does: begin at the head, observe at the end. */
function run(t: SessionTracker, o: Observation): BitsEvent[] {
  return [...t.begin(startOf(o)), ...t.observe(o)];
}

/** The stale request's late end: the gateway gave up on it (no answer reached the client). */
function aborted(o: Observation, endedAt: number): Observation {
  const copy = { ...o, endedAt, error: 'client-aborted', requestBodyBytes: 2 };
  delete copy.status;
  delete copy.respondedAt;
  delete copy.responseHeaders;
  return copy;
}

describe('close-while-busy: a request abandoned on a silently broken connection', () => {
  function brokenThenResent(live: boolean) {
    const w = new Wire();
    const t = new SessionTracker();
    const events: BitsEvent[] = [];
    events.push(...run(t, w.create(URL_, SID, { connectionId: X })), ...run(t, w.fragment(URL_, SID, 0, 4, 10, { connectionId: X })));
    // Fragment 5-9 on X: head and part of the body arrive, then X goes silent (no FIN).
    const lost = stale(w, (o) => w.fragment(URL_, SID, 5, 9, 10, { connectionId: X, ...o }), 120_000);
    if (live) events.push(...t.begin(startOf(lost)));
    w.clock += 10;
    // The client reconnects on Y, resends the fragment (answered 200, R = T), and closes.
    events.push(...run(t, w.fragment(URL_, SID, 5, 9, 10, { connectionId: Y })));
    events.push(...run(t, w.close(URL_, SID, { connectionId: Y })));
    return { t, w, lost, events };
  }

  for (const live of [true, false]) {
    it(`is not flagged once the server acknowledged the stale range on another connection (${live ? 'live, through begin()' : 'replay, no begin()'})`, () => {
      const { t, lost, events } = brokenThenResent(live);
      expect(all(events)).toEqual([]);
      expect(t.session(SID)?.state).toBe('closed');
      // The gateway gives up on X much later (body timeout or reset): still nothing above info.
      const late = t.observe(aborted(lost, lost.endedAt));
      expect(above(late)).toEqual([]);
      expect(t.session(SID)?.violations).toEqual([]);
      expect(t.stats().violationsByCode).toEqual({});
    });
  }

  it('is flagged when the resend on another connection covers only part of the stale range', () => {
    const w = new Wire();
    const t = new SessionTracker();
    run(t, w.create(URL_, SID, { connectionId: X }));
    const lost = stale(w, (o) => w.fragment(URL_, SID, 0, 9, 10, { connectionId: X, ...o }), 120_000);
    t.begin(startOf(lost));
    w.clock += 10;
    expect(all(run(t, w.fragment(URL_, SID, 0, 4, 10, { connectionId: Y })))).toEqual([]);
    const close = w.close(URL_, SID, { connectionId: Y });
    const events = run(t, close);
    expect(above(events)).toEqual(['close-while-busy', 'close-incomplete']);
    const busy = events.find((e) => e.type === 'violation' && e.violation.code === 'close-while-busy');
    expect(busy?.type === 'violation' && busy.violation.exchanges).toEqual([close.id, lost.id]);
  });

  it('is flagged when a Close on Y races a Fragment still being sent on X and the client did not move on', () => {
    const w = new Wire();
    const t = new SessionTracker();
    run(t, w.create(URL_, SID, { connectionId: X }));
    run(t, w.fragment(URL_, SID, 0, 4, 10, { connectionId: X }));
    const sending = stale(w, (o) => w.fragment(URL_, SID, 5, 9, 10, { connectionId: X, ...o }), 50);
    t.begin(startOf(sending));
    const close = w.close(URL_, SID, { connectionId: Y, startedAt: sending.startedAt + 10, endedAt: sending.startedAt + 20 });
    const events = [...t.begin(startOf(close)), ...t.observe(close), ...t.observe(sending)];
    expect(above(events)).toEqual(['close-while-busy', 'close-incomplete']);
    expect(t.stats().violationsByCode['close-while-busy']).toBe(1);
  });

  it('is flagged when a duplicate on Y was answered 2xx but the server holds nothing the stale request carries', () => {
    const w = new Wire();
    const t = new SessionTracker();
    run(t, w.create(URL_, SID, { connectionId: X }));
    run(t, w.fragment(URL_, SID, 0, 4, 10, { connectionId: X }));
    const sending = stale(w, (o) => w.fragment(URL_, SID, 5, 9, 10, { connectionId: X, ...o }), 100);
    t.begin(startOf(sending));
    w.clock += 5;
    // A second, concurrent stream resends bytes the server already holds: R stays 5.
    run(t, w.fragment(URL_, SID, 0, 4, 10, { connectionId: Y, received: 5 }));
    const close = w.close(URL_, SID, { connectionId: Y, startedAt: w.clock, endedAt: w.clock + 1 });
    const events = [...t.begin(startOf(close)), ...t.observe(close), ...t.observe(sending)];
    expect(above(events)).toEqual(['close-while-busy', 'close-incomplete']);
  });
});
