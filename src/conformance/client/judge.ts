/**
 * The judge of the client conformance suite. Pure: the case and what the gateway saw of its
 * session(s) go in, a verdict with a one-line reason comes out. No clock, no I/O; whether
 * more traffic may still come is told by the caller (`settled`).
 *
 * Theory of operation. The exchanges are turned into the client's view (client-view.ts:
 * what answer, if any, reached the client, classified by src/protocol/answer.ts). Then:
 * 1. the two Close rules of §5 hold in every case: no Close-Session before the Ack of the
 *    last byte reached the client, none before it fetched an upload-reply's reply;
 * 2. the case's fault is found (the first injected exchange) and the client's next move on
 *    that session is compared with what the reference says a Windows client does;
 * 3. the upload must then end: a Close-Session answered 2xx after every byte was
 *    acknowledged (on the restarted session for `session-lost`).
 * A wrong move is a `fail` at once. A missing move is `pending` until the caller settles
 * the case: `timeout` (the client went quiet) makes it a `fail`, `stopped` (the suite ended)
 * an `incomplete`. `incomplete` also means the case could not run (the fault never fired).
 */
import type { Observation } from '../../observation.js';
import { sessionIdKey } from '../../protocol/index.js';
import type { Violation } from '../../sessions/events.js';
import type { ClientCase } from './cases.js';
import { clientStep, describeAnswer, describeStep, pathOf, type ClientStep } from './client-view.js';

export type Verdict = 'pass' | 'fail' | 'incomplete';

export interface CaseEvidence {
  case: ClientCase;
  /** Session ids of the case in order: the one it was assigned, then any restart after 0x8020001F. */
  sessions: string[];
  /** Every exchange attributed to the case (its sessions' packets, the reply GET), in start order. */
  exchanges: Observation[];
  /** The tracker's violations on the case's sessions. */
  violations: Violation[];
  /** false: the client may still send; `timeout`: it has been quiet for the case timeout; `stopped`: the suite ended. */
  settled: false | 'timeout' | 'stopped';
}

export interface Judgement {
  /** `pending`: no verdict yet; the caller asks again after more traffic or once settled. */
  verdict: Verdict | 'pending';
  /** One line naming the expected and the seen behaviour. */
  reason: string;
}

type Recovery =
  | { kind: 'fail'; reason: string }
  | { kind: 'waiting'; expected: string }
  | { kind: 'recovered'; seen: string }
  /** The case could not run on this session (e.g. no upload-reply job). */
  | { kind: 'not-run'; reason: string };

export function judgeCase(evidence: CaseEvidence): Judgement {
  const c = evidence.case;
  const steps = evidence.exchanges.map(clientStep);
  const sessions = evidence.sessions.map(sessionIdKey);
  const first = sessions[0];
  if (first === undefined) return notYet(evidence, 'no session was assigned this case', 'no session was assigned this case');

  const closeRule = firstCloseRuleBroken(steps);
  if (closeRule) return { verdict: 'fail', reason: closeRule };

  let recovery: Recovery;
  if (c.rule === undefined) {
    recovery = c.needs === 'reply' ? replyFetched(steps, first, c.needsHint ?? '') : baselineClean(evidence.violations);
  } else {
    const at = steps.findIndex((s) => s.session === first && s.injected !== undefined);
    if (at < 0) {
      const why = `the fault (${c.rule}) never fired${c.needsHint ? `: ${c.needsHint}` : ''}`;
      if (endedClean(steps, first) || evidence.settled !== false) return { verdict: 'incomplete', reason: why };
      return { verdict: 'pending', reason: 'waiting for the fault to fire' };
    }
    recovery = RECOVERIES[c.id]!(steps, at, sessions);
  }
  if (recovery.kind === 'fail') return { verdict: 'fail', reason: recovery.reason };
  if (recovery.kind === 'not-run') return { verdict: 'incomplete', reason: recovery.reason };
  if (recovery.kind === 'waiting') {
    return notYet(evidence, `expected ${recovery.expected}; seen nothing more from the client within the case timeout`,
      `the suite stopped while waiting for ${recovery.expected}`);
  }
  // A final Close Ack ends the upload as far as the client is concerned: nothing more to wait for.
  if (c.id === 'close-4xx') return { verdict: 'pass', reason: recovery.seen };
  const last = sessions[sessions.length - 1]!;
  if (endedClean(steps, last)) return { verdict: 'pass', reason: `${recovery.seen}, then closed after the last Ack` };
  return notYet(evidence, `${recovery.seen}, but the upload never ended (expected Close-Session answered 2xx after the last Ack)`,
    `${recovery.seen}; the suite stopped before the upload ended`);
}

