/**
 * One test per row of the lifecycle table (src/sessions/lifecycle.ts), for every (state,
 * answer) the row covers: the session is driven into the state through the tracker, the
 * packet is observed with an answer of that class, and the resulting state and lifecycle
 * findings must be the row's. A coverage test checks that every reachable combination has
 * exactly one row.
 */
import { describe, expect, it } from 'vitest';
import type { Observation } from '../../src/observation.js';
import { type AnswerClass, classifyAnswer } from '../../src/protocol/index.js';
import { LIFECYCLE, type LifecyclePacket, type LifecycleState, SessionTracker, transition, type BitsEvent } from '../../src/sessions/index.js';
import { LIFECYCLE_FINDINGS } from '../../src/sessions/rules/lifecycle-findings.js';
import { Wire } from './factory.js';

const URL_ = '/up/f.bin';
const SID = '{0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}';
const TIMEOUT = 60_000;
const LIFECYCLE_CODES = new Set(Object.keys(LIFECYCLE_FINDINGS));

/** Drives a fresh tracker to `state` for SID. */
function reach(state: LifecycleState): { t: SessionTracker; w: Wire } {
  const w = new Wire();
  const t = new SessionTracker({ sessionTimeoutMs: TIMEOUT });
  const steps: Observation[] = [];
  switch (state) {
    case 'unknown': break;
    case 'open': steps.push(w.create(URL_, SID)); break;
    case 'uploaded': steps.push(w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10)); break;
    case 'closing': steps.push(w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID, { status: 503 })); break;
    case 'closed': steps.push(w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID)); break;
    case 'cancelled': steps.push(w.create(URL_, SID), w.cancel(URL_, SID)); break;
    case 'failed': steps.push(w.create(URL_, SID), w.fragment(URL_, SID, 0, 4, 10, { status: 400, received: null, extraResponse: [['BITS-Error-Code', '0x80070057']] })); break;
    case 'expired': steps.push(w.create(URL_, SID), w.fragment(URL_, SID, 0, 4, 10)); break;
  }
  for (const o of steps) t.observe(o);
  if (state === 'expired') {
    t.expire(w.clock + TIMEOUT + 1);
    w.clock += TIMEOUT + 2;
  }
  expect(state === 'unknown' ? t.session(SID) : t.session(SID)?.state).toBe(state === 'unknown' ? undefined : state);
  return { t, w };
}

const ANSWER_STATUS: Record<AnswerClass, { status?: number; code?: string }> = {
  ok: { status: 200 },
  auth: { status: 401 },
  resync: { status: 416 },
  shrink: { status: 413 },
  retry: { status: 503 },
  'session-lost': { status: 500, code: '0x8020001F' },
  fatal: { status: 400, code: '0x80070057' },
  'no-answer': {},
};

/** The packet, answered with a response of class `answer`. */
function packetFor(w: Wire, packet: Exclude<LifecyclePacket, 'idle-timeout'>, answer: AnswerClass): Observation {
  const { status, code } = ANSWER_STATUS[answer];
  const extraResponse: [string, string][] = code ? [['BITS-Error-Code', code]] : [];
  if (answer === 'auth') extraResponse.push(['WWW-Authenticate', 'NTLM']);
  let obs: Observation;
  switch (packet) {
    case 'create-session': obs = w.create(URL_, SID, { status: status ?? 201, extraResponse }); break;
    case 'fragment': obs = w.fragment(URL_, SID, 0, 9, 10, { status: status ?? 200, received: answer === 'ok' ? 10 : answer === 'resync' ? 0 : null, extraResponse }); break;
    case 'close-session': obs = w.close(URL_, SID, { status: status ?? 200, ...(code ? { errorCode: code } : {}), extraResponse: answer === 'auth' ? extraResponse : [] }); break;
    case 'cancel-session': obs = w.cancel(URL_, SID, { status: status ?? 200, extraResponse }); break;
  }
  if (answer === 'no-answer') {
    delete obs.status;
    delete obs.responseHeaders;
    delete obs.respondedAt;
    obs.error = 'upstream-reset';
  }
  // The fixture answers what the row needs: check it with the one classifier.
  const ack = obs.responseHeaders?.find(([n]) => n === 'BITS-Error-Code')?.[1];
  expect(classifyAnswer(packet, obs.status, ack === undefined ? undefined : Number.parseInt(ack, 16)).class).toBe(answer);
  return obs;
}

