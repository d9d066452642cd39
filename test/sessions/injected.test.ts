import { describe, expect, it } from 'vitest';
import type { InjectedFault, Observation } from '../../src/observation.js';
import type { BitsEvent } from '../../src/sessions/events.js';
import { SessionTracker } from '../../src/sessions/tracker.js';
import { Wire } from './factory.js';

const SID = '{5E53C221-F2D6-4BF2-B994-1DC43CEACA8D}';
const URL = '/up/f.bin';

function mark(action: InjectedFault['action'], rule: string): InjectedFault {
  return { id: 'inj-1', rule, action };
}

/** An answer the gateway made in the server's place: never forwarded, so no upstream connection. */
function injectedAnswer(obs: Observation, rule: string, action: InjectedFault['action'] = 'answer'): Observation {
  const { upstreamConnectionId: _drop, ...rest } = obs;
  return { ...rest, responder: 'gateway', injected: mark(action, rule) };
}

function run(tracker: SessionTracker, list: Array<Observation | { closed: number }>): BitsEvent[] {
  const out: BitsEvent[] = [];
  for (const o of list) {
    if ('closed' in o) out.push(...tracker.connectionClosed({ connectionId: o.closed, at: 0 }));
    else out.push(...tracker.observe(o));
  }
  return out;
}

const violations = (events: BitsEvent[]) => events.flatMap((e) => (e.type === 'violation' ? [`${e.violation.code}:${e.violation.severity}`] : []));

describe('tracker: injected faults are never blamed', () => {
  it('an injected 503 on Close, then the resent Close: no close-after-end, the session ends closed', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const events = run(t, [
      w.create(URL, SID),
      w.fragment(URL, SID, 0, 9, 10),
      injectedAnswer(w.close(URL, SID, { status: 503 }), 'close: status=503 times=1'),
      w.close(URL, SID),
    ]);
    expect(violations(events)).toEqual([]);
    expect(t.session(SID)!.state).toBe('closed');
    const fault = events.filter((e) => e.type === 'fault-injected');
    expect(fault).toEqual([{ seq: expect.any(Number), type: 'fault-injected', time: expect.any(Number), exchange: 3, injectionId: 'inj-1', rule: 'close: status=503 times=1', action: 'answer', sessionId: SID }]);
    const timeline = t.session(SID)!.timeline;
    expect(timeline.map((p) => p.injected ?? false)).toEqual([false, false, true, false]);
  });

  it('an injected answer never changes what the server holds: 0x8020001F does not fail the session, 416 does not move R', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const lost = w.fragment(URL, SID, 10, 19, 30, { status: 500, received: null });
    const events = run(t, [
      w.create(URL, SID),
      w.fragment(URL, SID, 0, 9, 30),
      injectedAnswer({ ...lost, responseHeaders: [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', SID], ['BITS-Error-Code', '0x8020001F'], ['BITS-Error-Context', '0x5'], ['Content-Length', '0']] }, 'fragment: forget-session', 'forget-session'),
      injectedAnswer(w.fragment(URL, SID, 10, 19, 30, { status: 416, received: 3 }), 'fragment: status=416 range=3'),
    ]);
    expect(violations(events)).toEqual([]);
    const s = t.session(SID)!;
    expect(s.state).toBe('open');
    expect(s.ackedBytes).toBe(10);
    expect(s.relayedBytes).toBe(10);
    expect(s.errorCodes).toEqual([]);
    // Shown as the client saw it.
    expect(s.timeline[2]).toMatchObject({ status: 500, errorCode: '0x8020001F BG_E_SESSION_NOT_FOUND', injected: true });
  });

  it("the client's reaction is judged normally: a gap after an injected answer is still a gap", () => {
    const w = new Wire();
    const t = new SessionTracker();
    const events = run(t, [
      w.create(URL, SID),
      injectedAnswer(w.fragment(URL, SID, 0, 9, 30, { status: 503, received: null }), 'fragment#1: status=503'),
      w.fragment(URL, SID, 20, 29, 30, { status: 416, received: 0 }),
    ]);
    expect(violations(events)).toEqual(['fragment-gap:warning']);
  });

  it('drop-ack on Close, then the Close resent on a new connection: nothing above info', () => {
    const w1 = new Wire('127.0.0.1', 1_700_000_000_000, 'files.example.com', 1);
    const t = new SessionTracker();
    const dropped: Observation = { ...w1.close(URL, SID), error: 'injected-drop-ack', injected: mark('drop-ack', 'close: drop-ack'), upstreamConnectionId: 1 };
    const w2 = new Wire('127.0.0.1', w1.clock + 10, 'files.example.com', 2);
    const resent = { ...w2.close(URL, SID), id: 100 };
    const events = run(t, [w1.create(URL, SID), w1.fragment(URL, SID, 0, 9, 10), dropped, { closed: 1 }, resent]);
    expect(violations(events).filter((v) => !v.endsWith(':info'))).toEqual([]);
    expect(t.session(SID)!.state).toBe('closed');
  });

  it('drop-ack on a Fragment, then the fragment resent: nothing above info', () => {
    const w1 = new Wire('127.0.0.1', 1_700_000_000_000, 'files.example.com', 1);
    const t = new SessionTracker();
    const dropped: Observation = { ...w1.fragment(URL, SID, 0, 9, 20), error: 'injected-drop-ack', injected: mark('drop-ack', 'fragment: drop-ack'), upstreamConnectionId: 1 };
    const w2 = new Wire('127.0.0.1', w1.clock + 10, 'files.example.com', 2);
    const events = run(t, [
      w1.create(URL, SID), dropped, { closed: 1 },
      { ...w2.fragment(URL, SID, 0, 9, 20, { status: 416, received: 10 }), id: 100 },
      { ...w2.fragment(URL, SID, 10, 19, 20), id: 101 },
      { ...w2.close(URL, SID), id: 102 },
    ]);
    expect(violations(events).filter((v) => !v.endsWith(':info'))).toEqual([]);
    expect(t.session(SID)!.state).toBe('closed');
  });

  it('a reset before forwarding leaves a Close unjudged: no close-rejected when the session later expires', () => {
    const w = new Wire();
    const t = new SessionTracker({ sessionTimeoutMs: 1000 });
    const { upstreamConnectionId: _u, status: _s, responseHeaders: _h, respondedAt: _r, ...reset } = w.close(URL, SID);
    const events = run(t, [w.create(URL, SID), w.fragment(URL, SID, 0, 9, 10), { ...reset, responder: undefined, error: 'injected-reset', injected: mark('reset-after', 'close: reset-after=0') } as Observation]);
    events.push(...t.expire(w.clock + 5000));
    expect(violations(events)).toEqual([]);
  });

  it('the exchange rules do not judge a packet the server never saw: no host-id-ignored for an injected answer', () => {
    const w = new Wire();
    const t = new SessionTracker();
    // Sent past the issued BITS-Host-Id: judged when forwarded (rules.test.ts), not when the gateway answered it.
    const events = run(t, [
      w.create(URL, SID, { hostId: 'node7.farm' }),
      injectedAnswer(w.fragment(URL, SID, 0, 9, 10, { status: 503, received: null }), 'fragment: status=503'),
    ]);
    expect(violations(events)).toEqual([]);
  });

  it('marks a non-BITS request too', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const events = run(t, [{ ...w.exchange('GET', '/x', [], 200, []), injected: mark('delay', 'any: delay=1s') }]);
    expect(events.map((e) => e.type)).toEqual(['packet', 'fault-injected']);
  });
});