function notYet(evidence: CaseEvidence, onTimeout: string, onStop: string): Judgement {
  if (evidence.settled === 'timeout') return { verdict: 'fail', reason: onTimeout };
  if (evidence.settled === 'stopped') return { verdict: 'incomplete', reason: onStop };
  return { verdict: 'pending', reason: onStop };
}

/**
 * §5: Close-Session only once the client holds the Ack of the last byte, and (upload-reply)
 * only after its GET of BITS-Reply-URL succeeded. Judged on what reached the client: a final
 * Ack the gateway dropped was never seen by it.
 */
function firstCloseRuleBroken(steps: ClientStep[]): string | undefined {
  const acked = new Map<string, number>();
  const total = new Map<string, number>();
  const reply = new Map<string, { path: string; fetched: boolean }>();
  for (const s of steps) {
    if (s.kind === 'http') {
      if (s.answer !== 'ok') continue;
      for (const r of reply.values()) if (r.path === pathOf(s.obs.url)) r.fetched = true;
      continue;
    }
    const sid = s.session;
    if (sid === undefined) continue;
    if (s.kind === 'fragment' && s.range) {
      total.set(sid, s.range.total);
      if (s.answer === 'ok' || s.answer === 'resync') {
        const next = s.receivedOffset ?? (s.answer === 'ok' ? s.range.end + 1 : undefined);
        if (next !== undefined) acked.set(sid, next);
        if (s.answer === 'ok' && s.replyUrl !== undefined && next === s.range.total) reply.set(sid, { path: pathOf(s.replyUrl), fetched: false });
      }
    }
    if (s.kind === 'close-session') {
      const t = total.get(sid);
      const a = acked.get(sid) ?? 0;
      if (t !== undefined && a < t) {
        return `expected Close-Session only after the Ack of the last byte (§5); seen Close-Session when ${a} of ${t} bytes were acknowledged to the client`;
      }
      const r = reply.get(sid);
      if (r && !r.fetched) return `expected a GET of BITS-Reply-URL ${r.path.slice(0, 120)} before Close-Session (§5); seen Close-Session without it`;
    }
  }
  return undefined;
}

/** The session's upload ended: a Close answered 2xx, or 0x8020001F to a Close resent after a lost Ack (the first one took). */
function endedClean(steps: ClientStep[], sid: string): boolean {
  let lostClose = false;
  for (const s of steps) {
    if (s.session !== sid || s.kind !== 'close-session') continue;
    if (s.answer === 'ok') return true;
    if (s.answer === 'session-lost' && lostClose) return true;
    if (s.answer === 'no-answer') lostClose = true;
  }
  return false;
}

/** The client's next packet on `sid` after step `at` (Pings carry no session and are skipped). */
function nextOnSession(steps: ClientStep[], at: number, sid: string): ClientStep | undefined {
  for (let i = at + 1; i < steps.length; i++) if (steps[i]!.session === sid) return steps[i];
  return undefined;
}

function baselineClean(violations: Violation[]): Recovery {
  const bad = violations.find((v) => v.severity !== 'info');
  if (bad) return { kind: 'fail', reason: `expected a clean upload; the tracker reported ${bad.code} (${bad.severity}): ${bad.message.slice(0, 200)}` };
  return { kind: 'recovered', seen: 'a clean upload' };
}

function replyFetched(steps: ClientStep[], sid: string, hint: string): Recovery {
  const final = steps.find((s) => s.session === sid && s.kind === 'fragment' && s.answer === 'ok' && s.replyUrl !== undefined);
  if (!final) {
    if (endedClean(steps, sid)) return { kind: 'not-run', reason: `expected an upload-reply job (a final Ack with BITS-Reply-URL); seen none: ${hint}` };
    return { kind: 'waiting', expected: 'the final Fragment Ack with BITS-Reply-URL and its GET' };
  }
  const path = pathOf(final.replyUrl!);
  const got = steps.find((s) => s.kind === 'http' && s.answer === 'ok' && pathOf(s.obs.url) === path);
  if (!got) return { kind: 'waiting', expected: `a GET of BITS-Reply-URL ${path.slice(0, 120)}` };
  return { kind: 'recovered', seen: 'fetched BITS-Reply-URL before Close-Session' };
}

