import type { Redis } from 'ioredis';
import { decodeEntry, type FleetEntry } from './wire.js';

type StreamEntries = Array<[id: string, fields: string[]]>;

export interface ConsumerOptions {
  stream: string;
  onEntry: (entry: FleetEntry) => void;
  /** An entry that is not a bitsgate observation (skipped). */
  onMalformed?: (id: string, reason: string) => void;
  /** Reading failed (Redis away); the consumer retries. */
  onError?: (err: Error) => void;
}

const PAGE = 1000;

/**
 * Reads the merged stream with plain XRANGE/XREAD and a last ID of its own (a consumer group
 * would give each entry to ONE node; every node needs every entry). XREAD BLOCK runs on this
 * dedicated connection. After Redis was away it resumes from the last ID: that is the catch-up.
 */
export class Consumer {
  lastId = '0-0';
  read = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly redis: Redis, private readonly opts: ConsumerOptions) {}

  /** Reads the retained history (XRANGE, in pages) up to now; false if Redis failed midway. */
  async replayHistory(): Promise<boolean> {
    try {
      for (;;) {
        const start = this.lastId === '0-0' ? '-' : `(${this.lastId}`;
        const page = (await this.redis.xrange(this.opts.stream, start, '+', 'COUNT', PAGE)) as StreamEntries;
        this.take(page);
        if (page.length < PAGE) return true;
      }
    } catch (err) {
      this.opts.onError?.(err as Error);
      return false;
    }
  }

  /** Follows the stream until stop(). */
  follow(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const reply = (await this.redis.xread('COUNT', PAGE, 'BLOCK', 500, 'STREAMS', this.opts.stream, this.lastId)) as
          Array<[string, StreamEntries]> | null;
        if (reply) for (const [, entries] of reply) this.take(entries);
      } catch (err) {
        if (this.stopped) break;
        this.opts.onError?.(err as Error);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private take(entries: StreamEntries): void {
    for (const [id, fields] of entries) {
      this.lastId = id;
      this.read++;
      const entry = decodeEntry(fields);
      if (typeof entry === 'string') this.opts.onMalformed?.(id, entry);
      else this.opts.onEntry(entry);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.redis.disconnect();
    await this.loop;
  }
}
