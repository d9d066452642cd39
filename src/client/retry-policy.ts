/**
 * How long and how often the client retries. What to do with an answer is not decided
 * here: src/protocol/answer.ts (classifyAnswer) is the one classifier. This file only says
 * when the next attempt happens and when the client stops trying.
 *
 * Windows keeps a job going for days and fails it only for lack of progress (its
 * NoProgressTimeout). We do the same on a human scale: a failure opens a window of
 * `retryForMs`; any progress (the server acknowledged new bytes, or the job ended) closes
 * it; the client gives up when the window runs out with no progress. Delays grow
 * exponentially up to a cap, so an outage of an hour costs a request a minute, not a
 * request a second.
 */

export interface Backoff {
  /** Delay before retry number `attempt` (1-based), in ms. */
  delay(attempt: number): number;
}

/** Exponential with full jitter, capped: retries from many clients do not synchronise. */
export function exponentialBackoff(baseMs: number, maxMs: number, random: () => number = Math.random): Backoff {
  return {
    delay(attempt) {
      const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 52));
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
    },
  };
}

/** Defaults of `bitsgate upload` (and uploadFile). */
export const DEFAULT_RETRY_FOR_MS = 10 * 60_000;
export const DEFAULT_BACKOFF_BASE_MS = 250;
export const DEFAULT_BACKOFF_MAX_MS = 60_000;

export type NextAttempt =
  | { retry: true; delayMs: number; at: number; giveUpAt: number; failures: number }
  | { retry: false; why: string };

/**
 * The retry window. Time is passed in (`now`), so tests need no clock.
 * `maxFailures` optionally caps failures in a row without progress (library users and
 * tests; the command line bounds by time only unless --retries is given).
 */
export class RetryWindow {
  private failingSince: number | undefined;
  private failures = 0;

  constructor(
    private readonly retryForMs: number,
    private readonly backoff: Backoff,
    private readonly maxFailures?: number,
  ) {}

  /** The job moved forward: the next failure opens a fresh window and starts the backoff again. */
  progress(): void {
    this.failingSince = undefined;
    this.failures = 0;
  }

  /** When the failing started, if it has (for messages). */
  since(): number | undefined {
    return this.failingSince;
  }

  /** A failure at `now`: when to try again, or why not. */
  failed(now: number): NextAttempt {
    this.failingSince ??= now;
    this.failures++;
    const giveUpAt = this.failingSince + this.retryForMs;
    if (this.maxFailures !== undefined && this.failures > this.maxFailures) {
      return { retry: false, why: `${this.failures} failure${this.failures === 1 ? '' : 's'} in a row; retries limited to ${this.maxFailures}` };
    }
    if (now >= giveUpAt) return { retry: false, why: `no progress for ${formatDuration(now - this.failingSince)} (--retry-for ${formatDuration(this.retryForMs)})` };
    // The last attempt lands on the deadline rather than past it.
    const delayMs = Math.min(this.backoff.delay(this.failures), giveUpAt - now);
    return { retry: true, delayMs, at: now + delayMs, giveUpAt, failures: this.failures };
  }
}

/** `45 s`, `1.5 s`, `10m`, `2h05m`: what a person reads in a log line. */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${Number((Math.max(0, ms) / 1000).toFixed(2))} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h}h` : `${h}h${String(m % 60).padStart(2, '0')}m`;
}
