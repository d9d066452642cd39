import type { BitsEvent } from '../sessions/events.js';

export interface RingEntry {
  event: BitsEvent;
  /** Estimated bytes, as pushed. */
  bytes: number;
}

/**
 * The last events, so a reconnecting browser can resume with `?since=SEQ` instead of
 * downloading a full snapshot: at most `capacity` events and at most `maxBytes` of them
 * (sizes from event-size.ts; the newest event is always kept). Fixed arrays, no
 * allocation per event.
 */
export class EventRing {
  private readonly items: (BitsEvent | undefined)[];
  private readonly sizes: Float64Array;
  private start = 0;
  private count = 0;
  private held = 0;
  /** Every event with seq > coveredAfter is still held (the ring can replay from there). */
  private coveredAfter: number;
  private last: number;

  constructor(readonly capacity: number, initialSeq = 0, readonly maxBytes = Number.POSITIVE_INFINITY) {
    if (!(capacity >= 1)) throw new RangeError('EventRing capacity must be >= 1');
    if (!(maxBytes >= 1)) throw new RangeError('EventRing maxBytes must be >= 1');
    this.items = new Array(capacity);
    this.sizes = new Float64Array(capacity);
    this.coveredAfter = initialSeq;
    this.last = initialSeq;
  }

  get size(): number {
    return this.count;
  }

  /** Estimated bytes of the events held. */
  get bytes(): number {
    return this.held;
  }

  /** Seq of the newest event pushed (or the initial seq). */
  get lastSeq(): number {
    return this.last;
  }

  push(event: BitsEvent, bytes = 0): void {
    while (this.count > 0 && (this.count === this.capacity || this.held + bytes > this.maxBytes)) this.dropOldest();
    const at = (this.start + this.count) % this.capacity;
    this.items[at] = event;
    this.sizes[at] = bytes;
    this.held += bytes;
    this.count++;
    if (event.seq > this.last) this.last = event.seq;
  }

  /**
   * Events with seq > since, oldest first, each with the size it was pushed with; undefined
   * when some of them were already dropped (or `since` is from the future, e.g. a previous
   * server process).
   */
  since(since: number): RingEntry[] | undefined {
    if (!Number.isSafeInteger(since) || since < this.coveredAfter || since > this.last) return undefined;
    const out: RingEntry[] = [];
    for (let i = 0; i < this.count; i++) {
      const at = (this.start + i) % this.capacity;
      const event = this.items[at]!;
      if (event.seq > since) out.push({ event, bytes: this.sizes[at]! });
    }
    return out;
  }

  private dropOldest(): void {
    this.coveredAfter = this.items[this.start]!.seq;
    this.items[this.start] = undefined;
    this.held -= this.sizes[this.start]!;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }
}
