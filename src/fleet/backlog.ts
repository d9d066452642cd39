/**
 * Entries waiting for Redis, bounded (`--fleet-backlog N`). When full the OLDEST entry is
 * dropped and counted: the newest observations are the ones a reconnecting fleet still
 * needs for sessions in flight. ioredis's own offline queue is unbounded, so it is off and
 * this is the only buffer.
 */
export class Backlog<T> {
  private items: T[] = [];
  private head = 0;
  /** Entries dropped because the backlog was full (never reset). */
  dropped = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    if (this.size >= this.limit) {
      this.head++;
      this.dropped++;
    }
    this.items.push(item);
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Removes and returns up to `n` of the oldest entries. */
  take(n: number): T[] {
    const out = this.items.slice(this.head, this.head + n);
    this.head += out.length;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return out;
  }

  /** Puts entries taken by take() back at the front (a batch Redis did not accept). */
  unshift(batch: T[]): void {
    this.items = [...batch, ...this.items.slice(this.head)];
    this.head = 0;
    while (this.size > this.limit) {
      this.head++;
      this.dropped++;
    }
  }
}
