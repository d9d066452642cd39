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
 */
import type { Observation } from '../observation.js';
import { type CloseSpan, inflightOthers, isInflight, MAX_CLOSES_PER_SESSION, type Session } from './session.js';

const NONE: readonly number[] = [];

/** Exchanges of `session` that overlapped the Close-Session `close`, unless that Close was reported already. */
export function closeOverlaps(session: Session, close: Observation): readonly number[] {
  const span = findClose(session, close.id);
  if (span?.busyFlagged) return NONE; // already reported live by begin()
  const others = inflightOthers(session, close.id);
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
    if (r.startedAt < close.endedAt && !others.includes(r.exchange)) others.push(r.exchange);
  }
  if (span && others.length > 0) span.busyFlagged = true;
  return others;
}

/** Close-Session exchanges that `obs` (a later-completed request) overlapped; each is marked reported. */
export function lateOverlaps(session: Session, obs: Observation): readonly number[] {
  const closes = session.closes;
  if (!closes) return NONE;
  let found: number[] | undefined;
  for (const c of closes) {
    if (c.busyFlagged || c.exchange === obs.id) continue;
    const closeEnd = c.endedAt ?? Infinity;
    if (obs.startedAt < closeEnd && c.startedAt < obs.endedAt) {
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

export function rememberClose(session: Session, span: CloseSpan): void {
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
