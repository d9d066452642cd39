/**
 * The session tracker: the stateful half of the protocol core.
 *
 * Theory of operation. Each completed exchange (Observation) is decoded (src/protocol),
 * matched to its session by BITS-Session-Id (the Create-Session Ack issues it), checked
 * against the rule lists in ./rules with the session as it was BEFORE the exchange, and then
 * applied: bytes acknowledged, state transitions, timeline. Every call returns the events it
 * caused, in order: evictions (by count), session-created, packet, violations,
 * session-updated/ended, evictions (by bytes: the session just touched is measured last).
 *
 * Pure: no clock (time comes from observations and expire(now)), no I/O. begin() is optional:
 * the gateway calls it when a request head arrives, so a Close-Session racing an unanswered
 * request is flagged live; without it (analyze) the same overlap is found afterwards from the
 * exchanges' start/end times.
 *
 * States and transitions: one table, ./lifecycle.ts (state x packet x answer class -> next
 * state, findings, rule set), with the answer class from src/protocol/answer.ts. A session
 * exists once a Create-Session Ack names its id (there is no id to track before it, so there
 * is no `creating` state); a packet the server accepts for an unknown id adopts the session.
 */
import { LRUCache } from 'lru-cache';
import { HeaderPicker } from '../protocol/header-picker.js';
import {
  type AnswerClass, type BitsAck, type BitsRequest, classifyAnswer, decodeExchange, formatErrorCode, parsePacketType,
} from '../protocol/index.js';
import { type ConnectionClosed, type ExchangeStart, isRefusedRequest, type Observation } from '../observation.js';
import { AuthLoopDetector } from './auth-loop.js';
import { buildViolation } from './catalog.js';
import {
  type BitsEvent, type PacketKind, type SessionDetail, type SessionState, type SessionSummary,
  TERMINAL_STATES, type Violation,
} from './events.js';
import { busyInflight, closeEnded, closeOverlaps, closesInFlight, lateOverlaps, rememberClose } from './close-overlap.js';
import { packetRecord } from './packet-record.js';
import { faultInjectedEvent, neverForwarded } from './injected.js';
import { INJECTED_ANSWER, type LifecyclePacket, type LifecycleState, type Next, type RuleSet, transition } from './lifecycle.js';
import { CLOSE_RULES, busyMessage } from './rules/close-rules.js';
import { CREATE_ACK_RULES, EXCHANGE_RULES } from './rules/exchange-rules.js';
import { FRAGMENT_RULES } from './rules/fragment-rules.js';
import { IDLE_TIMEOUT_FINDINGS, LIFECYCLE_FINDINGS } from './rules/lifecycle-findings.js';
import { type ExchangeContext, type Rule, is2xx } from './rules/types.js';
import {
  addErrorCode, addInflight, addViolationCode, type ChangeMark, changedSince, clearInflight, fillMark,
  newSession, noteAdvance, removeInflight, type Session,
  toDetail, toSummary,
} from './session.js';
import { sessionBytes } from './retention.js';
import { Timelines } from './timeline.js';
import { ReplyIndex } from './reply-index.js';
import { hostnameOnly, pathOf } from './url.js';

export interface SessionTrackerOptions {
  /** Sessions kept (live and ended); the least recently active is evicted beyond it. */
  maxSessions?: number;
  /** Idle time after which a session expires; IIS BITSSessionTimeout defaults to 14 days. */
  sessionTimeoutMs?: number;
  /** Exchanges kept per session for the dashboard timeline. */
  timelineLimit?: number;
  /** Violations kept for recentViolations(). */
  maxRecentViolations?: number;
  /**
   * Timeline entries that keep their raw header lists: the most recent ones across all
   * sessions, plus every session's Create-Session exchange (the one that says the most);
   * older entries keep the decoded fields only, and their packet events carried the headers.
   * Headers are most of a timeline's cost: keeping them all for 100 000 sessions x 2
   * exchanges exceeds 200 MB, and keeping them long costs ~30% throughput in GC. 0 keeps none.
   * Their bytes are capped too: retainedHeaderBudget(maxSessionMemory).
   */
  maxRetainedHeaders?: number;
  /**
   * Byte budget of everything the tracker holds for its sessions (estimated as in
   * src/sessions/retention.ts: session fields, timelines, retained headers). Beyond it the
   * least recently active sessions are evicted, as beyond maxSessions. A client can make
   * every request head 64 KiB, so a bound in sessions alone is no bound on memory.
   */
  maxSessionMemory?: number;
}

