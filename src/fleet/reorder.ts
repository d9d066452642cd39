import { entryTime, type FleetEntry } from './wire.js';

/**
 * The ordering every node applies. Stream IDs give arrival order at Redis, not the order
 * exchanges ended: node A's batch can reach Redis after node B's although A's exchange
 * ended first. So entries wait in this window and leave sorted by (end time, node, boot,
 * seq) once `now - endedAt >= windowMs`. Within the window every node applies the same
 * order; an entry later than the window (a node catching up after Redis returned) is
 * applied as it comes, still sorted with whatever is released with it.
 *
 * Kept sorted on insert: entries arrive nearly in order, so an insert is almost always an
 * append (a binary search and a short move otherwise), and a release takes a prefix. No
 * sort per tick: that was the cost at high rates.
 * Pure: time is passed in.
 */
export class ReorderWindow {
  private pending: FleetEntry[] = [];
  private head = 0;

  constructor(readonly windowMs: number) {}

  get size(): number {
    return this.pending.length - this.head;
  }

  add(entry: FleetEntry): void {
    const p = this.pending;
    if (p.length === this.head || compareEntries(p[p.length - 1]!, entry) <= 0) {
      p.push(entry);
      return;
    }
    let lo = this.head;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareEntries(p[mid]!, entry) <= 0) lo = mid + 1;
      else hi = mid;
    }
    p.splice(lo, 0, entry);
  }

  /** When the oldest entry held is due (epoch ms), undefined when empty. */
  nextDue(): number | undefined {
    return this.size === 0 ? undefined : entryTime(this.pending[this.head]!) + this.windowMs;
  }

  /** Entries due at `now`, in fleet order. `all` releases everything (history replay, shutdown). */
  release(now: number, all = false): FleetEntry[] {
    if (this.size === 0) return [];
    const cut = now - this.windowMs;
    let i = this.head;
    if (all) i = this.pending.length;
    else while (i < this.pending.length && entryTime(this.pending[i]!) <= cut) i++;
    if (i === this.head) return [];
    const out = this.pending.slice(this.head, i);
    this.head = i;
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}

function compareEntries(a: FleetEntry, b: FleetEntry): number {
  return entryTime(a) - entryTime(b)
    || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)
    || (a.boot < b.boot ? -1 : a.boot > b.boot ? 1 : 0)
    || a.seq - b.seq;
}
