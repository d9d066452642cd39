/**
 * The session lifecycle as ONE table: (state, packet, answer class) -> next state, the
 * findings the transition itself proves, and which rule list judges the packet's content.
 * Read it against bits-protocol.md §5 (states, Close-Session validity) and §6 (what a client
 * does on each answer) line by line; test/sessions/lifecycle.test.ts has one test per row.
 *
 * The answer class comes from the one classifier, src/protocol/answer.ts (classifyAnswer):
 * ok (2xx), auth (401/407), resync (416 on a Fragment), shrink (413 on a Fragment), retry
 * (5xx the client resends, 408/409, a gateway 502/504), session-lost (0x8020001F on any packet
 * but Cancel), fatal (4xx final, 403, 501, E_INVALIDARG ...), no-answer (connection lost).
 *
 * States (SessionState), and `unknown` for an id no Create-Session Ack seen here issued:
 * - open      Create Ack 2xx; nothing or part of the file acknowledged (§5 open/receiving)
 * - uploaded  the server acknowledged R = T (§5 uploaded)
 * - closing   a Close-Session was answered retry/no-answer: the client resends it (§6), the
 *             commit is not confirmed yet (§5 closing)
 * - closed, cancelled, failed (fatal answer or session lost, §5 lost), expired (no 2xx
 *   progress for the session timeout, §5 expired: the `idle-timeout` rows). `evicted` never
 *   reaches the table.
 *
 * Readings chosen where the reference leaves room (also in the README):
 * - A Close answered retry/no-answer is not judged yet: close-rejected is raised only when the
 *   session ends unconfirmed (a final answer, or expiry while closing). A retry answered 2xx
 *   settles it with no error; the 5xx itself stays reported as server-error (warning).
 * - A resent Close answered 0x8020001F (closing x session-lost) is unverifiable, a warning, the
 *   same whether the earlier Close got a 5xx or no answer: §5 close-after-end names both as
 *   retries of a Close that may have committed, and a server that committed and released the
 *   session answers exactly that. Any other final answer stays an error.
 * - A Close on a closed session is a legal retry (info) when it comes on another connection and
 *   the connection that carried the 2xx Close Ack carried nothing after it (it closed, or the
 *   path broke silently): the Ack was lost. Otherwise close-after-end is an error (see
 *   isRetryAfterLostAck in rules/lifecycle-findings.ts).
 * - Cancel answered fatal (4xx, or 0x8020001F: already gone) ends the job: the client never
 *   resends a Cancel on 1xx-4xx and abandons it.
 * - A packet the server accepts (ok/resync) for an id unknown here proves the session exists
 *   (the gateway started mid-session): it is adopted, reported at info.
 */
import type { AnswerClass } from '../protocol/index.js';
import { type SessionState, TERMINAL_STATES, type ViolationCode } from './events.js';

/** `unknown`: no session with this id is known here (never created through this gateway, or gone). */
export type LifecycleState = Exclude<SessionState, 'evicted'> | 'unknown';
/**
 * The four packets that touch a session, and `idle-timeout`: the expiry sweep finding the session
 * without 2xx progress for the session timeout (tracker.expire(now)). No packet, so its answer
 * class is always `no-answer`. A row like any other, so the whole lifecycle reads in one table.
 */
export type LifecyclePacket = 'create-session' | 'fragment' | 'close-session' | 'cancel-session' | 'idle-timeout';

/**
 * Create-Session rows have state `unknown` only: a session is keyed by the id its Ack issues,
 * so every Create starts a new one. Where the session goes:
 * - a SessionState;
 * - `same`: unchanged;
 * - `progress`: open or uploaded, by acknowledged bytes vs total (a 2xx or a 416 names R);
 * - `none`: no session is created for an unknown id.
 * A row for state `unknown` with a SessionState (or progress) adopts the session.
 */
export type Next = SessionState | 'same' | 'progress' | 'none';

/**
 * Which content rules judge the packet on this transition (rules/*.ts). `close`: the §5
 * Close-Session rules, on the session's FIRST Close only (the tracker keeps Session.closeJudged):
 * they judge the client's decision to close, and a Close resent after a 5xx, no answer or a
 * final answer repeats that decision. One client mistake, one verdict (e.g. one
 * close-after-expiry for an expired session whose Close had to be resent).
 */
export type RuleSet = 'create' | 'fragment' | 'close' | 'none';

