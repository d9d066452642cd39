import type { HeaderList } from '../observation.js';
import type { PacketKind, PacketRecord, SessionDetail, SessionState, SessionSummary, Severity, ViolationCode } from './events.js';

export interface Inflight {
  exchange: number;
  kind: PacketKind;
  since: number;
  connectionId: number;
  /** The request head's header list (shared with the gateway, never copied): its Content-Range is read only if a Close races it. */
  headers: HeaderList;
}

/**
 * The latest Fragment the server answered 2xx: what it acknowledged (R after it), and when and
 * on which connection that request ran. A request the client abandoned is told from a busy one
 * by it (close-overlap.ts, isAbandoned). One object per session, updated in place.
 */
export interface Advance {
  startedAt: number;
  endedAt: number;
  connectionId: number;
  offset: number;
}

/** A Close-Session exchange remembered for the retroactive close-while-busy check. */
export interface CloseSpan {
  exchange: number;
  startedAt: number;
  /** Undefined while the Close is still in flight (known only through begin()). */
  endedAt?: number;
  busyFlagged: boolean;
  /** The session's Advance when the Close was seen (a copy): what the client knew when it closed. */
  advance?: Advance;
}

/**
 * The tracker's mutable record of one session. Only the tracker writes it; the outside
 * world sees copies (SessionSummary / SessionDetail) so events stay immutable snapshots.
 */
export interface Session extends Omit<SessionSummary, 'outstanding'> {
  /** Path of `url`, compared by the close-other-url rule. */
  path: string;
  hostIdFallbackTimeoutSec?: number;
  /** Epoch ms of the last 2xx Create/Fragment Ack: idle time for close-after-expiry and expiry (§5). */
  lastProgress: number;
  /** Epoch ms of the last answer from the BITS-Host-Id host: the client's fallback timer cannot start before it (§3). */
  hostIdLastAnswered: number;
  /** The client connection that carried the latest answered Close-Session of a closed session. */
  closeConnection?: number;
  /** That connection closed right after the Close Ack, carrying nothing else: the Ack may have been lost. */
  closeConnectionDropped?: boolean;
  /** That connection carried another request after the Close Ack: the client had the Ack. */
  closeConnectionReused?: boolean;
  /** The §5 Close rules judged a Close of this session already: a resent Close is not judged again. */
  closeJudged?: boolean;
  /** While `closing`: the answer of the first unconfirmed Close (e.g. `503`), for close-rejected's message. */
  closeRetriedAfter?: string;
  /** While `closing`: some Close got no answer (close-rejected's message names it; the verdict is the same after a 5xx). */
  closeUnanswered?: boolean;
  /**
   * Requests announced by begin() and not yet observed. A BITS client has one at a time, so
   * the first lives in three plain fields (no allocation per request on the gateway's hot
   * path) and only concurrent extras go to an array. busyExchange -1: none.
   */
  busyExchange: number;
  busyKind: PacketKind;
  busySince: number;
  busyConnection: number;
  busyHeaders: HeaderList | undefined;
  moreInflight?: Inflight[];
  /** The latest 2xx Fragment Ack (undefined before the first). */
  advance?: Advance;
  /** startedAt of the Close/Cancel whose 2xx ended the session: a request begun before it was not sent after the end. */
  endRequestedAt?: number;
  /** Close-Session exchanges seen so far (bounded, newest last). */
  closes?: CloseSpan[];
  timeline: PacketRecord[];
  /** Estimated bytes of the timeline entries (src/sessions/retention.ts), kept by Timelines. */
  timelineBytes: number;
  /** What the tracker last accounted for this session against its byte budget. */
  accountedBytes: number;
}

export const MAX_VIOLATIONS_PER_SESSION = 100;
/** Shared by every session that has none yet (most of them): no empty array per session. */
const NONE: never[] = Object.freeze([]) as unknown as never[];
export const MAX_CLOSES_PER_SESSION = 8;
export const MAX_ERROR_CODES_PER_SESSION = 20;

export function newSession(init: {
  id: string;
  url: string;
  path: string;
  host?: string;
  client: string;
  time: number;
  adopted: boolean;
  state: SessionState;
}): Session {
  const s: Session = {
    id: init.id,
    state: init.state,
    url: init.url,
    path: init.path,
    client: init.client,
    totalLength: null,
    ackedBytes: 0,
    relayedBytes: 0,
    fragments: 0,
    retransmittedBytes: 0,
    replyFetched: false,
    errorCodes: NONE,
    firstSeen: init.time,
    lastSeen: init.time,
    lastProgress: init.time,
    hostIdLastAnswered: init.time,
    adopted: init.adopted,
    violations: NONE,
    timeline: NONE,
    timelineBytes: 0,
    accountedBytes: 0,
    busyExchange: -1,
    busyKind: 'unknown',
    busySince: 0,
    busyConnection: -1,
    busyHeaders: undefined,
  };
  if (init.host !== undefined) s.host = init.host;
  return s;
}

/** Records a warning or error against the session; info findings are emitted, not held as violations. */
export function addViolationCode(s: Session, v: { code: ViolationCode; severity: Severity }): void {
  if (v.severity === 'info') return;
  if (s.violations === NONE) s.violations = [v.code];
  else if (s.violations.length < MAX_VIOLATIONS_PER_SESSION) s.violations.push(v.code);
}

export function addErrorCode(s: Session, code: string): void {
  if (s.errorCodes === NONE) s.errorCodes = [code];
  else if (s.errorCodes.length < MAX_ERROR_CODES_PER_SESSION) s.errorCodes.push(code);
}

