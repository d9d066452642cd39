import type pino from 'pino';
import type { EventBus } from '../event-bus.js';
import type { BitsEvent, SessionSummary } from '../sessions/events.js';
import { cleanText } from './logger.js';

/**
 * Structured log lines for session lifecycle and violations: one line when a session is
 * created or ends, one per violation at the level its severity asks for. Per-exchange
 * lines come from the request log; per-progress updates are not logged (too many).
 */
export function subscribeEventLog(bus: EventBus, logger: pino.Logger): () => void {
  const evictions = new EvictionSummary();
  return bus.subscribe((event) => logEvent(logger, event, evictions));
}

/**
 * Evictions come in floods (a client churning sessions past the byte budget evicts one per
 * request): the first of each second is logged whole, the rest only counted and summed up in
 * one line when the next second's first eviction arrives.
 */
export class EvictionSummary {
  private windowStart = -Infinity;
  private suppressed = 0;

  constructor(private readonly windowMs = 1000) {}

  /** Whether to log this eviction; `flushed` is how many were suppressed before it. */
  admit(time: number): { log: boolean; flushed: number } {
    if (time - this.windowStart < this.windowMs) {
      this.suppressed++;
      return { log: false, flushed: 0 };
    }
    const flushed = this.suppressed;
    this.windowStart = time;
    this.suppressed = 0;
    return { log: true, flushed };
  }
}

const LEVEL_OF = { info: 'info', warning: 'warn', error: 'error' } as const;

function sessionFields(s: SessionSummary) {
  return {
    sessionId: cleanText(s.id, 100),
    state: s.state,
    url: cleanText(s.url),
    client: s.client,
    ackedBytes: s.ackedBytes,
    totalLength: s.totalLength,
  };
}

export function logEvent(logger: pino.Logger, event: BitsEvent, evictions?: EvictionSummary): void {
  switch (event.type) {
    case 'violation': {
      const v = event.violation;
      logger[LEVEL_OF[v.severity]](
        {
          seq: event.seq,
          code: v.code,
          severity: v.severity,
          sessionId: v.sessionId === undefined ? undefined : cleanText(v.sessionId, 100),
          detail: cleanText(v.message, 512),
          exchanges: v.exchanges,
        },
        'violation',
      );
      return;
    }
    case 'fault-injected':
      logger.info(
        {
          seq: event.seq,
          exchange: event.exchange,
          injection: cleanText(event.injectionId, 40),
          action: event.action,
          rule: cleanText(event.rule, 256),
          sessionId: event.sessionId === undefined ? undefined : cleanText(event.sessionId, 100),
        },
        'fault injected',
      );
      return;
    case 'session-created':
      logger.info({ seq: event.seq, ...sessionFields(event.session) }, 'session created');
      return;
    case 'session-ended':
      logger.info({ seq: event.seq, ...sessionFields(event.session) }, 'session ended');
      return;
    case 'session-evicted': {
      const admitted = evictions ? evictions.admit(event.time) : { log: true, flushed: 0 };
      if (admitted.flushed > 0) logger.warn({ count: admitted.flushed, reason: event.reason }, 'sessions evicted (not logged one by one)');
      if (admitted.log) logger.warn({ seq: event.seq, reason: event.reason, ...sessionFields(event.session) }, 'session evicted');
      return;
    }
    default:
      return;
  }
}
