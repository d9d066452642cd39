/**
 * The client conformance judge on hand-built observations: for each case, the recovery a
 * Windows client performs passes, and the wrong move fails with a reason naming both.
 */
import { describe, expect, it } from 'vitest';
import { clientCase, type ClientCaseId } from '../../../src/conformance/client/cases.js';
import { judgeCase, type CaseEvidence } from '../../../src/conformance/client/judge.js';
import type { InjectedFault, Observation } from '../../../src/observation.js';
import type { Violation } from '../../../src/sessions/events.js';
import { Wire } from '../../sessions/factory.js';

const SID = '{11111111-1111-1111-1111-111111111111}';
const SID2 = '{22222222-2222-2222-2222-222222222222}';
const URL = '/uploads/f.bin';
const T = 10_000;

function inj(action: InjectedFault['action']): { injected: InjectedFault } {
  return { injected: { id: 'inj-1', rule: 'test rule', action } };
}

function judge(id: ClientCaseId, exchanges: Observation[], o: Partial<CaseEvidence> = {}) {
  return judgeCase({ case: clientCase(id), sessions: [SID], exchanges, violations: [], settled: false, ...o });
}

/** Fragments of 4096 bytes from `from` to the end, all answered 200. */
function rest(w: Wire, sid: string, from: number, size = 4096, url = URL): Observation[] {
  const out: Observation[] = [];
  for (let s = from; s < T; s += size) out.push(w.fragment(url, sid, s, Math.min(T, s + size) - 1, T));
  return out;
}

const SESSION_LOST: [string, string][] = [['BITS-Error-Code', '0x8020001F'], ['BITS-Error-Context', '0x5']];

describe('every case: the Close rules of §5', () => {
  it('fails a Close-Session before the Ack of the last byte reached the client', () => {
    const w = new Wire();
    const r = judge('baseline', [w.create(URL, SID), w.fragment(URL, SID, 0, 4095, T), w.close(URL, SID)]);
    expect(r).toEqual({ verdict: 'fail', reason: 'expected Close-Session only after the Ack of the last byte (§5); seen Close-Session when 4096 of 10000 bytes were acknowledged to the client' });
  });

  it('counts a final Ack the gateway dropped as not received: a Close right after it is premature', () => {
    const w = new Wire();
    const r = judge('lost-fragment-ack', [w.create(URL, SID), w.fragment(URL, SID, 0, T - 1, T, inj('drop-ack')), w.close(URL, SID)]);
    expect(r.verdict).toBe('fail');
    expect(r.reason).toBe('expected Close-Session only after the Ack of the last byte (§5); seen Close-Session when 0 of 10000 bytes were acknowledged to the client');
  });

  it('fails a Close-Session of an upload-reply job before the GET of its reply URL', () => {
    const w = new Wire();
    const r = judge('baseline', [w.create('/reply/f.bin', SID), w.fragment('/reply/f.bin', SID, 0, T - 1, T, { replyUrl: 'http://gw/reply/abc' }), w.close('/reply/f.bin', SID)]);
    expect(r).toEqual({ verdict: 'fail', reason: 'expected a GET of BITS-Reply-URL /reply/abc before Close-Session (§5); seen Close-Session without it' });
  });
});

describe('baseline', () => {
  it('passes a clean upload that closes after the last Ack', () => {
    const w = new Wire();
    expect(judge('baseline', w.upload(URL, SID, T, 4096))).toEqual({ verdict: 'pass', reason: 'a clean upload, then closed after the last Ack' });
  });

  it('fails on a warning the tracker raised for the session', () => {
    const w = new Wire();
    const v: Violation = { code: 'fragment-gap', severity: 'warning', sessionId: SID, message: 'Fragment starts at 4096 but the server holds 0', explain: '', exchanges: [3], time: 0 };
    const r = judge('baseline', w.upload(URL, SID, T, 4096), { violations: [v] });
    expect(r).toEqual({ verdict: 'fail', reason: 'expected a clean upload; the tracker reported fragment-gap (warning): Fragment starts at 4096 but the server holds 0' });
  });

  it('is pending while the upload runs, a fail once the client went quiet, incomplete when the suite stops', () => {
    const w = new Wire();
    const ex = [w.create(URL, SID), w.fragment(URL, SID, 0, 4095, T)];
    expect(judge('baseline', ex).verdict).toBe('pending');
    expect(judge('baseline', ex, { settled: 'timeout' })).toEqual({
      verdict: 'fail', reason: 'a clean upload, but the upload never ended (expected Close-Session answered 2xx after the last Ack)',
    });
    expect(judge('baseline', ex, { settled: 'stopped' })).toEqual({ verdict: 'incomplete', reason: 'a clean upload; the suite stopped before the upload ended' });
  });
});