export const TRACKER_DEFAULTS: Required<SessionTrackerOptions> = {
  maxSessions: 100_000,
  sessionTimeoutMs: 14 * 24 * 3600 * 1000,
  timelineLimit: 200,
  maxRecentViolations: 1000,
  maxRetainedHeaders: 10_000,
  maxSessionMemory: 256 * 1024 * 1024,
};

/** The header lists of recent exchanges (the Timelines ring) may use this share of maxSessionMemory, at most 16 MiB. */
export function retainedHeaderBudget(maxSessionMemory: number): number {
  return Math.min(16 * 1024 * 1024, Math.floor(maxSessionMemory / 8));
}

export interface TrackerStats {
  /** Sessions held now, by state; `evicted` counts every eviction so far. */
  sessionsByState: Record<SessionState, number>;
  /**
   * Violations above info (warnings and errors), by code: what the dashboard counts as problems.
   * Info findings (a lost Ack retried, an adopted session, retransmitted bytes) are still emitted
   * and listed, never counted as violations.
   */
  violationsByCode: Record<string, number>;
  observations: number;
  /** Request plus response body bytes of every observed exchange. */
  bytesRelayed: number;
  seq: number;
}

export type RecentViolation = Violation & { seq: number };

/** The content rules a lifecycle row names (lifecycle.ts); the exchange rules run on every packet. */
const RULES_BY_SET: Readonly<Record<RuleSet, readonly Rule[]>> = {
  create: CREATE_ACK_RULES,
  fragment: FRAGMENT_RULES,
  close: CLOSE_RULES,
  none: [],
};
const LIFECYCLE_PACKETS: Readonly<Record<BitsRequest['type'], LifecyclePacket | undefined>> = {
  ping: undefined, ack: undefined, unknown: undefined,
  'create-session': 'create-session', fragment: 'fragment', 'close-session': 'close-session', 'cancel-session': 'cancel-session',
};
/** Connections awaited after a Close Ack (see closeAwaited); bounded, oldest forgotten first. */
const MAX_AWAITED_CONNECTIONS = 10_000;
/** Host names seen on Create-Sessions: hosts that reach this gateway (close-before-reply). */
const MAX_GATEWAY_HOSTS = 256;

const NO_EXCHANGES: readonly number[] = [];
const NO_EVENTS = Object.freeze([]) as unknown as BitsEvent[];
/** begin() reads two headers per request head; one allocation-free pass. */
const BEGIN_PICKER = new HeaderPicker(['bits-session-id', 'bits-packet-type']);

function emptyStateCounts(): Record<SessionState, number> {
  return { open: 0, uploaded: 0, closing: 0, closed: 0, cancelled: 0, failed: 0, expired: 0, evicted: 0 };
}

