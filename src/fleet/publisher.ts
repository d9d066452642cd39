import type { Redis } from 'ioredis';
import { Backlog } from './backlog.js';
import { encodeEntry, type FleetEntry } from './wire.js';

export interface PublisherOptions {
  stream: string;
  /** `MAXLEN ~` bound of the stream (Redis frees whole nodes, so a little more is kept). */
  maxLen: number;
  backlogLimit: number;
  /** Entries per pipelined XADD batch (default 2048). */
  batchSize?: number;
  /** A batch Redis did not take: the fleet tracks those entries locally meanwhile. */
  onUnsent: (batch: FleetEntry[]) => void;
}

/**
 * Appends entries to the stream, one pipelined batch of XADDs per tick, never more than one
 * batch in flight (so one node's entries reach the stream in seq order). The gateway never
 * waits: publish() only queues. While Redis is away entries stay in the bounded backlog.
 */
export class Publisher {
  readonly backlog: Backlog<FleetEntry>;
  published = 0;
  private inFlight = false;
  private scheduled = false;
  private closed = false;

  constructor(private readonly redis: Redis, private readonly opts: PublisherOptions) {
    this.backlog = new Backlog(opts.backlogLimit);
    redis.on('ready', () => this.schedule());
  }

  publish(entry: FleetEntry): void {
    this.backlog.push(entry);
    this.schedule();
  }

  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Sends one batch; resolves when it is answered (or failed). */
  async flush(): Promise<void> {
    if (this.inFlight || this.backlog.size === 0 || !this.connected) return;
    this.inFlight = true;
    const batch = this.backlog.take(this.opts.batchSize ?? 2048);
    try {
      const pipe = this.redis.pipeline();
      for (const e of batch) pipe.xadd(this.opts.stream, 'MAXLEN', '~', this.opts.maxLen, '*', ...encodeEntry(e));
      const results = (await pipe.exec()) ?? [];
      const failed = results.findIndex(([err]) => err);
      if (results.length < batch.length || failed >= 0) throw results[failed]?.[0] ?? new Error('batch not answered');
      this.published += batch.length;
    } catch {
      // Some XADDs may have landed: re-sending them is safe, readers drop duplicates by node+boot+seq.
      this.opts.onUnsent(batch);
      this.backlog.unshift(batch);
    } finally {
      this.inFlight = false;
    }
    if (this.backlog.size > 0 && this.connected) this.schedule();
  }

  /** Tries to send what is queued for up to `timeoutMs`; then stops. */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.backlog.size > 0 && this.connected && Date.now() < deadline) {
      if (this.inFlight) await new Promise((r) => setTimeout(r, 5));
      else await this.flush();
    }
    this.closed = true;
  }
}
