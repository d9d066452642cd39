import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/event-bus.js';
import { subscribeEventLog } from '../../src/sinks/event-log.js';
import type { BitsEvent, SessionSummary } from '../../src/sessions/events.js';

function summary(id: string): SessionSummary {
  return {
    id, state: 'evicted', url: '/u.bin', client: '127.0.0.1', totalLength: null, ackedBytes: 0, relayedBytes: 0,
    fragments: 0, retransmittedBytes: 0, replyFetched: false, errorCodes: [], firstSeen: 0, lastSeen: 0, adopted: false, violations: [],
  } as SessionSummary;
}

function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('event log under an eviction flood', () => {
  it('logs the first eviction of each second whole and sums up the rest in one line', async () => {
    const { logger, lines } = capture();
    const bus = new EventBus();
    subscribeEventLog(bus, logger);
    const evict = (i: number, time: number): BitsEvent => ({ seq: i, type: 'session-evicted', time, session: summary(`s${i}`), reason: 'capacity' });
    // 5 000 evictions within one second, then one in the next second.
    for (let i = 1; i <= 5000; i++) bus.publish([evict(i, 1_000 + (i % 900))]);
    bus.publish([evict(5001, 2_500)]);
    await new Promise((r) => setImmediate(r));
    const evicted = lines.filter((l) => String(l.msg).startsWith('session'));
    expect(evicted.map((l) => l.msg)).toEqual(['session evicted', 'sessions evicted (not logged one by one)', 'session evicted']);
    expect(evicted[1]).toMatchObject({ count: 4999, reason: 'capacity' });
    expect(evicted[2]).toMatchObject({ sessionId: 's5001' });
  });
});
