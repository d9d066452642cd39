import { describe, expect, it } from 'vitest';
import { parseContentRange, parseReceivedContentRange } from '../../src/protocol/index.js';

describe('parseContentRange', () => {
  it.each([
    ['bytes 0-2097151/5242880', { start: 0, end: 2097151, total: 5242880 }],
    ['  bytes 0-0/1 ', { start: 0, end: 0, total: 1 }],
    ['Bytes 10-19/20', { start: 10, end: 19, total: 20 }],
    // Totals above 4 GiB are normal for BITS.
    ['bytes 4294967296-4294967395/8589934592', { start: 4294967296, end: 4294967395, total: 8589934592 }],
    ['bytes 0-9007199254740989/9007199254740991', { start: 0, end: 9007199254740989, total: 9007199254740991 }],
  ])('accepts %j', (text, value) => {
    expect(parseContentRange(text)).toEqual({ ok: true, value });
  });

  it.each([
    ['', 'does not start with "bytes "'],
    ['0-1/2', 'does not start with "bytes "'],
    ['bytes=0-1/2', 'does not start with "bytes "'],
    ['bytes 0-1', 'is not of the form'],
    ['bytes */100', 'is not of the form'],
    ['bytes 5-4/10', 'start 5 is after end 4'],
    ['bytes 0-10/10', 'end 10 is not below the total length 10'],
    ['bytes 0--1/0', 'is not a decimal number'],
    ['bytes -1-5/10', 'is empty'],
    ['bytes 01-5/10', 'leading zeros'],
    ['bytes 0-5/+10', 'is not a decimal number'],
    ['bytes 0-5/1e3', 'is not a decimal number'],
    ['bytes 0-5/ 10', 'is not a decimal number'],
    ['bytes 0-1/9007199254740992', 'exceeds 2^53-1'],
    ['bytes 0-1/9007199254740993', 'exceeds 2^53-1'],
    ['bytes 0-1/123456789012345678901234567890', 'exceeds 2^53-1'],
  ])('rejects %j with a reason', (text, reason) => {
    const r = parseContentRange(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });
});

describe('parseReceivedContentRange', () => {
  it('reads the next expected offset', () => {
    expect(parseReceivedContentRange('2097152')).toEqual({ ok: true, value: 2097152 });
    expect(parseReceivedContentRange(' 0 ')).toEqual({ ok: true, value: 0 });
    expect(parseReceivedContentRange('8589934592')).toEqual({ ok: true, value: 8589934592 });
  });
  it('tolerates the range form 0-E as E+1', () => {
    expect(parseReceivedContentRange('0-2097151')).toEqual({ ok: true, value: 2097152 });
    expect(parseReceivedContentRange('bytes 0-9')).toEqual({ ok: true, value: 10 });
  });
  it.each(['', 'abc', '-1', '5-9', '9007199254740992', '1.5'])('rejects %j', (text) => {
    expect(parseReceivedContentRange(text).ok).toBe(false);
  });
});