export function addInflight(s: Session, exchange: number, kind: PacketKind, since: number, connectionId: number, headers: HeaderList): void {
  if (s.busyExchange < 0) {
    s.busyExchange = exchange;
    s.busyKind = kind;
    s.busySince = since;
    s.busyConnection = connectionId;
    s.busyHeaders = headers;
  } else {
    (s.moreInflight ??= []).push({ exchange, kind, since, connectionId, headers });
  }
}

export function removeInflight(s: Session, exchange: number): void {
  if (s.busyExchange === exchange) {
    const next = s.moreInflight?.shift();
    if (next) {
      s.busyExchange = next.exchange;
      s.busyKind = next.kind;
      s.busySince = next.since;
      s.busyConnection = next.connectionId;
      s.busyHeaders = next.headers;
      if (s.moreInflight!.length === 0) s.moreInflight = undefined;
    } else {
      s.busyExchange = -1;
      s.busyHeaders = undefined;
    }
    return;
  }
  const more = s.moreInflight;
  if (!more) return;
  for (let i = 0; i < more.length; i++) {
    if (more[i]!.exchange === exchange) {
      more.splice(i, 1);
      if (more.length === 0) s.moreInflight = undefined;
      return;
    }
  }
}

export function clearInflight(s: Session): void {
  s.busyExchange = -1;
  s.busyHeaders = undefined;
  s.moreInflight = undefined;
}

/** The requests in flight other than `except` (allocates: called only when a Close begins or ends). */
export function inflightOthers(s: Session, except: number): Inflight[] {
  const out: Inflight[] = [];
  if (s.busyExchange >= 0 && s.busyExchange !== except) {
    out.push({ exchange: s.busyExchange, kind: s.busyKind, since: s.busySince, connectionId: s.busyConnection, headers: s.busyHeaders ?? [] });
  }
  if (s.moreInflight) for (const f of s.moreInflight) if (f.exchange !== except) out.push(f);
  return out;
}

/** Records a 2xx Fragment Ack as the session's latest Advance. */
export function noteAdvance(s: Session, startedAt: number, endedAt: number, connectionId: number, offset: number): void {
  const a = (s.advance ??= { startedAt, endedAt, connectionId, offset });
  a.startedAt = startedAt;
  a.endedAt = endedAt;
  a.connectionId = connectionId;
  a.offset = offset;
}

export function isInflight(s: Session, exchange: number): boolean {
  if (s.busyExchange === exchange) return true;
  return s.moreInflight !== undefined && s.moreInflight.some((f) => f.exchange === exchange);
}

/** The oldest in-flight request, as SessionSummary.outstanding shows it. */
function outstandingOf(s: Session): SessionSummary['outstanding'] {
  if (s.busyExchange < 0) return undefined;
  let best = { exchange: s.busyExchange, kind: s.busyKind, since: s.busySince };
  if (s.moreInflight) for (const v of s.moreInflight) if (v.since < best.since) best = { exchange: v.exchange, kind: v.kind, since: v.since };
  return best;
}

/** A snapshot: safe to hand to sinks that keep it. */
export function toSummary(s: Session): SessionSummary {
  const out: SessionSummary = {
    id: s.id,
    state: s.state,
    url: s.url,
    client: s.client,
    totalLength: s.totalLength,
    ackedBytes: s.ackedBytes,
    relayedBytes: s.relayedBytes,
    fragments: s.fragments,
    retransmittedBytes: s.retransmittedBytes,
    replyFetched: s.replyFetched,
    // Fresh arrays, never the shared empty one: sinks own their snapshots.
    errorCodes: s.errorCodes.length ? s.errorCodes.slice() : [],
    firstSeen: s.firstSeen,
    lastSeen: s.lastSeen,
    adopted: s.adopted,
    violations: s.violations.length ? s.violations.slice() : [],
  };
  if (s.host !== undefined) out.host = s.host;
  if (s.contentName !== undefined) out.contentName = s.contentName;
  if (s.protocol !== undefined) out.protocol = s.protocol;
  if (s.hostId !== undefined) out.hostId = s.hostId;
  if (s.replyUrl !== undefined) out.replyUrl = s.replyUrl;
  const outstanding = outstandingOf(s);
  if (outstanding) out.outstanding = outstanding;
  return out;
}

export function toDetail(s: Session): SessionDetail {
  return { ...toSummary(s), timeline: s.timeline.slice() };
}

/** What a session-updated event reports, captured before an exchange is applied. */
export interface ChangeMark {
  state: SessionState;
  acked: number;
  relayed: number;
  total: number | null;
  violations: number;
  errors: number;
  replyFetched: boolean;
  replyUrl: string | undefined;
}

/** Fills `m` from the session (no allocation: the tracker reuses one mark per call). */
export function fillMark(m: ChangeMark, s: Session | undefined): ChangeMark {
  m.state = s ? s.state : 'open';
  m.acked = s ? s.ackedBytes : 0;
  m.relayed = s ? s.relayedBytes : 0;
  m.total = s ? s.totalLength : null;
  m.violations = s ? s.violations.length : 0;
  m.errors = s ? s.errorCodes.length : 0;
  m.replyFetched = s ? s.replyFetched : false;
  m.replyUrl = s?.replyUrl;
  return m;
}

/** True when a field a dashboard shows changed: no session-updated event for a no-op. */
export function changedSince(m: ChangeMark, s: Session): boolean {
  return m.state !== s.state || m.acked !== s.ackedBytes || m.relayed !== s.relayedBytes || m.total !== s.totalLength ||
    m.violations !== s.violations.length || m.errors !== s.errorCodes.length || m.replyFetched !== s.replyFetched ||
    m.replyUrl !== s.replyUrl;
}
