import { describe, expect, it } from 'vitest';
import { TimeBuckets } from '../../web/src/time-buckets.js';

describe('overview time buckets', () => {
  it('counts into fixed buckets and slides the window as time passes', () => {
    const b = new TimeBuckets(1000, 3);
    b.addBytes(10_000, 5);
    b.addBytes(10_999, 7);
    b.addViolation(11_500, 'close-incomplete');
    b.addBytes(12_000, 1);
    expect(b.buckets(12_100).map((x) => [x.start, x.bytes, x.violations.get('close-incomplete') ?? 0])).toEqual([
      [10_000, 12, 0], [11_000, 0, 1], [12_000, 1, 0],
    ]);
    // Late events older than the window are dropped, not counted into a reused bucket.
    b.addBytes(9_000, 100);
    expect(b.buckets(13_000).map((x) => [x.start, x.bytes])).toEqual([[11_000, 0], [12_000, 1], [13_000, 0]]);
    // A long quiet period clears everything.
    expect(b.buckets(60_000).map((x) => x.bytes + x.violations.size)).toEqual([0, 0, 0]);
  });

  it('holds the same number of buckets after an hour of traffic (memory does not grow)', () => {
    const b = new TimeBuckets(5000, 60);
    const codes = ['close-incomplete', 'fragment-gap', 'server-error'];
    for (let t = 0; t < 3_600_000; t += 7) {
      b.addBytes(t, 1000);
      if (t % 700 === 0) b.addViolation(t, codes[t % 3]!);
      if (t % 1000 === 0) b.sampleStates(t, { open: 10_000 });
    }
    const list = b.buckets(3_600_000 - 1);
    expect(list).toHaveLength(60);
    expect(list[0]!.start).toBe(3_600_000 - 60 * 5000);
    expect(new Set(list).size).toBe(60);
    for (const x of list) expect(x.violations.size).toBeLessThanOrEqual(3);
    expect(list.at(-1)!.states).toEqual({ open: 10_000 });
  });
});
