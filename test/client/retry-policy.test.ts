import { describe, expect, it } from 'vitest';
import { exponentialBackoff, formatDuration, RetryWindow } from '../../src/client/retry-policy.js';

describe('exponentialBackoff', () => {
  it('doubles up to the cap, with jitter in the upper half', () => {
    const low = exponentialBackoff(100, 1000, () => 0);
    const high = exponentialBackoff(100, 1000, () => 1);
    expect([1, 2, 3, 4, 5, 6].map((n) => low.delay(n))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((n) => high.delay(n))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('stays at the cap after thousands of failures (no overflow to Infinity or NaN)', () => {
    expect(exponentialBackoff(250, 60_000, () => 1).delay(5000)).toBe(60_000);
  });
});

describe('RetryWindow (give up only after --retry-for without progress)', () => {
  const fixed = exponentialBackoff(1000, 8000, () => 1);

  it('retries with growing delays until the window closes, the last attempt landing on the deadline', () => {
    const w = new RetryWindow(10_000, fixed);
    expect(w.failed(0)).toEqual({ retry: true, delayMs: 1000, at: 1000, giveUpAt: 10_000, failures: 1 });
    expect(w.failed(1000)).toMatchObject({ retry: true, delayMs: 2000, at: 3000 });
    expect(w.failed(3000)).toMatchObject({ retry: true, delayMs: 4000, at: 7000 });
    // 8 s would overshoot the 10 s deadline: wait only until it.
    expect(w.failed(7000)).toMatchObject({ retry: true, delayMs: 3000, at: 10_000 });
    expect(w.failed(10_000)).toEqual({ retry: false, why: 'no progress for 10 s (--retry-for 10 s)' });
  });

  it('progress closes the window: the next failure starts a fresh one with the first delay', () => {
    const w = new RetryWindow(10_000, fixed);
    w.failed(0);
    w.failed(1000);
    w.progress();
    expect(w.failed(9_500)).toEqual({ retry: true, delayMs: 1000, at: 10_500, giveUpAt: 19_500, failures: 1 });
    expect(w.since()).toBe(9_500);
  });

  it('caps the delay at the backoff maximum however long the outage', () => {
    const w = new RetryWindow(3_600_000, exponentialBackoff(250, 60_000, () => 1));
    let now = 0;
    let last = 0;
    for (let i = 0; i < 30; i++) {
      const n = w.failed(now);
      if (!n.retry) throw new Error('gave up early');
      last = n.delayMs;
      now = n.at;
    }
    expect(last).toBe(60_000);
  });

  it('maxFailures caps failures in a row without progress', () => {
    const w = new RetryWindow(3_600_000, fixed, 2);
    expect(w.failed(0).retry).toBe(true);
    expect(w.failed(1).retry).toBe(true);
    expect(w.failed(2)).toEqual({ retry: false, why: '3 failures in a row; retries limited to 2' });
  });

  it('a window of 0 never retries', () => {
    expect(new RetryWindow(0, fixed).failed(5)).toEqual({ retry: false, why: 'no progress for 0 s (--retry-for 0 s)' });
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 s'], [250, '0.25 s'], [1500, '1.5 s'], [4000, '4 s'], [45_000, '45 s'], [600_000, '10m'],
    [90_000, '1m30s'], [7_200_000, '2h'], [7_500_000, '2h05m'],
  ])('%i ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