export interface Transition {
  next: Next;
  /** Findings the transition itself proves; their messages and severities come from rules/lifecycle-findings.ts. */
  findings: readonly ViolationCode[];
  rules: RuleSet;
  /** The reference line this row implements. */
  why: string;
}

export interface Row extends Transition {
  states: readonly LifecycleState[];
  packet: LifecyclePacket;
  answers: readonly AnswerClass[];
}

const LIVE: readonly LifecycleState[] = ['open', 'uploaded'];
const ANY_ANSWER: readonly AnswerClass[] = ['ok', 'resync', 'shrink', 'retry', 'session-lost', 'fatal', 'no-answer'];
/** The answers a Close/Cancel can get (413/416 there are plain statuses: classified retry or fatal). */
const CLOSE_ANSWERS: readonly AnswerClass[] = ['ok', 'retry', 'session-lost', 'fatal', 'no-answer'];
const CANCEL_ANSWERS: readonly AnswerClass[] = ['ok', 'retry', 'fatal', 'no-answer'];
const ALL_STATES: readonly LifecycleState[] = ['unknown', 'open', 'uploaded', 'closing', 'closed', 'cancelled', 'failed', 'expired'];

export const LIFECYCLE: readonly Row[] = [
  // ---- authentication rounds: not the BITS server's answer -------------------------------
  { states: ['unknown'], packet: 'create-session', answers: ['auth'], next: 'none', findings: [], rules: 'none', why: '§6 401/407: the client resends with credentials' },
  { states: ALL_STATES, packet: 'fragment', answers: ['auth'], next: 'same', findings: [], rules: 'none', why: '§6 401/407: the client resends with credentials' },
  { states: ALL_STATES, packet: 'close-session', answers: ['auth'], next: 'same', findings: [], rules: 'none', why: '§6 401/407: the client resends with credentials' },
  { states: ALL_STATES, packet: 'cancel-session', answers: ['auth'], next: 'same', findings: [], rules: 'none', why: '§6 401/407: the client resends with credentials' },

  // ---- Create-Session (keyed by the id its Ack issues: always a new session) ------------
  { states: ['unknown'], packet: 'create-session', answers: ['ok'], next: 'open', findings: [], rules: 'create', why: '§5 creating -> open: Ack 2xx with id' },
  { states: ['unknown'], packet: 'create-session', answers: ['retry', 'session-lost', 'fatal'], next: 'failed', findings: [], rules: 'create', why: '§5 creating -> failed: any other answer (a session exists only if the Ack named an id)' },
  { states: ['unknown'], packet: 'create-session', answers: ['no-answer'], next: 'none', findings: [], rules: 'none', why: 'no Ack, no id: nothing to track (the client resends Create-Session)' },

  // ---- Fragment ---------------------------------------------------------------------------
  { states: ['unknown'], packet: 'fragment', answers: ['ok', 'resync'], next: 'progress', findings: ['fragment-unknown-session'], rules: 'fragment', why: 'the server knows the session (it acknowledged a range): adopt it, info (gateway started mid-session)' },
  { states: ['unknown'], packet: 'fragment', answers: ['shrink', 'retry', 'no-answer'], next: 'none', findings: ['fragment-unknown-session'], rules: 'none', why: 'unknown here, and the answer does not say whether the server knows it: info' },
  { states: ['unknown'], packet: 'fragment', answers: ['session-lost', 'fatal'], next: 'none', findings: ['fragment-unknown-session'], rules: 'none', why: 'unknown here and to the server: warning' },
  { states: [...LIVE, 'closing'], packet: 'fragment', answers: ['ok', 'resync'], next: 'progress', findings: [], rules: 'fragment', why: '§4 S = R write; 416 resume at R; §5 receiving / uploaded' },
  { states: [...LIVE, 'closing'], packet: 'fragment', answers: ['shrink', 'retry', 'no-answer'], next: 'same', findings: [], rules: 'fragment', why: '§6 413 smaller fragments; 5xx/no answer: resend the fragment' },
  { states: [...LIVE, 'closing'], packet: 'fragment', answers: ['session-lost', 'fatal'], next: 'failed', findings: [], rules: 'fragment', why: '§5 lost (0x8020001F); §6 fatal: the client gives up' },
  { states: ['closed', 'cancelled'], packet: 'fragment', answers: ANY_ANSWER, next: 'same', findings: ['fragment-after-end'], rules: 'none', why: '§5 closed/cancelled: everything released' },
  { states: ['failed'], packet: 'fragment', answers: ['ok', 'resync'], next: 'progress', findings: ['fragment-after-end'], rules: 'fragment', why: 'the server still holds the session (a resumed job after a fatal answer): info' },
  { states: ['failed'], packet: 'fragment', answers: ['shrink', 'retry', 'session-lost', 'fatal', 'no-answer'], next: 'same', findings: ['fragment-after-end'], rules: 'none', why: '§5 lost: the client must restart at Create-Session' },
  { states: ['expired'], packet: 'fragment', answers: ['ok', 'resync'], next: 'progress', findings: [], rules: 'fragment', why: 'the server still held it: its timeout is longer than the one configured here' },
  { states: ['expired'], packet: 'fragment', answers: ['shrink', 'retry', 'session-lost', 'fatal', 'no-answer'], next: 'same', findings: ['fragment-after-end'], rules: 'none', why: '§5 expired: session deleted; the client restarts (warning)' },

  // ---- Close-Session ------------------------------------------------------------------------
  { states: ['unknown'], packet: 'close-session', answers: ['ok'], next: 'closed', findings: ['close-unknown-session'], rules: 'none', why: '§5 close-unknown-session: gateway started mid-session, the server committed it: adopt, info' },
  { states: ['unknown'], packet: 'close-session', answers: ['retry', 'no-answer'], next: 'none', findings: ['close-unknown-session'], rules: 'none', why: 'unknown here; the answer does not say whether the server knows it: info' },
  { states: ['unknown'], packet: 'close-session', answers: ['session-lost', 'fatal'], next: 'none', findings: ['close-unknown-session'], rules: 'none', why: '§5 close-unknown-session: 500 + 0x8020001F, unknown to the server too: warning' },
  { states: LIVE, packet: 'close-session', answers: ['ok'], next: 'closed', findings: [], rules: 'close', why: '§5 closing -> closed: Ack 2xx' },
  { states: LIVE, packet: 'close-session', answers: ['retry', 'no-answer'], next: 'closing', findings: [], rules: 'close', why: '§6 500-599 on Close: the client resends; not confirmed yet' },
  { states: LIVE, packet: 'close-session', answers: ['session-lost', 'fatal'], next: 'failed', findings: ['close-rejected'], rules: 'close', why: '§6 100-499 or 0x8020001F on Close: no retry, commit not confirmed' },
  { states: ['closing'], packet: 'close-session', answers: ['ok'], next: 'closed', findings: [], rules: 'none', why: '§6 the resent Close committed: the earlier 5xx is settled' },
  { states: ['closing'], packet: 'close-session', answers: ['retry', 'no-answer'], next: 'same', findings: [], rules: 'none', why: '§6 500-599 on Close: the client resends again' },
  { states: ['closing'], packet: 'close-session', answers: ['session-lost'], next: 'failed', findings: ['close-rejected'], rules: 'none', why: '§3/§5/§6 0x8020001F to the resent Close: the server released the session, and the Close answered 5xx or not at all may have committed it: unverifiable (warning)' },
  { states: ['closing'], packet: 'close-session', answers: ['fatal'], next: 'failed', findings: ['close-rejected'], rules: 'none', why: '§6 final answer (100-499) to the resent Close: commit never confirmed' },
  { states: ['closed'], packet: 'close-session', answers: CLOSE_ANSWERS, next: 'same', findings: ['close-after-end'], rules: 'none', why: '§5 close-after-end: legal only as a retry after a connection died before its Ack (info), error otherwise' },
  { states: ['cancelled'], packet: 'close-session', answers: CLOSE_ANSWERS, next: 'same', findings: ['close-after-end'], rules: 'none', why: '§5 close-after-end: already cancelled with 2xx' },
  { states: ['failed'], packet: 'close-session', answers: ['ok'], next: 'closed', findings: [], rules: 'close', why: 'the server committed a session we thought failed: judge the Close like any other' },
  { states: ['failed'], packet: 'close-session', answers: ['retry', 'session-lost', 'fatal', 'no-answer'], next: 'same', findings: [], rules: 'none', why: '§8 a client that closes from a finally after a failure: the session was already lost' },
  { states: ['expired'], packet: 'close-session', answers: ['ok'], next: 'closed', findings: [], rules: 'close', why: 'the server still held it (close-after-expiry judges the idle time)' },
  { states: ['expired'], packet: 'close-session', answers: ['retry', 'session-lost', 'fatal', 'no-answer'], next: 'same', findings: [], rules: 'close', why: '§5 close-after-expiry: session already gone' },

  // ---- Cancel-Session (legal at any time) ---------------------------------------------------
  { states: ['unknown'], packet: 'cancel-session', answers: CANCEL_ANSWERS, next: 'none', findings: [], rules: 'none', why: 'Cancel at any time; nothing known here to cancel' },
  { states: [...LIVE, 'closing'], packet: 'cancel-session', answers: ['ok', 'fatal'], next: 'cancelled', findings: [], rules: 'none', why: '§5 cancelled: Cancel Ack 2xx; §6 1xx-4xx or 0x8020001F: never resent, the job is abandoned' },
  { states: [...LIVE, 'closing'], packet: 'cancel-session', answers: ['retry', 'no-answer'], next: 'same', findings: [], rules: 'none', why: '§6 500-599 on Cancel: the client resends' },
  { states: ['closed', 'cancelled'], packet: 'cancel-session', answers: CANCEL_ANSWERS, next: 'same', findings: [], rules: 'none', why: 'a Cancel resent after a lost Ack, or after a commit: nothing left to cancel' },
  { states: ['failed', 'expired'], packet: 'cancel-session', answers: ['ok'], next: 'cancelled', findings: [], rules: 'none', why: 'the server cancelled what it still held' },
  { states: ['failed', 'expired'], packet: 'cancel-session', answers: ['retry', 'fatal', 'no-answer'], next: 'same', findings: [], rules: 'none', why: 'Cancel of a session already gone' },

  // ---- idle-timeout: no 2xx progress for the session timeout (the expiry sweep, no packet) ---
  { states: LIVE, packet: 'idle-timeout', answers: ['no-answer'], next: 'expired', findings: [], rules: 'none', why: '§5 expired: no progress for BITSSessionTimeout, the server deletes the session and its reply' },
  { states: ['closing'], packet: 'idle-timeout', answers: ['no-answer'], next: 'expired', findings: ['close-rejected'], rules: 'none', why: '§5 expired while closing: the Close answered 5xx or not at all was never confirmed by a resent one (the verdict it deferred)' },
  { states: ['closed', 'cancelled', 'failed', 'expired'], packet: 'idle-timeout', answers: ['no-answer'], next: 'same', findings: [], rules: 'none', why: 'ended already: the server released it, nothing left to expire' },
];