export class SessionTracker {
  private readonly opts: Required<SessionTrackerOptions>;
  private readonly cache: LRUCache<string, Session>;
  /** Reply URLs of upload-reply sessions, for matching the reply GET. */
  private readonly replies = new ReplyIndex();
  /** A held session by id (an LRU get: counts as activity). */
  private readonly lookup = (id: string): Session | undefined => this.cache.get(id);
  private readonly stateCounts = emptyStateCounts();
  private readonly violationCounts: Record<string, number> = {};
  private recent: RecentViolation[] = [];
  private observationCount = 0;
  private bytes = 0;
  private lastSeq = 0;
  /** Where eviction events go during the current call (lru-cache disposes synchronously). */
  private out: BitsEvent[] = [];
  private now = 0;
  private readonly timelines: Timelines;
  /** Sum of every held session's accountedBytes (the Timelines ring adds its own, see retainedBytes). */
  private sessionBytesTotal = 0;
  private readonly found: Violation[] = [];
  /** Connection-bound authentication looping (IIS Extended Protection behind our TLS). */
  private readonly authLoops = new AuthLoopDetector();
  private readonly mark: ChangeMark = fillMark({} as ChangeMark, undefined);
  private readonly ctx: ExchangeContext;
  /**
   * Client connections whose last exchange was a session's answered Close-Session, by
   * connection id. A later exchange on the connection marks the Ack as received (the client
   * went on); the connection's close marks it as possibly lost (lifecycle.ts).
   */
  private readonly closeAwaited = new Map<number, Session>();
  private readonly gatewayHosts = new Set<string>();
  private lastGatewayHost: string | undefined;

  constructor(options: SessionTrackerOptions = {}) {
    this.opts = { ...TRACKER_DEFAULTS, ...stripUndefined(options) };
    for (const k of ['maxSessions', 'timelineLimit', 'maxRecentViolations', 'maxRetainedHeaders', 'maxSessionMemory'] as const) {
      const min = k === 'maxRetainedHeaders' ? 0 : 1;
      if (!Number.isSafeInteger(this.opts[k]) || this.opts[k] < min) throw new RangeError(`${k} must be an integer >= ${min}`);
    }
    if (!(this.opts.sessionTimeoutMs > 0)) throw new RangeError('sessionTimeoutMs must be positive');
    this.timelines = new Timelines(this.opts.timelineLimit, this.opts.maxRetainedHeaders, retainedHeaderBudget(this.opts.maxSessionMemory));
    this.ctx = {
      obs: undefined as unknown as Observation, req: undefined as unknown as BitsRequest, ack: undefined, session: undefined,
      sessionId: undefined, host: undefined, sessionTimeoutMs: this.opts.sessionTimeoutMs, busyWith: NO_EXCHANGES,
      state: 'unknown', answer: 'ok', gatewayHosts: this.gatewayHosts,
    };
    // maxSize with unit sizes instead of `max`: the same bound, but lru-cache then grows its
    // index arrays on demand instead of preallocating maxSessions slots (10 ms per tracker).
    this.cache = new LRUCache<string, Session>({
      maxSize: this.opts.maxSessions,
      sizeCalculation: () => 1,
      dispose: (session, _id, reason) => this.onDispose(session, reason),
    });
  }

  get seq(): number {
    return this.lastSeq;
  }

  /** Estimated bytes the tracker holds for its sessions; <= maxSessionMemory after every observe() (one session over it alone stays). */
  get retainedBytes(): number {
    return this.sessionBytesTotal + this.timelines.retainedBytes;
  }

  get maxSessionMemory(): number {
    return this.opts.maxSessionMemory;
  }

  /** A request head was seen: marks it outstanding so a racing Close-Session is flagged now. */
  begin(start: ExchangeStart): BitsEvent[] {
    const v = BEGIN_PICKER.pick(start.requestHeaders).values;
    const rawSid = v[0];
    if (rawSid === undefined) return NO_EVENTS;
    const session = this.cache.peek(rawSid);
    if (!session) return NO_EVENTS;
    const rawType = v[1];
    const type = rawType === undefined ? undefined : parsePacketType(rawType);
    const kind: PacketKind = type === undefined || type === 'ack' ? 'unknown' : type;
    this.now = start.startedAt;
    addInflight(session, start.id, kind, start.startedAt, start.connectionId, start.requestHeaders);
    if (kind === 'close-session') {
      const others = busyInflight(session, start.id, start.startedAt, session.advance);
      rememberClose(session, { exchange: start.id, startedAt: start.startedAt, busyFlagged: others.length > 0 });
      if (others.length > 0) {
        const out: BitsEvent[] = [];
        this.emitViolations(out, session, [buildViolation('close-while-busy', { message: busyMessage(start.id, others), exchanges: others }, session.id, start.id, start.startedAt)], start.startedAt);
        return out;
      }
    } else if (session.closes) {
      const racing = closesInFlight(session);
      if (racing.length > 0) {
        const out: BitsEvent[] = [];
        for (const c of racing) {
          c.busyFlagged = true;
          this.emitViolations(out, session, [buildViolation('close-while-busy', { message: busyMessage(c.exchange, [start.id]), exchanges: [c.exchange] }, session.id, start.id, start.startedAt)], start.startedAt);
        }
        return out;
      }
    }
    // Most request heads cause no event: one shared, frozen empty result instead of an array each.
    return NO_EVENTS;
  }

