import type { SessionDetail, SessionState, SessionSummary, Violation } from '../sessions/events.js';

/** Counters the tracker keeps; `/api/stats` and the snapshot carry them as they are. */
export interface TrackerStats {
  sessionsByState: Record<SessionState, number>;
  violationsByCode: Record<string, number>;
  observations: number;
  bytesRelayed: number;
  /** Seq of the most recent event (0 before the first). */
  seq: number;
}

/** A violation as the feed shows it: the event's seq is its stable identity. */
export type SeqViolation = Violation & { seq: number };

/**
 * What the dashboard reads of the session tracker (src/sessions). The tracker satisfies it
 * structurally; the dashboard never imports the tracker, so tests can drive it with a fake.
 */
export interface SnapshotSource {
  sessions(): SessionSummary[];
  session(id: string): SessionDetail | undefined;
  /** Newest first, bounded by the tracker. */
  recentViolations(): SeqViolation[];
  stats(): TrackerStats;
  /** Seq of the most recent event the tracker issued (0 before the first). */
  readonly seq: number;
}
