import type { Redis } from 'ioredis';
import { answerWithin } from './connection.js';
import { decodeEntries, type FleetEntry } from './wire.js';

type StreamEntries = Array<[id: string, fields: string[]]>;

export interface ConsumerOptions {
  stream: string;
  onEntry: (entry: FleetEntry) => void;
  /** An entry (or a line of one) that is not a bitsgate observation (skipped). */
  onMalformed?: (id: string, reason: string) => void;
  /** Reading failed (Redis away); the consumer retries. */
  onError?: (err: Error) => void;
  /** An XREAD got no answer within its block time + `readTimeoutMs`: Redis hangs. */
  onHung?: () => void;
  /**
   * This node's own records by seq, while their stream copy has not come back: a run found
   * whole there is used as it is instead of parsing the same bytes again (half the decoding
   * in a two-node fleet). Returns undefined when any is missing (then the entry is parsed).
   */
  own?: { node: string; boot: string; take(firstSeq: number, count: number): FleetEntry[] | undefined };
  /** Extra time an XREAD BLOCK may take before Redis counts as hung (default 1500 ms). */
  readTimeoutMs?: number;
}

/**
 * Stream entries per XRANGE page / XREAD call. Each entry packs up to PACK_MAX records, so a
 * page is up to 12 800 records: a reply that arrives well within the read deadline.
 */
const PAGE = 200;
/** How long one XREAD blocks on an idle stream: also the liveness probe's period. */
export const BLOCK_MS = 500;
export const READ_TIMEOUT_MS = 1500;

/**
 * Reads the merged stream with plain XRANGE/XREAD and a last ID of its own (a consumer group
 * would give each entry to ONE node; every node needs every entry). XREAD BLOCK runs on this
 * dedicated connection. After Redis was away it resumes from the last ID: that is the catch-up.
 *
 * Hang detection: an XREAD BLOCK 500 is answered within 500 ms by a live Redis, so every
 * read is also a liveness probe; unanswered after BLOCK_MS + readTimeoutMs, onHung() (the
 * link drops the connection, which fails this read, and reconnects).
 */
export class Consumer {
  lastId = '0-0';
  read = 0;
  /** True when the last XREAD returned less than a full page: the stream's tip was reached. */
  atTip = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private pauseRequest: { parked: () => void; resume: Promise<void> } | undefined;
  onEntry: (entry: FleetEntry) => void;

  constructor(private readonly redis: Redis, private readonly opts: ConsumerOptions) {
    this.onEntry = opts.onEntry;
  }

  /** Reads the retained history (XRANGE, in pages) up to now; false if Redis failed midway. */
  async replayHistory(): Promise<boolean> {
    try {
      for (;;) {
        const start = this.lastId === '0-0' ? '-' : `(${this.lastId}`;
        const page = (await this.withDeadline(this.redis.xrange(this.opts.stream, start, '+', 'COUNT', PAGE), 0)) as StreamEntries;
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

  /**
   * Stops following after the read in progress (its entries are delivered first) and
   * resolves once parked; `resume` starts it again. For a rebuild: nothing is delivered
   * between the two.
   */
  pause(resume: Promise<void>): Promise<void> {
    return new Promise((parked) => {
      this.pauseRequest = { parked, resume };
      if (!this.loop) parked();
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const pause = this.pauseRequest;
      if (pause) {
        this.pauseRequest = undefined;
        pause.parked();
        await pause.resume;
        continue;
      }
      try {
        const reply = (await this.withDeadline(
          this.redis.xread('COUNT', PAGE, 'BLOCK', BLOCK_MS, 'STREAMS', this.opts.stream, this.lastId), BLOCK_MS,
        )) as Array<[string, StreamEntries]> | null;
        let n = 0;
        if (reply) for (const [, entries] of reply) {
          n += entries.length;
          this.take(entries);
        }
        this.atTip = n < PAGE;
      } catch (err) {
        this.atTip = false;
        if (this.stopped) break;
        this.opts.onError?.(err as Error);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** A command that must answer within `blockMs` + readTimeoutMs, else Redis hangs. */
  private withDeadline<T>(command: Promise<T>, blockMs: number): Promise<T> {
    return answerWithin(command, blockMs + (this.opts.readTimeoutMs ?? READ_TIMEOUT_MS), this.opts.onHung);
  }

  private take(entries: StreamEntries): void {
    const own = this.opts.own;
    for (const [id, fields] of entries) {
      this.lastId = id;
      this.read++;
      if (own && fields.length === 8 && fields[1] === own.node && fields[3] === own.boot && fields[0] === 'n' && fields[2] === 'b' && fields[4] === 's' && fields[6] === 'o') {
        const mine = own.take(Number(fields[5]), countLines(fields[7]!));
        if (mine) {
          for (const e of mine) this.onEntry(e);
          continue;
        }
      }
      const decoded = decodeEntries(fields);
      if (typeof decoded === 'string') {
        this.opts.onMalformed?.(id, decoded);
        continue;
      }
      for (const reason of decoded.problems) this.opts.onMalformed?.(id, reason);
      for (const e of decoded.entries) this.onEntry(e);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.redis.disconnect();
    await this.loop;
  }
}

function countLines(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
