/**
 * The tracker of a fleet member, replaceable as a whole: after a Redis outage the fleet
 * link rebuilds the view from the stream into a fresh SessionTracker (src/fleet/fleet-link.ts)
 * and this puts it in place. Everything else (dashboard, /api, /metrics, expiry) reads the
 * tracker through here, so nobody holds the old one.
 *
 * One seq space across trackers: a fresh tracker counts from 1 again, so its seqs are
 * offset past the last seq of the one it replaces (the dashboard's stream contract needs
 * seqs to grow). Violations given since the outage began that the rebuilt tracker does not
 * confirm (same code, same session) are retracted: a `violation-retracted` event each,
 * then the dashboard hub sends every browser a fresh snapshot.
 */
import type { EventBus } from '../event-bus.js';
import type { ConnectionClosed, Observation } from '../observation.js';
import type { BitsEvent, SessionDetail, SessionSummary } from '../sessions/events.js';
import { SessionTracker, type RecentViolation, type SessionTrackerOptions, type TrackerStats } from '../sessions/tracker.js';
import { cleanText } from '../sinks/logger.js';
import type { RebuildTarget } from './fleet-link.js';

export class RebuildableTracker {
  current: SessionTracker;
  /** Added to the current tracker's seqs. */
  private base = 0;
  /** Seq (ours) when the current outage began; violations after it may be retracted. */
  private outageSeq: number | undefined;
  /** Called after a swap (the app resets the dashboard hub). */
  onReplaced: () => void = () => {};

  constructor(private readonly options: SessionTrackerOptions | undefined, private readonly bus: EventBus) {
    this.current = new SessionTracker(options);
  }

  get seq(): number {
    return this.base + this.current.seq;
  }

  observe(obs: Observation): BitsEvent[] {
    return this.shift(this.current.observe(obs));
  }

  connectionClosed(closed: ConnectionClosed): BitsEvent[] {
    return this.shift(this.current.connectionClosed(closed));
  }

  /** The inspector's expiry timer calls this (events are returned, it publishes them). */
  expire(now: number): BitsEvent[] {
    return this.shift(this.current.expire(now));
  }

  begin(): BitsEvent[] {
    return []; // not used in a fleet: close-while-busy is judged from start/end times
  }

  sessions(): SessionSummary[] {
    return this.current.sessions();
  }

  session(id: string): SessionDetail | undefined {
    return this.current.session(id);
  }

  recentViolations(): RecentViolation[] {
    const list = this.current.recentViolations();
    return this.base === 0 ? list : list.map((v) => ({ ...v, seq: v.seq + this.base }));
  }

  stats(): TrackerStats {
    return { ...this.current.stats(), seq: this.seq };
  }

  /** Redis went away: violations from here on were judged on a partial view. */
  markOutage(): void {
    this.outageSeq ??= this.seq;
  }

  /** A fresh tracker for the fleet link to replay the stream into (its events are not published: history). */
  rebuild(): RebuildTarget {
    const fresh = new SessionTracker(this.options);
    return {
      apply: (obs) => void fresh.observe(obs),
      applyClosed: (closed) => void fresh.connectionClosed(closed),
      commit: () => this.replace(fresh),
    };
  }

  private replace(fresh: SessionTracker): string[] {
    const old = this.current;
    const oldBase = this.base;
    const since = this.outageSeq ?? this.seq;
    const now = Date.now();
    // Seqs of the fresh tracker continue after the old one's (and the retraction events).
    let next = this.seq;
    // Confirmed: the rebuilt tracker found the same code on the same session (or, for a
    // finding without a session, the same message). Info findings count too: the feed lists them.
    const found = new Set(fresh.recentViolations().map((v) => `${v.code} ${v.sessionId ?? `- ${v.message}`}`));
    const confirmedBy = (code: string, sessionId: string | undefined, message: string) =>
      found.has(`${code} ${sessionId ?? `- ${message}`}`) ||
      (sessionId !== undefined && ((fresh.session(sessionId)?.violations as string[] | undefined)?.includes(code) ?? false));
    const retractions: BitsEvent[] = [];
    for (const v of old.recentViolations()) {
      const seq = v.seq + oldBase;
      if (seq <= since || confirmedBy(v.code, v.sessionId, v.message)) continue;
      const { seq: _own, ...violation } = v;
      retractions.push({ type: 'violation-retracted', seq: ++next, time: now, retractedSeq: seq, violation, reason: 'fleet-rebuild' });
    }
    this.current = fresh;
    this.base = next;
    this.outageSeq = undefined;
    this.bus.publish(retractions.reverse()); // oldest first
    this.onReplaced();
    return retractions.map((e) => {
      const v = (e as Extract<BitsEvent, { type: 'violation-retracted' }>).violation;
      return v.sessionId === undefined ? v.code : `${v.code} (session ${cleanText(v.sessionId, 100)})`;
    });
  }

  private shift(events: BitsEvent[]): BitsEvent[] {
    if (this.base !== 0) for (const e of events) e.seq += this.base;
    return events;
  }
}