function lifecycleCodes(events: BitsEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'violation' && LIFECYCLE_CODES.has(e.violation.code) ? [e.violation.code] : []));
}

/** What the row's packet does to the tracker: a packet observed, or (idle-timeout) the expiry sweep past the timeout. */
function happen(t: SessionTracker, w: Wire, packet: LifecyclePacket, answer: AnswerClass): BitsEvent[] {
  if (packet !== 'idle-timeout') return t.observe(packetFor(w, packet, answer));
  expect(answer).toBe('no-answer');
  w.clock += 2 * TIMEOUT;
  return t.expire(w.clock);
}

/** A Close-Session whose connection closed before any answer (the upstream went away). */
function unansweredClose(w: Wire): Observation {
  const o = w.close(URL_, SID);
  delete o.status;
  delete o.responseHeaders;
  o.error = 'upstream-closed';
  return o;
}

describe('lifecycle table: one test per row', () => {
  LIFECYCLE.forEach((row, i) => {
    it(`row ${i + 1}: ${row.states.join('|')} x ${row.packet} x ${row.answers.join('|')} -> ${row.next} [${row.findings.join(', ')}] (${row.why})`, () => {
      for (const state of row.states) {
        for (const answer of row.answers) {
          const { t, w } = reach(state);
          const before = t.session(SID);
          const events = happen(t, w, row.packet, answer);
          const after = t.session(SID);
          const what = `${state} x ${row.packet} x ${answer}`;
          switch (row.next) {
            case 'none': expect(after, what).toBeUndefined(); break;
            case 'same': expect(after?.state, what).toBe(before?.state); break;
            case 'progress': expect(after?.state, what).toBe(answer === 'ok' ? 'uploaded' : 'open'); break;
            default: expect(after?.state, what).toBe(row.next);
          }
          if (state === 'unknown' && row.packet !== 'create-session' && after) expect(after.adopted, what).toBe(true);
          expect(lifecycleCodes(events), what).toEqual([...row.findings]);
        }
      }
    });
  });

  it('has exactly one row for every reachable (state, packet, answer class)', () => {
    const states: LifecycleState[] = ['unknown', 'open', 'uploaded', 'closing', 'closed', 'cancelled', 'failed', 'expired'];
    const reachable: Record<LifecyclePacket, AnswerClass[]> = {
      'create-session': ['ok', 'auth', 'retry', 'session-lost', 'fatal', 'no-answer'],
      fragment: ['ok', 'auth', 'resync', 'shrink', 'retry', 'session-lost', 'fatal', 'no-answer'],
      'close-session': ['ok', 'auth', 'retry', 'session-lost', 'fatal', 'no-answer'],
      'cancel-session': ['ok', 'auth', 'retry', 'fatal', 'no-answer'],
      // The expiry sweep (§5 expired): no packet, so no answer.
      'idle-timeout': ['no-answer'],
    };
    const missing: string[] = [];
    for (const [packet, answers] of Object.entries(reachable) as [LifecyclePacket, AnswerClass[]][]) {
      // Create-Session always makes a new session; only a held session can idle out.
      for (const state of packet === 'create-session' ? ['unknown' as const] : packet === 'idle-timeout' ? states.filter((x) => x !== 'unknown') : states) {
        for (const answer of answers) {
          if (transition(state, packet, answer).why === 'not in the table') missing.push(`${state} x ${packet} x ${answer}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('close-after-end: a lost Close Ack vs a real second Close', () => {
  function closedOn(connection: number) {
    const w = new Wire('127.0.0.1', 1_700_000_000_000, 'files.example.com', connection);
    const t = new SessionTracker();
    for (const o of [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID)]) t.observe(o);
    return { t, w };
  }
  const severityOf = (events: BitsEvent[]) => events.flatMap((e) => (e.type === 'violation' ? [[e.violation.code, e.violation.severity]] : []));

  it('is info when the connection that carried the 2xx Ack closed right after it and the Close comes on another', () => {
    const { t, w } = closedOn(7);
    expect(t.connectionClosed({ connectionId: 7, at: w.clock })).toEqual([]);
    const retry = w.close(URL_, SID, { connectionId: 8, status: 500, errorCode: '0x8020001F' });
    expect(severityOf(t.observe(retry))).toEqual([['close-after-end', 'info']]);
    expect(t.session(SID)?.state).toBe('closed');
  });

  it('is an error on the same connection', () => {
    const { t, w } = closedOn(7);
    expect(severityOf(t.observe(w.close(URL_, SID)))).toEqual([['close-after-end', 'error']]);
  });

  it('is info on another connection while the first one looks open but carried nothing after the Ack (a path broken silently)', () => {
    const { t, w } = closedOn(7);
    expect(severityOf(t.observe(w.close(URL_, SID, { connectionId: 8 })))).toEqual([['close-after-end', 'info']]);
  });

  it('is an error when the first connection carried another request after the Ack (the client had it)', () => {
    const { t, w } = closedOn(7);
    t.observe(w.ping());
    t.connectionClosed({ connectionId: 7, at: w.clock });
    const events = t.observe(w.close(URL_, SID, { connectionId: 8 }));
    expect(severityOf(events)).toEqual([['close-after-end', 'error']]);
    expect(events.find((e) => e.type === 'violation')?.type === 'violation' && (events.find((e) => e.type === 'violation') as { violation: { message: string } }).violation.message)
      .toBe('Close-Session on a session already closed after connection 7 went on past its 2xx Close Ack (server answered 200)');
  });

  it('names how the Ack was lost: a closed connection', () => {
    const { t, w } = closedOn(7);
    t.connectionClosed({ connectionId: 7, at: w.clock });
    const v = t.observe(w.close(URL_, SID, { connectionId: 8 })).find((e) => e.type === 'violation');
    expect(v?.type === 'violation' && v.violation.message)
      .toBe('Close-Session resent on connection 8 after connection 7 closed right after its 2xx Close Ack (the Ack was lost; server answered 200): a legal retry');
  });
});

describe('a Close answered 5xx, then resent', () => {
  it('settles with no close-rejected when the resent Close commits; the 5xx stays a server-error warning', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const events = [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID, { status: 503 }), w.close(URL_, SID)].flatMap((o) => t.observe(o));
    expect(events.flatMap((e) => (e.type === 'violation' ? [[e.violation.code, e.violation.severity]] : []))).toEqual([['server-error', 'warning']]);
    expect(t.session(SID)?.state).toBe('closed');
  });

  it('after a Close that got no answer, a resent Close answered 0x8020001F is unverifiable (warning), not a rejection', () => {
    const w = new Wire();
    const t = new SessionTracker();
    for (const o of [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10)]) t.observe(o);
    expect(t.observe(unansweredClose(w)).filter((e) => e.type === 'violation')).toEqual([]);
    const v = t.observe(w.close(URL_, SID, { status: 500, errorCode: '0x8020001F' })).flatMap((e) => (e.type === 'violation' ? [e.violation] : []));
    expect(v.map((x) => [x.code, x.severity, x.message])).toEqual([['close-rejected', 'warning',
      'Close-Session answered 500 0x8020001F BG_E_SESSION_NOT_FOUND after an earlier Close got no answer: the server had released the session, so the first Close may have committed it; unverifiable']]);
  });

  it('after a Close answered 503 and a resent Close that got no answer, a third answered 0x8020001F is unverifiable (warning)', () => {
    const w = new Wire();
    const t = new SessionTracker();
    for (const o of [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID, { status: 503 })]) t.observe(o);
    expect(t.observe(unansweredClose(w)).filter((e) => e.type === 'violation')).toEqual([]);
    const v = t.observe(w.close(URL_, SID, { status: 500, errorCode: '0x8020001F' })).flatMap((e) => (e.type === 'violation' ? [e.violation] : []));
    expect(v.map((x) => [x.code, x.severity, x.message])).toEqual([['close-rejected', 'warning',
      'Close-Session answered 500 0x8020001F BG_E_SESSION_NOT_FOUND after an earlier Close got no answer: the server had released the session, so the unanswered Close may have committed it; unverifiable']]);
  });

  it('after a Close answered 503, a resent Close answered 0x8020001F is unverifiable (warning), by the same rule as after no answer', () => {
    const w = new Wire();
    const t = new SessionTracker();
    for (const o of [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID, { status: 503 })]) t.observe(o);
    const v = t.observe(w.close(URL_, SID, { status: 500, errorCode: '0x8020001F' })).flatMap((e) => (e.type === 'violation' ? [e.violation] : []));
    expect(v.map((x) => [x.code, x.severity, x.message])).toEqual([['close-rejected', 'warning',
      'Close-Session answered 500 0x8020001F BG_E_SESSION_NOT_FOUND after an earlier Close got 503: the server had released the session, so the first Close may have committed it; unverifiable']]);
    expect(t.stats().violationsByCode['close-rejected']).toBe(1);
  });

  it('after a Close answered 503, a resent Close answered a final error other than 0x8020001F is close-rejected (error)', () => {
    const w = new Wire();
    const t = new SessionTracker();
    for (const o of [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID, { status: 503 })]) t.observe(o);
    const v = t.observe(w.close(URL_, SID, { status: 400, errorCode: '0x80070057' })).flatMap((e) => (e.type === 'violation' ? [e.violation] : []));
    expect(v.map((x) => [x.code, x.severity, x.message])).toEqual([['close-rejected', 'error',
      'Close-Session answered 400 0x80070057 E_INVALIDARG after an earlier 503: the commit was never confirmed']]);
  });

  it('raises close-rejected when the session expires still unconfirmed', () => {
    const w = new Wire();
    const t = new SessionTracker({ sessionTimeoutMs: TIMEOUT });
    for (const o of [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID, { status: 503 })]) t.observe(o);
    const events = t.expire(w.clock + TIMEOUT + 1);
    expect(events.map((e) => e.type)).toEqual(['violation', 'session-ended']);
    const v = events[0]!.type === 'violation' ? events[0]!.violation : undefined;
    expect([v?.code, v?.severity, v?.message]).toEqual(['close-rejected', 'error',
      'Close-Session answered 503 and no resent Close was confirmed before the session expired: the commit was never confirmed']);
    expect(t.recentViolations()[0]?.code).toBe('close-rejected');
    expect(t.session(SID)?.violations).toContain('close-rejected');
  });
});

describe('expiry is a row of the table (§5 expired)', () => {
  it('expires live sessions, raises close-rejected for a closing one, leaves ended ones alone', () => {
    expect(transition('open', 'idle-timeout', 'no-answer')).toMatchObject({ next: 'expired', findings: [] });
    expect(transition('uploaded', 'idle-timeout', 'no-answer')).toMatchObject({ next: 'expired', findings: [] });
    expect(transition('closing', 'idle-timeout', 'no-answer')).toMatchObject({ next: 'expired', findings: ['close-rejected'] });
    for (const s of ['closed', 'cancelled', 'failed', 'expired'] as const) expect(transition(s, 'idle-timeout', 'no-answer')).toMatchObject({ next: 'same', findings: [] });
  });
});

describe('a Close on an expired session, resent: one client mistake, one close-after-expiry', () => {
  const verdicts = (events: BitsEvent[]) => events.flatMap((e) => (e.type === 'violation' ? [[e.violation.code, e.violation.severity]] : []));
  for (const first of ['503', 'no answer'] as const) {
    it(`flags close-after-expiry once when the first Close got ${first} and the resent one 500 + 0x8020001F`, () => {
      const { t, w } = reach('expired');
      const firstClose = first === '503' ? w.close(URL_, SID, { status: 503 }) : packetFor(w, 'close-session', 'no-answer');
      const events = [...t.observe(firstClose), ...t.observe(w.close(URL_, SID, { status: 500, errorCode: '0x8020001F' }))];
      // The session had 5 of 10 bytes when it expired: close-incomplete, also once.
      expect(verdicts(events).filter(([code]) => code !== 'server-error')).toEqual([['close-after-expiry', 'warning'], ['close-incomplete', 'error']]);
      expect(t.stats().violationsByCode['close-after-expiry']).toBe(1);
      expect(t.session(SID)?.violations.filter((c) => c === 'close-after-expiry')).toEqual(['close-after-expiry']);
      expect(t.session(SID)?.state).toBe('expired');
    });
  }

  it('judges a Close committed after a fatal Close answer only once (no second close-incomplete)', () => {
    const w = new Wire();
    const t = new SessionTracker();
    for (const o of [w.create(URL_, SID), w.fragment(URL_, SID, 0, 4, 10)]) t.observe(o);
    const first = t.observe(w.close(URL_, SID, { status: 400, errorCode: '0x80070057' }));
    expect(verdicts(first)).toEqual([['close-incomplete', 'error'], ['close-rejected', 'error']]);
    const again = t.observe(w.close(URL_, SID));
    expect(verdicts(again)).toEqual([]);
    expect(t.session(SID)?.state).toBe('closed');
  });
});