type RecoveryCheck = (steps: ClientStep[], at: number, sessions: string[]) => Recovery;

const RECOVERIES: Partial<Record<ClientCase['id'], RecoveryCheck>> = {
  'lost-fragment-ack'(steps, at) {
    const fault = steps[at]!;
    const expected = `${describeStep(fault)} resent on the same session after the lost Ack`;
    const next = nextOnSession(steps, at, fault.session!);
    if (!next) return { kind: 'waiting', expected };
    if (next.kind === 'fragment' && next.range?.start === fault.range?.start) return { kind: 'recovered', seen: `resent ${describeStep(next)} after the lost Ack` };
    return { kind: 'fail', reason: `expected ${expected}; seen ${describeStep(next)}` };
  },

  'resync-416'(steps, at) {
    const fault = steps[at]!;
    const r = fault.receivedOffset;
    const expected = `the next Fragment at ${r ?? '?'} (BITS-Received-Content-Range of the 416)`;
    if (fault.answer !== 'resync' || r === undefined) return { kind: 'fail', reason: `the injected 416 did not reach the client as a 416 with a range (seen ${describeAnswer(fault)})` };
    const next = nextOnSession(steps, at, fault.session!);
    if (!next) return { kind: 'waiting', expected };
    if (next.kind === 'fragment' && next.range?.start === r) return { kind: 'recovered', seen: `resumed at ${r} after the 416` };
    return { kind: 'fail', reason: `expected ${expected}; seen ${describeStep(next)}` };
  },

  'shrink-413'(steps, at) {
    const fault = steps[at]!;
    const expected = `a Fragment smaller than the refused ${fault.bytes} bytes`;
    const next = nextOnSession(steps, at, fault.session!);
    if (!next) return { kind: 'waiting', expected };
    if (next.kind === 'fragment' && next.bytes < fault.bytes) return { kind: 'recovered', seen: `sent ${next.bytes}-byte fragments after the 413 on ${fault.bytes} bytes` };
    const seen = next.kind === 'fragment' ? `${describeStep(next)} (${next.bytes} bytes)` : describeStep(next);
    return { kind: 'fail', reason: `expected ${expected} after the 413; seen ${seen}` };
  },

  'session-lost'(steps, at, sessions) {
    const fault = steps[at]!;
    const expected = 'a new Create-Session after 0x8020001F';
    for (let i = at + 1; i < steps.length; i++) {
      const s = steps[i]!;
      if (s.session === fault.session && s.kind === 'fragment') {
        return { kind: 'fail', reason: `expected ${expected}; seen ${describeStep(s)} on the lost session` };
      }
      if (s.kind === 'create-session' && s.answer === 'ok' && s.session !== undefined && sessions.slice(1).includes(s.session)) {
        return { kind: 'recovered', seen: `started again with Create-Session after 0x8020001F on ${describeStep(fault)}` };
      }
    }
    return { kind: 'waiting', expected };
  },

  'lost-close-ack'(steps, at) {
    const fault = steps[at]!;
    const expected = 'Close-Session resent after the lost Ack';
    const next = nextOnSession(steps, at, fault.session!);
    if (!next) return { kind: 'waiting', expected };
    if (next.kind === 'close-session') return { kind: 'recovered', seen: `resent Close-Session after the lost Ack (answered ${describeAnswer(next)})` };
    return { kind: 'fail', reason: `expected ${expected}; seen ${describeStep(next)}` };
  },

  'close-5xx'(steps, at) {
    const fault = steps[at]!;
    const expected = `Close-Session resent after the ${describeAnswer(fault)}`;
    const next = nextOnSession(steps, at, fault.session!);
    if (!next) return { kind: 'waiting', expected };
    if (next.kind === 'close-session') return { kind: 'recovered', seen: `resent Close-Session after the ${describeAnswer(fault)}` };
    return { kind: 'fail', reason: `expected ${expected}; seen ${describeStep(next)}` };
  },

  'close-4xx'(steps, at) {
    const fault = steps[at]!;
    const next = nextOnSession(steps, at, fault.session!);
    if (next) return { kind: 'fail', reason: `expected no resend after the final ${describeAnswer(fault)} Close Ack; seen ${describeStep(next)}` };
    return { kind: 'recovered', seen: `did not resend Close-Session after the final ${describeAnswer(fault)}` };
  },
};
