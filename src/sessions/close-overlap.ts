/**
 * close-while-busy, found from time spans: which requests of a session overlapped a
 * Close-Session. Live, begin() knows the requests in flight; in a replay (no begin) the
 * overlap shows up afterwards, in either order of completion:
 *  - the other request ended first but after the Close started: seen when the Close ends
 *    (closeOverlaps scans the timeline);
 *  - the Close ended first: seen when the other request ends (lateOverlaps checks the
 *    remembered Close spans).
 * Each Close is reported once (busyFlagged). Overlap is strict: a Close that starts in the
 * millisecond the last Ack ended is not busy.
 *
 * A request the client abandoned is not busy (isAbandoned). "At most one request outstanding"
 * (§1) is the client's view: after a connection breaks silently (no FIN reaches the gateway, which
 * keeps waiting for the rest of a Fragment's body until its body timeout), the client reconnects
 * and resends with the same session id (§1 "session ≠ connection"). Reading chosen (§5
 * close-while-busy "races the deletion"): a request R of the session no longer counts once the
 * server answered 2xx, on another connection, a Fragment begun after R started and before the
 * Close, acknowledging an offset past R's last byte. The client has moved on from R, and R
 * carries nothing the server lacks, so the Close races nothing. A Close racing a request the
 * client did not move on from (no such Ack, or one that leaves R's bytes unacknowledged) is
 * still close-while-busy. A request whose connection closed is observed (aborted) at once by
 * the gateway, so it is not in flight anymore either.
 */
import { headerValue, parseContentRange } from '../protocol/index.js';
import type { HeaderList, Observation } from '../observation.js';
import { type Advance, type CloseSpan, inflightOthers, isInflight, MAX_CLOSES_PER_SESSION, type Session } from './session.js';

const NONE: readonly number[] = [];

/** The parts of a request isAbandoned reads; rangeEnd undefined: not a Fragment with a valid range. */
interface Pending {
  startedAt: number;
  connectionId: number;
  rangeEnd: number | undefined;
}

/**
 * The client abandoned `r` before the Close that started at `closeStartedAt`: the server had
 * answered 2xx (advance: the latest such Ack the Close could know of) on another connection to
 * a Fragment begun after `r`, acknowledging every byte `r` carries.
 */
export function isAbandoned(r: Pending, advance: Advance | undefined, closeStartedAt: number): boolean {
  return advance !== undefined && r.rangeEnd !== undefined && advance.connectionId !== r.connectionId &&
    advance.startedAt > r.startedAt && advance.endedAt <= closeStartedAt && advance.offset > r.rangeEnd;
}

function rangeEndOf(headers: HeaderList): number | undefined {
  const value = headerValue(headers, 'content-range');
  if (value === undefined) return undefined;
  const range = parseContentRange(value);
  return range.ok ? range.value.end : undefined;
}

/** The requests in flight other than `close` that the client has not abandoned (live: begin() knows them). */
export function busyInflight(session: Session, close: number, closeStartedAt: number, advance: Advance | undefined): number[] {
  const out: number[] = [];
  for (const f of inflightOthers(session, close)) {
    const rangeEnd = f.kind === 'fragment' && advance ? rangeEndOf(f.headers) : undefined;
    if (!isAbandoned({ startedAt: f.since, connectionId: f.connectionId, rangeEnd }, advance, closeStartedAt)) out.push(f.exchange);
  }
  return out;
}

/** Exchanges of `session` that overlapped the Close-Session `close`, unless that Close was reported already. */
export function closeOverlaps(session: Session, close: Observation): readonly number[] {
  const span = findClose(session, close.id);
  if (span?.busyFlagged) return NONE; // already reported live by begin()
  const advance = span ? span.advance : session.advance;
  const others = busyInflight(session, close.id, close.startedAt, advance);
  const tl = session.timeline;
  for (let i = tl.length - 1; i >= 0; i--) {
    const r = tl[i]!;
    if (r.exchange === close.id || r.kind === 'create-session') continue;
    if (r.startedAt + r.ms <= close.startedAt) {
      // The timeline is in completion order, so older entries ended earlier still; completions
      // of concurrent requests may interleave, hence a few more entries before stopping.
      if (i < tl.length - 8) break;
      continue;
    }
    if (r.startedAt < close.endedAt && !others.includes(r.exchange) &&
      !isAbandoned({ startedAt: r.startedAt, connectionId: r.connectionId, rangeEnd: r.range?.end }, advance, close.startedAt)) {
      others.push(r.exchange);
    }
  }
  if (span && others.length > 0) span.busyFlagged = true;
  return others;
}

/**
 * Close-Session exchanges that `obs` (a later-completed request; `rangeEnd` its Fragment's last
 * byte) overlapped; each is marked reported.
 */
export function lateOverlaps(session: Session, obs: Observation, rangeEnd: number | undefined): readonly number[] {
  const closes = session.closes;
  if (!closes) return NONE;
  let found: number[] | undefined;
  for (const c of closes) {
    if (c.busyFlagged || c.exchange === obs.id) continue;
    const closeEnd = c.endedAt ?? Infinity;
    if (obs.startedAt < closeEnd && c.startedAt < obs.endedAt &&
      !isAbandoned({ startedAt: obs.startedAt, connectionId: obs.connectionId, rangeEnd }, c.advance, c.startedAt)) {
      c.busyFlagged = true;
      (found ??= []).push(c.exchange);
    }
  }
  return found ?? NONE;
}

/** Records the span of a finished Close-Session; an auth challenge round (401/407) is not a Close at all. */
export function closeEnded(session: Session, obs: Observation, authRound: boolean): void {
  const closes = session.closes;
  const i = closes ? closes.findIndex((c) => c.exchange === obs.id) : -1;
  if (authRound) {
    if (i >= 0) closes!.splice(i, 1);
  } else if (i >= 0) {
    closes![i]!.endedAt = obs.endedAt;
  } else {
    rememberClose(session, { exchange: obs.id, startedAt: obs.startedAt, endedAt: obs.endedAt, busyFlagged: false });
  }
}

/** Remembers a Close-Session's span, with what the session had acknowledged when it was seen. */
export function rememberClose(session: Session, span: CloseSpan): void {
  if (session.advance) span.advance = { ...session.advance };
  const closes = (session.closes ??= []);
  closes.push(span);
  if (closes.length > MAX_CLOSES_PER_SESSION) closes.shift();
}

/** The Close-Session exchanges begin() announced and whose Ack has not come yet. */
export function closesInFlight(session: Session): CloseSpan[] {
  const out: CloseSpan[] = [];
  if (!session.closes || session.busyExchange < 0) return out;
  for (const c of session.closes) {
    if (c.endedAt === undefined && !c.busyFlagged && isInflight(session, c.exchange)) out.push(c);
  }
  return out;
}

function findClose(session: Session, exchange: number): CloseSpan | undefined {
  const closes = session.closes;
  if (!closes) return undefined;
  for (const c of closes) if (c.exchange === exchange) return c;
  return undefined;
}
