/**
 * The fleet's one clock: Redis's. Fleet members are different machines, and their clocks
 * differ by a few milliseconds even under NTP, more without it. A client that sends its last
 * Fragment through node A and its Close-Session a moment later through node B must find the
 * Close dated after the Fragment in every view, or the tracker judges the Close early
 * (close-incomplete, close-while-busy: false alarms on a legitimate client). So each node
 * measures its offset to the Redis server's clock (`TIME`, the NTP way: the midpoint of the
 * round trip) and dates what it shares, and its reorder window's "now", in Redis time.
 *
 * Each measurement takes a few samples and keeps the one with the shortest round trip (its
 * midpoint error is at most half of it). The offset moves only when it changes by at least
 * HYSTERESIS_MS, and when it moves DOWN a record begun after this node's latest shared end is
 * never dated before that end (offsetFor): one node's consecutive records keep their order.
 */

/** Samples per measurement; the one with the shortest round trip counts. */
export const CLOCK_SAMPLES = 3;
/** A new offset within this of the current one is ignored. */
export const HYSTERESIS_MS = 2;
/** How often a node measures again (clocks drift; NTP steps them). */
export const CLOCK_REMEASURE_MS = 30_000;

export interface ClockSample {
  /** Local time just before the request. */
  sentAt: number;
  /** The Redis server's time in the answer (ms, fractional). */
  serverAt: number;
  /** Local time just after the answer. */
  receivedAt: number;
}

/** Redis time minus local time, from the sample with the shortest round trip. */
export function offsetOf(samples: readonly ClockSample[]): number | undefined {
  let best: ClockSample | undefined;
  for (const s of samples) {
    if (s.receivedAt < s.sentAt) continue; // the local clock stepped back meanwhile
    if (!best || s.receivedAt - s.sentAt < best.receivedAt - best.sentAt) best = s;
  }
  return best === undefined ? undefined : best.serverAt - (best.sentAt + best.receivedAt) / 2;
}

/** Redis's `TIME` answer ([seconds, microseconds] as strings) in ms. */
export function redisTimeMs(answer: readonly (string | number)[]): number {
  return Number(answer[0]) * 1000 + Number(answer[1]) / 1000;
}

export class FleetClock {
  /** Whole ms added to a local time to get fleet (Redis) time. */
  offset = 0;
  /** At least one measurement succeeded. */
  measured = false;

  /** The latest end this node shared, in fleet time, and the local time it ended at. */
  private lastFleetEnd = -Infinity;
  private lastLocalEnd = -Infinity;

  constructor(readonly local: () => number = Date.now) {}

  /**
   * The offset for a record that ran from `localStart` to `localEnd` on this machine: the current
   * one, raised just enough after a downward step that a record begun after the latest one this
   * node shared had ended is still dated after it (a client's next packet after its Ack). With a
   * steady offset this changes nothing; after a step down by d it slews over d ms of local time.
   */
  offsetFor(localStart: number, localEnd: number): number {
    let offset = this.offset;
    if (localStart >= this.lastLocalEnd && localStart + offset < this.lastFleetEnd) offset = this.lastFleetEnd - localStart;
    if (localEnd + offset > this.lastFleetEnd) {
      this.lastFleetEnd = localEnd + offset;
      this.lastLocalEnd = localEnd;
    }
    return offset;
  }

  /** Fleet time now. */
  now(): number {
    return this.local() + this.offset;
  }

  /** Takes in one measurement's samples; returns true when the offset changed. */
  update(samples: readonly ClockSample[]): boolean {
    const raw = offsetOf(samples);
    if (raw === undefined) return false;
    const next = Math.round(raw);
    const changed = !this.measured || Math.abs(next - this.offset) >= HYSTERESIS_MS;
    this.measured = true;
    if (changed) this.offset = next;
    return changed;
  }

  /** Measures against Redis through `time()` (ioredis's TIME): whether the offset changed, or 'failed' (no usable answer). */
  async measure(time: () => Promise<readonly (string | number)[]>): Promise<'changed' | 'same' | 'failed'> {
    const samples: ClockSample[] = [];
    for (let i = 0; i < CLOCK_SAMPLES; i++) {
      const sentAt = this.local();
      let answer: readonly (string | number)[];
      try {
        answer = await time();
      } catch {
        return 'failed';
      }
      const serverAt = redisTimeMs(answer);
      // An ACL that refuses TIME, or a proxy that answers something else: not a clock.
      if (!Number.isFinite(serverAt)) return 'failed';
      samples.push({ sentAt, serverAt, receivedAt: this.local() });
    }
    return this.update(samples) ? 'changed' : 'same';
  }
}