type Index = Partial<Record<LifecycleState, Partial<Record<LifecyclePacket, Partial<Record<AnswerClass, Row>>>>>>;

/**
 * The table indexed once, state -> packet -> answer: lookup on the hot path is three property
 * reads, no key string built per exchange. Two rows for one key is a bug, caught at load.
 */
const INDEX: Index = (() => {
  const m: Index = {};
  for (const row of LIFECYCLE) {
    for (const s of row.states) {
      const byPacket = (m[s] ??= {});
      const byAnswer = (byPacket[row.packet] ??= {});
      for (const a of row.answers) {
        if (byAnswer[a]) throw new Error(`lifecycle table: two rows for ${s} x ${row.packet} x ${a}`);
        byAnswer[a] = row;
      }
    }
  }
  return m;
})();

/**
 * An answer the gateway injected in the server's place (Observation.injected, responder
 * gateway): the server never saw the packet, so what it holds is unchanged and nothing about
 * the exchange is held against the client or the server. The client's NEXT packet is judged
 * against the unchanged state, as usual.
 */
export const INJECTED_ANSWER: Transition = {
  next: 'same', findings: [], rules: 'none', why: 'an answer the gateway injected: the server never saw the packet',
};

const UNLISTED: Transition = { next: 'same', findings: [], rules: 'none', why: 'not in the table' };

/** The transition for one exchange. Every reachable (state, packet, answer) has a row; see lifecycle.test.ts. */
export function transition(state: LifecycleState, packet: LifecyclePacket, answer: AnswerClass): Transition {
  return INDEX[state]?.[packet]?.[answer] ?? UNLISTED;
}

/** A session still held by the server as far as we know: packets of it are judged on content. */
export function isLive(state: LifecycleState | SessionState): boolean {
  return state !== 'unknown' && !TERMINAL_STATES.has(state);
}
