/**
 * Fixed-size time buckets for the overview charts: a ring of `count` buckets of `bucketMs`
 * each. Memory never grows with traffic or time: old buckets are reused as time moves on,
 * events older than the window are dropped, and each bucket holds a few counters.
 */
import type { SessionState } from '../../src/sessions/events.js';

export interface Bucket {
  /** Epoch ms at which the bucket starts. */
  start: number;
  bytes: number;
  /** Violations by code in this bucket. */
  violations: Map<string, number>;
  /** Sessions by state, as last sampled in this bucket (null: not sampled). */
  states: Partial<Record<SessionState, number>> | null;
}

export class TimeBuckets {
  private readonly ring: Bucket[];
  /** Index (time / bucketMs) of the newest bucket; -Infinity before the first event. */
  private newest = -Infinity;

  constructor(readonly bucketMs: number, readonly count: number) {
    this.ring = Array.from({ length: count }, () => ({ start: 0, bytes: 0, violations: new Map(), states: null }));
  }

  /** Moves the window so that `time` falls in the newest bucket (never backwards). */
  advance(time: number): void {
    const idx = Math.floor(time / this.bucketMs);
    if (idx <= this.newest) return;
    const from = Number.isFinite(this.newest) ? Math.max(this.newest + 1, idx - this.count + 1) : idx - this.count + 1;
    for (let i = from; i <= idx; i++) {
      const b = this.ring[((i % this.count) + this.count) % this.count]!;
      b.start = i * this.bucketMs;
      b.bytes = 0;
      b.violations.clear();
      b.states = null;
    }
    this.newest = idx;
  }

  /** The bucket for `time`, or undefined when it is older than the window. */
  private at(time: number): Bucket | undefined {
    this.advance(time);
    const idx = Math.floor(time / this.bucketMs);
    if (idx <= this.newest - this.count) return undefined;
    return this.ring[((idx % this.count) + this.count) % this.count];
  }

  addBytes(time: number, n: number): void {
    const b = this.at(time);
    if (b) b.bytes += n;
  }

  addViolation(time: number, code: string): void {
    const b = this.at(time);
    if (b) b.violations.set(code, (b.violations.get(code) ?? 0) + 1);
  }

  clearViolations(): void {
    for (const b of this.ring) b.violations.clear();
  }

  sampleStates(time: number, states: Partial<Record<SessionState, number>>): void {
    const b = this.at(time);
    if (b) b.states = states;
  }

  /** The window, oldest first, ending with the bucket that holds `now`. */
  buckets(now: number): Bucket[] {
    this.advance(now);
    const out: Bucket[] = [];
    for (let i = this.newest - this.count + 1; i <= this.newest; i++) out.push(this.ring[((i % this.count) + this.count) % this.count]!);
    return out;
  }
}
