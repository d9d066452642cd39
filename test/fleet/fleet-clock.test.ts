import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetClock, HYSTERESIS_MS, offsetOf, redisTimeMs } from '../../src/fleet/fleet-clock.js';
import { FleetLink } from '../../src/fleet/fleet-link.js';
import type { Observation } from '../../src/observation.js';
import { SessionTracker } from '../../src/sessions/tracker.js';
import type { BitsEvent } from '../../src/sessions/events.js';
import { codes, Wire } from '../sessions/factory.js';
import { waitFor } from './fleet-harness.js';
import { NO_REDIS_REASON, REDIS_SERVER, TestRedis } from './redis-server.js';

describe('FleetClock (offset to the Redis server clock)', () => {
  it('reads TIME as ms and takes the offset from the sample with the shortest round trip', () => {
    expect(redisTimeMs(['1700000000', '250500'])).toBe(1_700_000_000_250.5);
    expect(offsetOf([
      { sentAt: 1000, serverAt: 1100, receivedAt: 1030 }, // rtt 30: midpoint 1015 -> +85
      { sentAt: 2000, serverAt: 2041, receivedAt: 2002 }, // rtt 2: midpoint 2001 -> +40
      { sentAt: 3000, serverAt: 3000, receivedAt: 2990 }, // local clock stepped back: ignored
    ])).toBe(40);
    expect(offsetOf([])).toBeUndefined();
  });

  it('moves the offset only by HYSTERESIS_MS or more, so one node\'s records keep their order', () => {
    const c = new FleetClock(() => 0);
    expect(c.update([{ sentAt: 0, serverAt: 40.4, receivedAt: 0 }])).toBe(true);
    expect(c.offset).toBe(40);
    expect(c.update([{ sentAt: 0, serverAt: 40 + HYSTERESIS_MS - 1, receivedAt: 0 }])).toBe(false);
    expect(c.offset).toBe(40);
    expect(c.update([{ sentAt: 0, serverAt: 40 + HYSTERESIS_MS, receivedAt: 0 }])).toBe(true);
    expect(c.offset).toBe(40 + HYSTERESIS_MS);
    expect(c.now()).toBe(40 + HYSTERESIS_MS);
  });

  it('after the offset steps down, a record begun after the last shared end is still dated after it', () => {
    const c = new FleetClock(() => 0);
    c.update([{ sentAt: 0, serverAt: 40, receivedAt: 0 }]);
    expect(c.offsetFor(1000, 1005)).toBe(40); // a Fragment: 1040..1045 in fleet time
    c.update([{ sentAt: 0, serverAt: 37, receivedAt: 0 }]); // NTP stepped this machine's clock
    expect(c.offset).toBe(37);
    // The client's Close, 1 ms after the Fragment's Ack: 1043 with the new offset, before 1045.
    expect(c.offsetFor(1006, 1008)).toBe(39);
    // A request that was already running while the Fragment ran is not pushed: the plain offset.
    expect(c.offsetFor(1003, 1009)).toBe(37);
    // Once local time has passed the step, the new offset stands.
    expect(c.offsetFor(1100, 1101)).toBe(37);
    // A steady offset never changes a date.
    expect(c.offsetFor(1102, 1103)).toBe(37);
  });

  it('reports a TIME it cannot use as failed and keeps the offset it had', async () => {
    const c = new FleetClock(() => 1000);
    expect(await c.measure(async () => ['1', '40000'])).toBe('changed'); // 1040 ms vs local 1000
    expect(c.offset).toBe(40);
    expect(await c.measure(async () => { throw new Error('NOPERM this user has no permissions to run the time command'); })).toBe('failed');
    expect(await c.measure(async () => ['OK'])).toBe('failed');
    expect(await c.measure(async () => ['1', '40500'])).toBe('same');
    expect(c.offset).toBe(40);
  });
});

if (!REDIS_SERVER) console.warn(NO_REDIS_REASON);

/**
 * Two fleet members whose clocks disagree: B's runs SKEW ms behind A's. A client sends its last
 * Fragment through A and, 3 ms later, its Close-Session through B. Dated by each machine's own
 * clock, the Close would start (and end) before the Fragment ended: close-while-busy and
 * close-incomplete in every view, for a legitimate client.
 */
describe.skipIf(!REDIS_SERVER)('fleet members with skewed clocks', () => {
  const SKEW = 40;
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    await redis?.close();
  });

  function member(node: string, stream: string, localClock: () => number) {
    const tracker = new SessionTracker();
    const events: BitsEvent[] = [];
    const applied: Observation[] = [];
    const link = new FleetLink({
      url: redis.url, stream, node, backlog: 1000, maxLen: 1000, reorderWindowMs: 50, connectTimeoutMs: 3000, localClock,
      apply: (o) => {
        applied.push(o);
        events.push(...tracker.observe(o));
      },
      applyClosed: () => {},
      log: { info() {}, warn() {} },
    });
    return { link, events, applied };
  }

  it('dates every shared record in Redis time, so the Close follows the Fragment in both views', async () => {
    const stream = `clock:${process.pid}:${Date.now()}`;
    const a = member('a', stream, Date.now);
    const b = member('b', stream, () => Date.now() - SKEW);
    await Promise.all([a.link.start(), b.link.start()]);
    try {
      expect(Math.abs(b.link.fleetNow() - a.link.fleetNow())).toBeLessThanOrEqual(HYSTERESIS_MS + 1);
      const sid = '{11111111-2222-3333-4444-555555555555}';
      // A's exchanges on A's clock, then the Close on B's (SKEW behind), 3 ms after the Fragment ended.
      const onA = new Wire('10.0.0.7', Date.now());
      a.link.onObservation(onA.create('/up/f.bin', sid));
      const fragment = onA.fragment('/up/f.bin', sid, 0, 99, 100);
      a.link.onObservation(fragment);
      const onB = new Wire('10.0.0.7', fragment.endedAt + 3 - SKEW);
      b.link.onObservation(onB.close('/up/f.bin', sid));
      for (const m of [a, b]) await waitFor(() => m.applied.length === 3, 3000, 'three records applied');
      for (const m of [a, b]) {
        expect(m.applied.map((o) => o.requestHeaders.find(([n]) => n === 'BITS-Packet-Type')?.[1])).toEqual(['Create-Session', 'Fragment', 'Close-Session']);
        expect(m.applied[2]!.startedAt).toBeGreaterThan(m.applied[1]!.endedAt);
        expect(codes(m.events)).toEqual([]);
      }
    } finally {
      await Promise.all([a.link.close(), b.link.close()]);
    }
  });
});
