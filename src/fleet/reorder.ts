import { entryTime, type FleetEntry } from './wire.js';

/**
 * The ordering every node applies. Stream IDs give arrival order at Redis, not the order
 * exchanges ended: node A's batch can reach Redis after node B's although A's exchange
 * ended first. So entries wait in this window and leave sorted by (end time, node, boot,
 * seq) once `now - endedAt >= windowMs`. Within the window every node applies the same
 * order; an entry later than the window (a node catching up after Redis returned) is
 * applied as it comes, still sorted with whatever is released with it.
 * Pure: time is passed in.
 */
export class ReorderWindow {
  private pending: FleetEntry[] = [];

  constructor(private readonly windowMs: number) {}

  get size(): number {
    return this.pending.length;
  }

  add(entry: FleetEntry): void {
    this.pending.push(entry);
  }

  /** Entries due at `now`, in fleet order. `all` releases everything (history replay, shutdown). */
  release(now: number, all = false): FleetEntry[] {
    if (this.pending.length === 0) return [];
    this.pending.sort(compareEntries);
    const cut = now - this.windowMs;
    let i = 0;
    if (all) i = this.pending.length;
    else while (i < this.pending.length && entryTime(this.pending[i]!) <= cut) i++;
    return i === 0 ? [] : this.pending.splice(0, i);
  }
}

export function compareEntries(a: FleetEntry, b: FleetEntry): number {
  return entryTime(a) - entryTime(b)
    || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)
    || (a.boot < b.boot ? -1 : a.boot > b.boot ? 1 : 0)
    || a.seq - b.seq;
}
