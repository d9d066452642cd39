import type { SessionDetail, SessionSummary, Violation } from '../sessions/events.js';
import type { TrackerStats } from '../sessions/tracker.js';

/** Counters the tracker keeps; `/api/stats` and the snapshot carry them as they are. */
export type { TrackerStats } from '../sessions/tracker.js';

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
