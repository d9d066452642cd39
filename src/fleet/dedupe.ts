/**
 * Which (node, boot, seq) entries were already applied. ioredis re-sends a written but
 * unanswered XADD after a reconnect, so one observation can land twice; and while Redis
 * was down this node applied its own observations locally before they reached the stream.
 * Per producer (node+boot) we keep the seqs seen within a window below the highest one;
 * anything older than the window counts as seen (a producer's entries arrive in seq order
 * apart from those re-sends, which come right after the original).
 */
export class SeenEntries {
  private readonly producers = new Map<string, { max: number; seen: Set<number> }>();

  constructor(private readonly window = 65_536, private readonly maxProducers = 4096) {}

  /** True the first time (and records it); false for a duplicate. */
  firstTime(producer: string, seq: number): boolean {
    let p = this.producers.get(producer);
    if (!p) {
      if (this.producers.size >= this.maxProducers) this.producers.delete(this.producers.keys().next().value!);
      p = { max: 0, seen: new Set() };
      this.producers.set(producer, p);
    }
    if (seq <= p.max - this.window || p.seen.has(seq)) return false;
    p.seen.add(seq);
    if (seq > p.max) {
      p.max = seq;
      if (p.seen.size > this.window * 2) for (const s of p.seen) if (s <= p.max - this.window) p.seen.delete(s);
    }
    return true;
  }
}
