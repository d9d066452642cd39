import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, whenReady } from '../../src/fleet/connection.js';
import { Publisher } from '../../src/fleet/publisher.js';
import { decodeEntries, type FleetEntry } from '../../src/fleet/wire.js';
import { waitFor } from './fleet-harness.js';
import { NO_REDIS_REASON, REDIS_SERVER, TestRedis } from './redis-server.js';

if (!REDIS_SERVER) console.warn(NO_REDIS_REASON);

const closed = (seq: number): FleetEntry => ({ node: 'n', boot: 'b', seq, record: { kind: 'connection-closed', closed: { connectionId: seq, at: seq } } });

describe.skipIf(!REDIS_SERVER)('Publisher: several batches in flight on one connection', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start(false);
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('lands one node\'s records in the stream in seq order, packed, each once', async () => {
    const conn = connectRedis(redis.url, 'test-pub');
    expect(await whenReady(conn, 3000)).toBe(true);
    const p = new Publisher(conn, { stream: 'pub', maxLen: 1_000_000, backlogLimit: 100_000, batchSize: 100, maxInFlight: 4, onUnsent: () => { throw new Error('unsent'); } });
    let seq = 0;
    for (let tick = 0; tick < 50; tick++) {
      for (let i = 0; i < 300; i++) p.publish(closed(++seq));
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => p.published === seq, 10_000, 'all published');
    const stream = (await conn.xrange('pub', '-', '+')) as Array<[string, string[]]>;
    const seqs = stream.flatMap(([, f]) => (decodeEntries(f) as { entries: FleetEntry[] }).entries.map((e) => e.seq));
    expect(seqs).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    expect(stream.length).toBeLessThan(seq / 10); // packed: many records per entry
    conn.disconnect();
  });
});
