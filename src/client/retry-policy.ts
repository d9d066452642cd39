/**
 * How the Windows BITS client sorts failures (bits-protocol.md §6): 4xx are fatal except
 * 408 and 409; 5xx are transient except 501 and 505; 3xx are transient except 300–305
 * and 307; a lost connection is transient. BG_E_SESSION_NOT_FOUND means the session is
 * gone, so resending the same packet cannot help.
 */
import { ERROR_CODES } from '../protocol/index.js';

export type Verdict = 'ok' | 'transient' | 'fatal';

export function classifyStatus(status: number, errorCode?: number): Verdict {
  if (status >= 200 && status < 300) return 'ok';
  if (errorCode !== undefined && errorCode >>> 0 === ERROR_CODES.BG_E_SESSION_NOT_FOUND >>> 0) return 'fatal';
  if (status >= 500) return status === 501 || status === 505 ? 'fatal' : 'transient';
  if (status >= 400) return status === 408 || status === 409 ? 'transient' : 'fatal';
  if (status >= 300) return (status >= 300 && status <= 305) || status === 307 ? 'fatal' : 'transient';
  return 'fatal';
}

export interface Backoff {
  /** Delay before retry number `attempt` (1-based), in ms. */
  delay(attempt: number): number;
}

/** Exponential with full jitter, capped: retries from many clients do not synchronise. */
export function exponentialBackoff(baseMs: number, maxMs: number, random: () => number = Math.random): Backoff {
  return {
    delay(attempt) {
      const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
    },
  };
}
