import type { BitsEvent } from '../sessions/events.js';

/**
 * The last `capacity` events, so a reconnecting browser can resume with `?since=SEQ`
 * instead of downloading a full snapshot. Fixed array, no allocation per event.
 */
export class EventRing {
  private readonly items: (BitsEvent | undefined)[];
  private start = 0;
  private count = 0;
  /** Every event with seq > coveredAfter is still held (the ring can replay from there). */
  private coveredAfter: number;
  private last: number;

  constructor(readonly capacity: number, initialSeq = 0) {
    if (!(capacity >= 1)) throw new RangeError('EventRing capacity must be >= 1');
    this.items = new Array(capacity);
    this.coveredAfter = initialSeq;
    this.last = initialSeq;
  }

  get size(): number {
    return this.count;
  }

  /** Seq of the newest event pushed (or the initial seq). */
  get lastSeq(): number {
    return this.last;
  }

  push(event: BitsEvent): void {
    if (this.count === this.capacity) {
      this.coveredAfter = this.items[this.start]!.seq;
      this.items[this.start] = undefined;
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    this.items[(this.start + this.count) % this.capacity] = event;
    this.count++;
    if (event.seq > this.last) this.last = event.seq;
  }

  /**
   * Events with seq > since, oldest first; undefined when some of them were already
   * dropped (or `since` is from the future, e.g. a previous server process).
   */
  since(since: number): BitsEvent[] | undefined {
    if (!Number.isSafeInteger(since) || since < this.coveredAfter || since > this.last) return undefined;
    const out: BitsEvent[] = [];
    for (let i = 0; i < this.count; i++) {
      const e = this.items[(this.start + i) % this.capacity]!;
      if (e.seq > since) out.push(e);
    }
    return out;
  }
}
