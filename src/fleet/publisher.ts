import type { Redis } from 'ioredis';
import { Backlog } from './backlog.js';
import { encodeEntries, type FleetEntry } from './wire.js';

export interface PublisherOptions {
  stream: string;
  /** `MAXLEN ~` bound of the stream (Redis frees whole nodes, so a little more is kept). */
  maxLen: number;
  backlogLimit: number;
  /** Records per pipelined batch (default 4096; packed PACK_MAX to a stream entry). */
  batchSize?: number;
  /** Batches sent before the first is answered (default 4). */
  maxInFlight?: number;
  /** A batch not answered within this is a hung Redis (default 1500 ms). */
  commandTimeoutMs?: number;
  /** A batch Redis did not take: the fleet tracks those entries locally meanwhile. */
  onUnsent: (batch: FleetEntry[]) => void;
  /** A batch met its deadline unanswered: Redis holds the connection but does not answer. */
  onHung?: () => void;
}

export const PUBLISHER_DEFAULTS = { batchSize: 4096, maxInFlight: 4, commandTimeoutMs: 1500 } as const;

interface Sent {
  batch: FleetEntry[];
  settled: boolean;
  failed: boolean;
}

/**
 * Appends entries to the stream in pipelined batches of XADDs (each XADD packing a run of
 * records, src/fleet/wire.ts), up to `maxInFlight` batches at once on one connection. Redis
 * executes one connection's commands in the order written, so one node's entries still
 * reach the stream in seq order. A failed batch (and every batch sent after it) goes back
 * to the front of the backlog once all in flight have settled, in send order; nothing new
 * is sent meanwhile. The gateway never waits: publish() only queues. While Redis is away
 * entries stay in the bounded backlog.
 */
export class Publisher {
  readonly backlog: Backlog<FleetEntry>;
  published = 0;
  /** Batches that met their deadline unanswered (hung Redis). */
  timeouts = 0;
  private readonly inFlight: Sent[] = [];
  private scheduled = false;
  private closed = false;
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;

  constructor(private readonly redis: Redis, private readonly opts: PublisherOptions) {
    this.backlog = new Backlog(opts.backlogLimit);
    this.batchSize = opts.batchSize ?? PUBLISHER_DEFAULTS.batchSize;
    this.maxInFlight = opts.maxInFlight ?? PUBLISHER_DEFAULTS.maxInFlight;
    this.timeoutMs = opts.commandTimeoutMs ?? PUBLISHER_DEFAULTS.commandTimeoutMs;
    redis.on('ready', () => this.schedule());
  }

  publish(entry: FleetEntry): void {
    this.backlog.push(entry);
    this.schedule();
  }

  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** Batches sent and not yet answered. */
  get pending(): number {
    return this.inFlight.length;
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Sends batches while there is room in flight. */
  flush(): void {
    while (this.inFlight.length < this.maxInFlight && this.backlog.size > 0 && this.connected && !this.inFlight.some((s) => s.failed)) {
      this.send(this.backlog.take(this.batchSize));
    }
  }

  private send(batch: FleetEntry[]): void {
    const sent: Sent = { batch, settled: false, failed: false };
    this.inFlight.push(sent);
    const settle = (ok: boolean) => {
      if (sent.settled) return;
      sent.settled = true;
      clearTimeout(timer);
      if (ok) this.published += batch.length;
      else {
        // Some XADDs may have landed: re-sending them is safe, readers drop duplicates by node+boot+seq.
        sent.failed = true;
        this.opts.onUnsent(batch);
      }
      this.settled();
    };
    // The check runs after the poll phase (setImmediate), so a reply that waited behind a
    // busy event loop is read first: only a Redis that really did not answer counts.
    const timer = setTimeout(() => setImmediate(() => {
      if (sent.settled) return;
      this.timeouts++;
      settle(false);
      this.opts.onHung?.();
    }), this.timeoutMs);
    const pipe = this.redis.pipeline();
    for (const fields of encodeEntries(batch)) pipe.xadd(this.opts.stream, 'MAXLEN', '~', this.opts.maxLen, '*', ...fields);
    const expected = pipe.length;
    pipe.exec().then(
      (results) => settle(!!results && results.length === expected && results.every(([err]) => !err)),
      () => settle(false),
    );
  }

  private settled(): void {
    if (this.inFlight.some((s) => !s.settled)) {
      // Answered batches at the front are done; a failure waits for the rest (order).
      while (this.inFlight[0]?.settled && !this.inFlight[0].failed) this.inFlight.shift();
      if (!this.inFlight.some((s) => s.failed)) this.schedule(); // room for the next batch
      return;
    }
    // All settled: everything from the first failure on goes back in front, in send order.
    const first = this.inFlight.findIndex((s) => s.failed);
    if (first >= 0) this.backlog.unshift(this.inFlight.slice(first).flatMap((s) => (s.failed ? s.batch : [])));
    this.inFlight.length = 0;
    if (this.backlog.size > 0 && this.connected) this.schedule();
  }

  /** Tries to send what is queued for up to `timeoutMs`; then stops. */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.backlog.size > 0 || this.inFlight.length > 0) && this.connected && Date.now() < deadline) {
      this.flush();
      await new Promise((r) => setTimeout(r, 5));
    }
    this.closed = true;
  }
}
