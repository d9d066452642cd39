import type { BitsEvent } from '../sessions/events.js';

/**
 * The events one dashboard client has not been sent yet, oldest first.
 *
 * A `session-updated` carries the whole session summary, so a newer one for the same
 * session makes a queued one useless: the old entry is removed and the new one appended,
 * which keeps seq order increasing. A session's end event also removes its queued update.
 * That is what keeps a slow browser's queue proportional to the number of *sessions*
 * changing, not to the event rate.
 *
 * Each event comes with its estimated size (event-size.ts, computed once by the hub), kept
 * beside it, so the queue's byte count never recomputes a size however far behind it is.
 */
export class ClientQueue {
  private items: (BitsEvent | null)[] = [];
  /** Estimated bytes of items[i], set by push. */
  private sizes: number[] = [];
  private queuedBytes = 0;
  private head = 0;
  /** Absolute index of items[0] (entries removed by compaction so far). */
  private base = 0;
  private live = 0;
  /** Session id -> absolute index of its queued `session-updated`. */
  private readonly updates = new Map<string, number>();
  /** Entries removed because a newer update replaced them (for metrics and tests). */
  coalesced = 0;

  get length(): number {
    return this.live;
  }

  /** Estimated bytes queued: an upper bound (coalesced events are not subtracted until the queue empties). */
  get bytes(): number {
    return this.queuedBytes;
  }

  push(event: BitsEvent, bytes = 0): void {
    if (event.type === 'session-updated' || event.type === 'session-ended' || event.type === 'session-evicted') {
      const id = event.session.id;
      const at = this.updates.get(id);
      if (at !== undefined) {
        const local = at - this.base;
        if (local >= this.head && this.items[local] !== null) {
          this.items[local] = null;
          this.live--;
          this.coalesced++;
        }
        this.updates.delete(id);
      }
      if (event.type === 'session-updated') this.updates.set(id, this.base + this.items.length);
    }
    this.items.push(event);
    this.sizes.push(bytes);
    this.queuedBytes += bytes;
    this.live++;
  }

  /** Removes and returns up to `max` events, oldest first. */
  take(max: number): BitsEvent[] {
    const out: BitsEvent[] = [];
    while (out.length < max && this.head < this.items.length) {
      const e = this.items[this.head];
      this.items[this.head] = null;
      this.head++;
      if (e === null || e === undefined) continue;
      this.live--;
      this.queuedBytes -= this.sizes[this.head - 1]!;
      if (e.type === 'session-updated' && this.updates.get(e.session.id) === this.base + this.head - 1) {
        this.updates.delete(e.session.id);
      }
      out.push(e);
    }
    if (this.live === 0) this.queuedBytes = 0;
    this.compact();
    return out;
  }

  clear(): void {
    this.base += this.items.length;
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.live = 0;
    this.queuedBytes = 0;
    this.updates.clear();
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.base += this.items.length;
      this.items = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.base += this.head;
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}
