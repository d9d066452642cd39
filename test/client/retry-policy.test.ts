import { describe, expect, it } from 'vitest';
import { classifyStatus, exponentialBackoff } from '../../src/client/retry-policy.js';

describe('classifyStatus (the Windows client rules)', () => {
  it.each([
    [200, undefined, 'ok'], [201, undefined, 'ok'],
    [400, undefined, 'fatal'], [403, undefined, 'fatal'], [404, undefined, 'fatal'], [413, undefined, 'fatal'],
    [408, undefined, 'transient'], [409, undefined, 'transient'],
    [500, undefined, 'transient'], [502, undefined, 'transient'], [503, undefined, 'transient'],
    [501, undefined, 'fatal'], [505, undefined, 'fatal'],
    [500, 0x8020001f, 'fatal'],
    [301, undefined, 'fatal'], [307, undefined, 'fatal'], [308, undefined, 'transient'],
  ] as const)('%i (error code %s) is %s', (status, code, verdict) => {
    expect(classifyStatus(status, code)).toBe(verdict);
  });
});

describe('exponentialBackoff', () => {
  it('doubles up to the cap, with jitter in the upper half', () => {
    const low = exponentialBackoff(100, 1000, () => 0);
    const high = exponentialBackoff(100, 1000, () => 1);
    expect([1, 2, 3, 4, 5, 6].map((n) => low.delay(n))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((n) => high.delay(n))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});
