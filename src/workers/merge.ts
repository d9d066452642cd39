/**
 * The order in which the primary of `--workers N` feeds its one tracker.
 *
 * One session's exchanges can be relayed by two workers (a BITS client reconnects freely,
 * and each connection goes to the next worker): its Fragment ends on worker 1, then its
 * Close-Session on worker 2. Their batches reach the primary on two pipes, in either
 * order, so arrival order could show the tracker the Close first (a false
 * `close-incomplete`). The order is therefore defined as:
 *
 * 1. Each worker's items keep the order that worker sent them in.
 * 2. Across workers, the item that ended first goes first (observation: `endedAt`;
 *    connection close: `at`); at the same millisecond, the one that started first, then
 *    the lower worker id.
 * 3. An item is released only once every live worker has said it has nothing earlier
 *    (a watermark): each batch carries the worker's clock `at`, and what that worker sends
 *    later ended at or after `at`. Idle workers send empty batches (heartbeats), so the
 *    watermark moves. A silent worker (busy, stuck) holds the others back at most
 *    `maxHoldMs`; an item later than that is applied when it comes.
 *
 * All workers run on one machine with one clock, so "ended first" is a real order: a
 * client sends its Close after it got the Fragment's Ack, which is after the Fragment's
 * exchange ended. Pure: time is passed in.
 *
 * One exception to 3: an exchange is dated just before its answer's last bytes are written
 * (src/gateway/exchange.ts, lastByteAt) and sent at 'finish'; when that write completes late,
 * a batch in between carries an `at` after the end time. Harmless: the client reads those
 * bytes only once the write completed, after that `at`, so whatever it sends next ends after
 * it and waits for this worker's next batch, which carries the exchange.
 */
import type { WorkerItem } from './messages.js';

export interface MergedItem {
  /** The worker incarnation it came from (cluster worker id: a restarted worker gets a new one). */
  worker: number;
  item: WorkerItem;
}

interface Source {
  items: WorkerItem[];
  /** Index of the first unreleased item (items before it are spent). */
  head: number;
  /** Everything this worker sends from now on ended at or after this time. */
  watermark: number;
  live: boolean;
}

function itemTime(item: WorkerItem): number {
  return item.kind === 'observation' ? item.observation.endedAt : item.closed.at;
}

function itemStart(item: WorkerItem): number {
  return item.kind === 'observation' ? item.observation.startedAt : item.closed.at;
}

export class WorkerMerge {
  private readonly sources = new Map<number, Source>();

  constructor(private readonly maxHoldMs: number) {}

  /** A worker that will send (registered at fork: until its first batch it holds the others back). */
  addWorker(worker: number): void {
    if (!this.sources.has(worker)) this.sources.set(worker, { items: [], head: 0, watermark: -Infinity, live: true });
  }

  /** A batch from `worker`, sent at its time `at`. */
  add(worker: number, at: number, items: readonly WorkerItem[]): void {
    this.addWorker(worker);
    const s = this.sources.get(worker)!;
    for (const item of items) s.items.push(item);
    if (at > s.watermark) s.watermark = at;
  }

  /**
   * The worker is gone: it sends nothing more, so it holds nobody back. `finalItems` (its
   * lost connections' closes) are appended to what it sent.
   */
  removeWorker(worker: number, finalItems: readonly WorkerItem[] = []): void {
    const s = this.sources.get(worker);
    if (!s) return;
    for (const item of finalItems) s.items.push(item);
    s.live = false;
    if (s.head >= s.items.length) this.sources.delete(worker);
  }

  /** What `worker` sent that is not released yet, in its order. */
  unreleased(worker: number): readonly WorkerItem[] {
    const s = this.sources.get(worker);
    return s ? s.items.slice(s.head) : [];
  }

  get pending(): number {
    let n = 0;
    for (const s of this.sources.values()) n += s.items.length - s.head;
    return n;
  }

  /** Items due at `now`, in merged order. `all`: everything (shutdown). */
  release(now: number, all = false): MergedItem[] {
    let cut = all ? Infinity : now - this.maxHoldMs;
    if (!all) {
      let watermark = Infinity;
      for (const s of this.sources.values()) if (s.live && s.watermark < watermark) watermark = s.watermark;
      if (watermark > cut) cut = watermark;
    }
    const out: MergedItem[] = [];
    for (;;) {
      let best: Source | undefined;
      let bestWorker = 0;
      for (const [worker, s] of this.sources) {
        if (s.head >= s.items.length) continue;
        if (best === undefined || before(s.items[s.head]!, worker, best.items[best.head]!, bestWorker)) {
          best = s;
          bestWorker = worker;
        }
      }
      // Strictly before the cut: at the watermark's own millisecond the worker may still send.
      if (best === undefined || !(itemTime(best.items[best.head]!) < cut)) break;
      out.push({ worker: bestWorker, item: best.items[best.head++]! });
    }
    for (const [worker, s] of this.sources) {
      if (s.head >= s.items.length) {
        s.items = [];
        s.head = 0;
        if (!s.live) this.sources.delete(worker);
      } else if (s.head > 1024) {
        s.items = s.items.slice(s.head);
        s.head = 0;
      }
    }
    return out;
  }
}

function before(a: WorkerItem, aWorker: number, b: WorkerItem, bWorker: number): boolean {
  return (itemTime(a) - itemTime(b) || itemStart(a) - itemStart(b) || aWorker - bWorker) < 0;
}