  /** A completed exchange. Returns every event it caused, in order. */
  observe(obs: Observation): BitsEvent[] {
    const out: BitsEvent[] = [];
    this.out = out;
    this.now = obs.endedAt;
    this.observationCount++;
    this.bytes += obs.requestBodyBytes + obs.responseBodyBytes;
    if (this.closeAwaited.size > 0) this.noteConnectionReused(obs.connectionId);
    if (obs.status === 401) {
      const loop = this.authLoops.observe(obs);
      if (loop) this.emitViolations(out, undefined, [buildViolation('auth-channel-binding', loop, undefined, obs.id, obs.endedAt)], obs.endedAt);
    }

    // Decoded once per exchange, shared with the metrics and the request log (obs.decoded).
    const decoded = decodeExchange(obs);
    // Refused by the listener as malformed HTTP: never forwarded, so not a BITS packet to judge.
    const req = isRefusedRequest(obs) ? null : decoded.request;
    if (!req) {
      this.observeHttp(obs, out);
      return out;
    }
    const status = obs.status;
    const fromServer = status !== undefined && obs.responder !== 'gateway';
    const ack = fromServer ? decoded.ack : undefined;
    // Injected in the server's place (injected.ts): shown on the timeline, never judged.
    const unseen = obs.injected !== undefined && neverForwarded(obs);
    // What the answer means to the client (§6): the one classifier, shared with our client and server.
    const answer: AnswerClass = classifyAnswer(req.type === 'ack' ? 'unknown' : req.type, status, ack?.errorCode?.value, ack?.errorContext).class;
    // An NTLM/Negotiate challenge is a normal round, not the BITS server's answer.
    const authRound = answer === 'auth';

    let sessionId = req.sessionId;
    if (req.type === 'create-session') sessionId = fromServer && !authRound ? ack?.sessionId : undefined;
    let session = sessionId !== undefined && req.type !== 'create-session' ? this.cache.get(sessionId) : undefined;
    if (session && session.busyExchange >= 0) removeInflight(session, obs.id);
    const mark = session ? fillMark(this.mark, session) : undefined;
    const before = session?.state;
    const state: LifecycleState = session ? (session.state === 'evicted' ? 'unknown' : session.state) : 'unknown';
    const packet = LIFECYCLE_PACKETS[req.type];
    const step = packet ? (unseen ? INJECTED_ANSWER : transition(state, packet, answer)) : undefined;

    // Reused per call (observe is not reentrant); events copy the violations out of it.
    const found = this.found;
    found.length = 0;
    const time = obs.endedAt;
    for (const p of req.problems) {
      found.push(buildViolation(p.code, { message: p.reason, ...(p.severity ? { severity: p.severity } : {}) }, req.sessionId, obs.id, time));
    }
    if (ack && !authRound) {
      for (const p of ack.problems) {
        found.push(buildViolation(p.code, { message: p.reason, ...(p.severity ? { severity: p.severity } : {}) }, sessionId, obs.id, time));
      }
    }

    if (!authRound) {
      // One context object reused for every exchange: rules read it synchronously, never keep it.
      const ctx = this.ctx;
      ctx.obs = obs;
      ctx.req = req;
      ctx.ack = ack;
      ctx.session = session;
      ctx.sessionId = sessionId;
      ctx.host = req.host;
      ctx.state = state;
      ctx.answer = answer;
      // The §5 Close rules judge the client's decision to close, once per session: a Close resent
      // after a 5xx, no answer or a final answer repeats that decision (lifecycle.ts, RuleSet).
      const set = step ? (step.rules === 'close' && session?.closeJudged ? 'none' : step.rules) : 'none';
      const rules = RULES_BY_SET[set];
      if (set === 'close') session!.closeJudged = true;
      ctx.busyWith = rules === CLOSE_RULES && session ? closeOverlaps(session, obs) : NO_EXCHANGES;
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]!;
        const finding = rule.check(ctx);
        if (finding) found.push(buildViolation(rule.code, finding, sessionId, obs.id, time));
      }
      if (step) {
        for (const code of step.findings) found.push(buildViolation(code, LIFECYCLE_FINDINGS[code]!(ctx), sessionId, obs.id, time));
      }
      // An injected answer is not the server's: its content is not judged either.
      const exchangeRules = unseen ? RULES_BY_SET.none : EXCHANGE_RULES;
      for (let i = 0; i < exchangeRules.length; i++) {
        const rule = exchangeRules[i]!;
        const finding = rule.check(ctx);
        if (finding) found.push(buildViolation(rule.code, finding, sessionId, obs.id, time));
      }
    }

    // A session is created by a Create-Session Ack that names an id, or adopted when the table
    // says the server evidently holds an id unknown here.
    let created = false;
    const adopting = req.type !== 'create-session';
    // A Create-Session's id comes from the server's Ack; a gateway-made answer issued none.
    const issued = adopting || fromServer;
    if (step && issued && !authRound && sessionId !== undefined && !session && step.next !== 'none' && step.next !== 'same') {
      session = this.createSession(sessionId, obs, req.host, adopting, step.next === 'progress' ? 'open' : step.next);
      created = true;
      if (!adopting) {
        if (ack!.protocol !== undefined) session.protocol = ack!.protocol;
        if (ack!.hostId !== undefined) session.hostId = ack!.hostId;
        if (ack!.hostIdFallbackTimeoutSec !== undefined) session.hostIdFallbackTimeoutSec = ack!.hostIdFallbackTimeoutSec;
      }
    }

    const record = packetRecord(obs, req, unseen ? decoded.ack : ack);
    if (session && req.type === 'close-session') closeEnded(session, obs, authRound);
    if (session) {
      if (!authRound && !unseen) this.apply(session, obs, req, ack, answer, step?.next ?? 'same', found);
      if (req.type !== 'close-session') this.reportLateOverlaps(session, obs, req.range?.end, found);
      if (obs.endedAt > session.lastSeen) session.lastSeen = obs.endedAt;
      this.timelines.append(session, record);
      for (const v of found) addViolationCode(session, v);
    }

    if (created) this.push(out, { seq: 0, type: 'session-created', time, session: toSummary(session!) });
    this.push(out, session ? { seq: 0, type: 'packet', time, sessionId: session.id, packet: record } : { seq: 0, type: 'packet', time, packet: record });
    if (obs.injected !== undefined) this.push(out, faultInjectedEvent(obs, session?.id ?? sessionId));
    this.emitViolations(out, undefined, found, time);
    if (session) this.emitChange(out, session, created ? undefined : before, mark, created, time);
    if (session) this.account(session);
    return out;
  }

  /**
   * A client connection closed. When its last exchange was a session's answered Close-Session,
   * that Ack may never have reached the client: a Close resent on another connection is then a
   * legal retry (lifecycle.ts). Causes no event.
   */
  connectionClosed(closed: ConnectionClosed): BitsEvent[] {
    const session = this.closeAwaited.get(closed.connectionId);
    if (session) {
      this.closeAwaited.delete(closed.connectionId);
      if (session.closeConnection === closed.connectionId) session.closeConnectionDropped = true;
    }
    return NO_EVENTS;
  }

  /**
   * The expiry sweep: every session idle longer than the timeout (§5 expired: no 2xx progress)
   * goes through the table's `idle-timeout` row for its state. Returns the events it caused.
   */
  expire(now: number): BitsEvent[] {
    const out: BitsEvent[] = [];
    this.out = out;
    this.now = now;
    const limit = now - this.opts.sessionTimeoutMs;
    for (const session of this.cache.values()) {
      if (session.lastProgress >= limit || session.state === 'evicted') continue;
      const step = transition(session.state, 'idle-timeout', 'no-answer');
      if (step.next === 'same') continue;
      // The findings name the session's last exchange: the one whose verdict expiry settles.
      const tl = session.timeline;
      const last = tl.length ? tl[tl.length - 1]!.exchange : 0;
      for (const code of step.findings) {
        const v = buildViolation(code, IDLE_TIMEOUT_FINDINGS[code]!(session), session.id, last, now);
        addViolationCode(session, v);
        this.emitViolations(out, undefined, [v], now);
      }
      if (step.next !== 'none' && step.next !== 'progress') this.setState(session, step.next);
      clearInflight(session);
      if (TERMINAL_STATES.has(session.state)) this.push(out, { seq: 0, type: 'session-ended', time: now, session: toSummary(session) });
    }
    return out;
  }

  /** Snapshots of every session held, most recently active first. */
  sessions(): SessionSummary[] {
    return Array.from(this.cache.values(), toSummary);
  }

  session(id: string): SessionDetail | undefined {
    const s = this.cache.peek(id);
    return s ? toDetail(s) : undefined;
  }

  /** Newest first, bounded by maxRecentViolations. */
  recentViolations(): RecentViolation[] {
    const n = this.opts.maxRecentViolations;
    const r = this.recent.length > n ? this.recent.slice(-n) : this.recent.slice();
    return r.reverse();
  }

  stats(): TrackerStats {
    return {
      sessionsByState: { ...this.stateCounts },
      violationsByCode: { ...this.violationCounts },
      observations: this.observationCount,
      bytesRelayed: this.bytes,
      seq: this.lastSeq,
    };
  }

  // ---- applying an exchange -------------------------------------------------------------

  /** Applies one exchange to its session: counters, acknowledged bytes, then the table's next state. */
  private apply(session: Session, obs: Observation, req: BitsRequest, ack: BitsAck | undefined, answer: AnswerClass, next: Next, found: Violation[]): void {
    const status = obs.status;
    if (ack?.errorCode && ack.errorCode.value !== 0) addErrorCode(session, formatErrorCode(ack.errorCode));
    if (status !== undefined && session.hostId !== undefined && req.host !== undefined && hostnameOnly(req.host) === hostnameOnly(session.hostId)) {
      session.hostIdLastAnswered = obs.endedAt;
    }
    if (answer === 'ok' && (req.type === 'fragment' || req.type === 'create-session')) session.lastProgress = obs.endedAt;
    if (req.type === 'fragment') {
      session.fragments++;
      session.relayedBytes += obs.requestBodyBytes;
      if (session.contentName === undefined && req.contentName !== undefined) session.contentName = req.contentName;
      const r = req.range;
      if (r) {
        if (session.totalLength === null) session.totalLength = r.total;
        if (r.start < session.ackedBytes) session.retransmittedBytes += Math.min(r.end + 1, session.ackedBytes) - r.start;
      }
      // Acknowledged bytes move only while the server holds the session (the table says `progress`).
      if (ack && next === 'progress') {
        if (ack.receivedOffset !== undefined) {
          session.ackedBytes = ack.receivedOffset;
          if (session.totalLength !== null && ack.receivedOffset > session.totalLength) {
            found.push(buildViolation('packet-bad-header', {
              message: `BITS-Received-Content-Range ${ack.receivedOffset} is beyond the total length ${session.totalLength}`, severity: 'error',
            }, session.id, obs.id, obs.endedAt));
          }
        } else if (answer === 'ok' && r && r.start <= session.ackedBytes) {
          // Tolerate a server that omits the header: a 2xx for a contiguous fragment means it holds END+1.
          session.ackedBytes = Math.max(session.ackedBytes, r.end + 1);
          found.push(buildViolation('packet-missing-header', {
            message: `Fragment Ack ${status} without BITS-Received-Content-Range; assuming ${r.end + 1} bytes held`, severity: 'warning',
          }, session.id, obs.id, obs.endedAt));
        }
        if (ack.replyUrl !== undefined) this.replies.set(session, ack.replyUrl);
        if (answer === 'ok') noteAdvance(session, obs.startedAt, obs.endedAt, obs.connectionId, session.ackedBytes);
      }
    }
    switch (next) {
      case 'same':
      case 'none':
        break;
      case 'progress':
        this.setState(session, session.totalLength !== null && session.ackedBytes >= session.totalLength ? 'uploaded' : 'open');
        break;
      default:
        if ((next === 'closed' || next === 'cancelled') && session.state !== next) session.endRequestedAt = obs.startedAt;
        this.setState(session, next);
    }
    if (req.type === 'close-session') {
      if (session.state === 'closing') {
        session.closeRetriedAfter ??= status === undefined ? `no answer${obs.error ? ` (${obs.error})` : ''}` : `${status}`;
        if (status === undefined) session.closeUnanswered = true;
      } else if (session.state === 'closed' && status !== undefined) {
        // The Ack was delivered on this connection: if it closes next, the Ack may have been lost.
        session.closeConnection = obs.connectionId;
        session.closeConnectionDropped = false;
        session.closeConnectionReused = false;
        this.awaitClose(obs.connectionId, session);
      }
    }
    if (session.state === 'closed' || session.state === 'cancelled') this.replies.drop(session);
  }

  /** Another request on a connection that carried a Close Ack: that client had its Ack. */
  private noteConnectionReused(connectionId: number): void {
    const session = this.closeAwaited.get(connectionId);
    if (!session) return;
    this.closeAwaited.delete(connectionId);
    if (session.closeConnection === connectionId) session.closeConnectionReused = true;
  }

  private awaitClose(connectionId: number, session: Session): void {
    const awaited = this.closeAwaited;
    awaited.delete(connectionId);
    awaited.set(connectionId, session);
    if (awaited.size > MAX_AWAITED_CONNECTIONS) awaited.delete(awaited.keys().next().value!);
  }

  /** close-while-busy for Close-Sessions that `obs`, completing after them, overlapped. */
  private reportLateOverlaps(session: Session, obs: Observation, rangeEnd: number | undefined, found: Violation[]): void {
    for (const close of lateOverlaps(session, obs, rangeEnd)) {
      found.push(buildViolation('close-while-busy', { message: busyMessage(close, [obs.id]), exchanges: [close] }, session.id, obs.id, obs.endedAt));
    }
  }

  /** An ordinary request: the reply GET of an upload-reply session, or unrelated traffic. */
  private observeHttp(obs: Observation, out: BitsEvent[]): void {
    const time = obs.endedAt;
    const session = this.replies.match(obs, this.lookup);
    if (!session) {
      this.push(out, { seq: 0, type: 'packet', time, packet: packetRecord(obs, null, undefined) });
      if (obs.injected !== undefined) this.push(out, faultInjectedEvent(obs, undefined));
      return;
    }
    const mark = fillMark(this.mark, session);
    if (obs.method === 'GET' && is2xx(obs.status)) session.replyFetched = true;
    if (obs.endedAt > session.lastSeen) session.lastSeen = obs.endedAt;
    const rec = packetRecord(obs, null, undefined);
    this.timelines.append(session, rec);
    const late: Violation[] = [];
    this.reportLateOverlaps(session, obs, undefined, late);
    for (const v of late) addViolationCode(session, v);
    this.push(out, { seq: 0, type: 'packet', time, sessionId: session.id, packet: rec });
    if (obs.injected !== undefined) this.push(out, faultInjectedEvent(obs, session.id));
    this.emitViolations(out, undefined, late, time);
    this.emitChange(out, session, session.state, mark, false, time);
    this.account(session);
  }

  // ---- bookkeeping ----------------------------------------------------------------------

  private createSession(id: string, obs: Observation, host: string | undefined, adopted: boolean, state: SessionState): Session {
    const session = newSession({
      id, url: obs.url, path: pathOf(obs.url), client: obs.client.address, time: obs.startedAt, adopted, state,
      ...(host !== undefined ? { host } : {}),
    });
    this.stateCounts[state]++;
    this.cache.set(id, session);
    // Most Create-Sessions name the same Host: normalise only a new one.
    if (host !== undefined && host !== this.lastGatewayHost && this.gatewayHosts.size < MAX_GATEWAY_HOSTS) {
      this.lastGatewayHost = host;
      this.gatewayHosts.add(hostnameOnly(host));
    }
    return session;
  }

  private setState(session: Session, state: SessionState): void {
    if (session.state === state) return;
    this.stateCounts[session.state]--;
    this.stateCounts[state]++;
    session.state = state;
  }

  /**
   * Re-measures `session` (just observed, so the most recently active) and evicts the least
   * recently active sessions while the total is over budget. The size lives in the session,
   * not in lru-cache: a session grows after it is set, and lru-cache only sizes an entry when
   * it is set with a different value.
   */
  private account(session: Session): void {
    const bytes = sessionBytes(session);
    this.sessionBytesTotal += bytes - session.accountedBytes;
    session.accountedBytes = bytes;
    const budget = this.opts.maxSessionMemory;
    while (this.sessionBytesTotal + this.timelines.retainedBytes > budget && this.cache.size > 1) this.cache.pop();
  }

  private onDispose(session: Session, reason: LRUCache.DisposeReason): void {
    this.sessionBytesTotal -= session.accountedBytes;
    session.accountedBytes = 0;
    this.timelines.release(session);
    this.stateCounts[session.state]--;
    this.replies.drop(session);
    if (reason !== 'evict') return;
    session.state = 'evicted';
    clearInflight(session);
    this.stateCounts.evicted++;
    this.push(this.out, { seq: 0, type: 'session-evicted', time: this.now, session: toSummary(session), reason: 'capacity' });
  }

  private emitChange(
    out: BitsEvent[], session: Session, before: SessionState | undefined, mark: ChangeMark | undefined,
    created: boolean, time: number,
  ): void {
    const endedNow = TERMINAL_STATES.has(session.state) && before !== session.state;
    if (endedNow) this.push(out, { seq: 0, type: 'session-ended', time, session: toSummary(session) });
    else if (!created && mark && changedSince(mark, session)) this.push(out, { seq: 0, type: 'session-updated', time, session: toSummary(session) });
  }

  /** Emits violation events (and, for begin(), records them on the session). */
  private emitViolations(out: BitsEvent[], session: Session | undefined, list: Violation[], time: number): void {
    for (const v of list) {
      if (session) addViolationCode(session, v);
      if (v.severity !== 'info') this.violationCounts[v.code] = (this.violationCounts[v.code] ?? 0) + 1;
      const seq = this.push(out, { seq: 0, type: 'violation', time, violation: v });
      this.recent.push({ ...v, seq });
      if (this.recent.length > 2 * this.opts.maxRecentViolations) this.recent = this.recent.slice(-this.opts.maxRecentViolations);
    }
  }

  /** Stamps the next seq on an event built with `seq: 0` (no spread: this runs per event). */
  private push(out: BitsEvent[], event: BitsEvent): number {
    const seq = ++this.lastSeq;
    event.seq = seq;
    out.push(event);
    return seq;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