describe('lost-fragment-ack', () => {
  it('passes a resend of the same fragment on the same session', () => {
    const w = new Wire();
    const r = judge('lost-fragment-ack', [w.create(URL, SID), w.fragment(URL, SID, 0, 4095, T, inj('drop-ack')), w.ping(), ...rest(w, SID, 0), w.close(URL, SID)]);
    expect(r).toEqual({ verdict: 'pass', reason: 'resent Fragment 0-4095/10000 after the lost Ack, then closed after the last Ack' });
  });

  it('fails a client that skips ahead instead of resending', () => {
    const w = new Wire();
    const r = judge('lost-fragment-ack', [w.create(URL, SID), w.fragment(URL, SID, 0, 4095, T, inj('drop-ack')), w.fragment(URL, SID, 4096, 8191, T, { status: 416, received: 4096 })]);
    expect(r).toEqual({ verdict: 'fail', reason: 'expected Fragment 0-4095/10000 resent on the same session after the lost Ack; seen Fragment 4096-8191/10000' });
  });

  it('fails a client that gives up (quiet past the case timeout), and says so', () => {
    const w = new Wire();
    const r = judge('lost-fragment-ack', [w.create(URL, SID), w.fragment(URL, SID, 0, 4095, T, inj('drop-ack'))], { settled: 'timeout' });
    expect(r).toEqual({ verdict: 'fail', reason: 'expected Fragment 0-4095/10000 resent on the same session after the lost Ack; seen nothing more from the client within the case timeout' });
  });

  it('is incomplete when the fault never fired', () => {
    const w = new Wire();
    expect(judge('lost-fragment-ack', [w.create(URL, SID)], { settled: 'stopped' })).toEqual({ verdict: 'incomplete', reason: 'the fault (fragment#1: drop-ack times=1) never fired' });
  });
});

describe('resync-416', () => {
  const start = (w: Wire) => [w.create(URL, SID), w.fragment(URL, SID, 0, 4095, T), w.fragment(URL, SID, 4096, 8191, T, { status: 416, received: 4096, ...inj('answer') })];

  it('passes a resume at BITS-Received-Content-Range', () => {
    const w = new Wire();
    const r = judge('resync-416', [...start(w), ...rest(w, SID, 4096), w.close(URL, SID)]);
    expect(r).toEqual({ verdict: 'pass', reason: 'resumed at 4096 after the 416, then closed after the last Ack' });
  });

  it('fails a restart at byte 0', () => {
    const w = new Wire();
    const r = judge('resync-416', [...start(w), w.fragment(URL, SID, 0, 4095, T, { received: 4096 })]);
    expect(r).toEqual({ verdict: 'fail', reason: 'expected the next Fragment at 4096 (BITS-Received-Content-Range of the 416); seen Fragment 0-4095/10000' });
  });

  it('is incomplete, with a hint, when the upload had a single fragment', () => {
    const w = new Wire();
    const r = judge('resync-416', w.upload(URL, SID, 3000, 4096));
    expect(r).toEqual({ verdict: 'incomplete', reason: 'the fault (fragment#2: status=416 range=server times=1) never fired: the upload needs at least 2 fragments: use a larger file or smaller fragments' });
  });
});

describe('shrink-413', () => {
  it('passes smaller fragments after the 413', () => {
    const w = new Wire();
    const r = judge('shrink-413', [w.create(URL, SID), w.fragment(URL, SID, 0, 4095, T, { status: 413, received: null, ...inj('answer') }), ...rest(w, SID, 0, 1024), w.close(URL, SID)]);
    expect(r).toEqual({ verdict: 'pass', reason: 'sent 1024-byte fragments after the 413 on 4096 bytes, then closed after the last Ack' });
  });

  it('fails the same size again', () => {
    const w = new Wire();
    const r = judge('shrink-413', [w.create(URL, SID), w.fragment(URL, SID, 0, 4095, T, { status: 413, received: null, ...inj('answer') }), w.fragment(URL, SID, 0, 4095, T)]);
    expect(r).toEqual({ verdict: 'fail', reason: 'expected a Fragment smaller than the refused 4096 bytes after the 413; seen Fragment 0-4095/10000 (4096 bytes)' });
  });
});

describe('session-lost', () => {
  const lost = (w: Wire) => [
    w.create(URL, SID), w.fragment(URL, SID, 0, 4095, T),
    w.fragment(URL, SID, 4096, 8191, T, { status: 500, received: null, extraResponse: SESSION_LOST, ...inj('forget-session') }),
  ];

  it('passes a new Create-Session and a whole upload on it', () => {
    const w = new Wire();
    const r = judge('session-lost', [...lost(w), w.create(URL, SID2), ...rest(w, SID2, 0), w.close(URL, SID2)], { sessions: [SID, SID2] });
    expect(r).toEqual({ verdict: 'pass', reason: 'started again with Create-Session after 0x8020001F on Fragment 4096-8191/10000, then closed after the last Ack' });
  });

  it('fails a client that keeps sending fragments on the lost session', () => {
    const w = new Wire();
    const r = judge('session-lost', [...lost(w), w.fragment(URL, SID, 4096, 8191, T, { status: 500, received: null, extraResponse: SESSION_LOST, ...inj('forget-session') })]);
    expect(r).toEqual({ verdict: 'fail', reason: 'expected a new Create-Session after 0x8020001F; seen Fragment 4096-8191/10000 on the lost session' });
  });

  it('fails a client that gives up', () => {
    const w = new Wire();
    const r = judge('session-lost', lost(w), { settled: 'timeout' });
    expect(r).toEqual({ verdict: 'fail', reason: 'expected a new Create-Session after 0x8020001F; seen nothing more from the client within the case timeout' });
  });
});

describe('lost-close-ack', () => {
  it('passes a resent Close (answered 0x8020001F: the first one took)', () => {
    const w = new Wire();
    const r = judge('lost-close-ack', [w.create(URL, SID), ...rest(w, SID, 0), w.close(URL, SID, inj('drop-ack')), w.close(URL, SID, { status: 500, errorCode: '0x8020001F' })]);
    expect(r).toEqual({ verdict: 'pass', reason: 'resent Close-Session after the lost Ack (answered 500 0x8020001F), then closed after the last Ack' });
  });

  it('fails a client that never resends', () => {
    const w = new Wire();
    const r = judge('lost-close-ack', [w.create(URL, SID), ...rest(w, SID, 0), w.close(URL, SID, inj('drop-ack'))], { settled: 'timeout' });
    expect(r).toEqual({ verdict: 'fail', reason: 'expected Close-Session resent after the lost Ack; seen nothing more from the client within the case timeout' });
  });
});

describe('close-5xx and close-4xx', () => {
  it('close-5xx passes a resent Close', () => {
    const w = new Wire();
    const r = judge('close-5xx', [w.create(URL, SID), ...rest(w, SID, 0), w.close(URL, SID, { status: 500, errorCode: '0x80004005', ...inj('answer') }), w.close(URL, SID)]);
    expect(r).toEqual({ verdict: 'pass', reason: 'resent Close-Session after the 500 0x80004005, then closed after the last Ack' });
  });

  it('close-5xx fails a client that takes the 5xx as final', () => {
    const w = new Wire();
    const r = judge('close-5xx', [w.create(URL, SID), ...rest(w, SID, 0), w.close(URL, SID, { status: 500, errorCode: '0x80004005', ...inj('answer') })], { settled: 'timeout' });
    expect(r).toEqual({ verdict: 'fail', reason: 'expected Close-Session resent after the 500 0x80004005; seen nothing more from the client within the case timeout' });
  });

  it('close-4xx passes a client that does not resend', () => {
    const w = new Wire();
    const r = judge('close-4xx', [w.create(URL, SID), ...rest(w, SID, 0), w.close(URL, SID, { status: 403, errorCode: '0x80070005', ...inj('answer') })]);
    expect(r).toEqual({ verdict: 'pass', reason: 'did not resend Close-Session after the final 403 0x80070005' });
  });

  it('close-4xx fails a resent Close', () => {
    const w = new Wire();
    const r = judge('close-4xx', [w.create(URL, SID), ...rest(w, SID, 0), w.close(URL, SID, { status: 403, errorCode: '0x80070005', ...inj('answer') }), w.close(URL, SID)]);
    expect(r).toEqual({ verdict: 'fail', reason: 'expected no resend after the final 403 0x80070005 Close Ack; seen Close-Session' });
  });
});

describe('reply', () => {
  const R = '/reply/f.bin';
  it('passes a GET of the reply URL before Close', () => {
    const w = new Wire();
    expect(judge('reply', w.upload(R, SID, T, 4096, 'http://gw/reply/abc'))).toEqual({ verdict: 'pass', reason: 'fetched BITS-Reply-URL before Close-Session, then closed after the last Ack' });
  });

  it('is incomplete on a plain upload (no BITS-Reply-URL), naming what to do', () => {
    const w = new Wire();
    expect(judge('reply', w.upload(URL, SID, T, 4096))).toEqual({
      verdict: 'incomplete',
      reason: 'expected an upload-reply job (a final Ack with BITS-Reply-URL); seen none: upload to a URL under the reply prefix (e.g. /reply/) so the server answers with BITS-Reply-URL',
    });
  });
});
