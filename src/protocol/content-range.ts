import { type Decoded, fail, ok } from './decoded.js';

/** A fragment's place in the file: inclusive offsets and the total file size. */
export interface ByteRange {
  start: number;
  end: number;
  total: number;
}

/** Longest digit string that can still be a safe integer (MAX_SAFE_INTEGER has 16 digits). */
const MAX_DIGITS = 16;

/**
 * A strict unsigned decimal: digits only, no sign, no leading zeros (BITS peers format with
 * %I64u), at most MAX_SAFE_INTEGER. Totals can exceed 4 GiB; beyond 2^53 a JavaScript number
 * would round, so those are rejected with a reason instead of being silently wrong.
 */
export function parseDecimal(text: string, what: string): Decoded<number> {
  const n = decimalAt(text, 0, text.length);
  return n >= 0 ? ok(n) : fail(decimalError(text, what, n));
}

const EMPTY = -1;
const NOT_DIGITS = -2;
const LEADING_ZERO = -3;
const TOO_BIG = -4;

/** The decimal in text[from, to), or a negative error code; no substring is allocated. */
export function decimalAt(text: string, from: number, to: number): number {
  if (to <= from) return EMPTY;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NOT_DIGITS;
    n = n * 10 + d;
  }
  if (to - from > 1 && text.charCodeAt(from) === 48) return LEADING_ZERO;
  // Past 16 digits, or past 2^53-1, the value cannot be exact; the float may have rounded, but
  // only upwards past the limit, so this test is itself exact.
  if (to - from > MAX_DIGITS || n > Number.MAX_SAFE_INTEGER) return TOO_BIG;
  return n;
}

function decimalError(text: string, what: string, code: number): string {
  switch (code) {
    case EMPTY: return `${what} is empty`;
    case NOT_DIGITS: return `${what} ${JSON.stringify(text.length > 40 ? text.slice(0, 40) + '...' : text)} is not a decimal number`;
    case LEADING_ZERO: return `${what} ${JSON.stringify(text)} has leading zeros`;
    default: return `${what} ${text.slice(0, 24)}${text.length > 24 ? '...' : ''} exceeds 2^53-1 and cannot be represented exactly`;
  }
}

/**
 * `Content-Range: bytes S-E/T` exactly as BITS clients send it (one space after `bytes`,
 * the unit in any case). S <= E < T is required; `*` forms and T = 0 cannot describe a fragment.
 */
export function parseContentRange(value: string): Decoded<ByteRange> {
  const r = rangeOrReason(value);
  return typeof r === 'string' ? fail(r) : ok(r);
}

/** parseContentRange without the result wrapper (hot path): the range, or the reason. */
export function rangeOrReason(value: string): ByteRange | string {
  let from = 0;
  let to = value.length;
  while (from < to && isSpace(value.charCodeAt(from))) from++;
  while (to > from && isSpace(value.charCodeAt(to - 1))) to--;
  // 'bytes ' in any case, checked without allocating.
  if (to - from < 6 || (value.charCodeAt(from) | 0x20) !== 98 || (value.charCodeAt(from + 1) | 0x20) !== 121 ||
    (value.charCodeAt(from + 2) | 0x20) !== 116 || (value.charCodeAt(from + 3) | 0x20) !== 101 ||
    (value.charCodeAt(from + 4) | 0x20) !== 115 || value.charCodeAt(from + 5) !== 32) {
    return (`Content-Range ${quote(value.trim())} does not start with "bytes "`);
  }
  const p = from + 6;
  const dash = value.indexOf('-', p);
  const slash = value.indexOf('/', p);
  if (dash < 0 || slash < 0 || slash < dash || slash >= to) {
    return (`Content-Range ${quote(value.trim())} is not of the form "bytes START-END/TOTAL"`);
  }
  const start = decimalAt(value, p, dash);
  const end = decimalAt(value, dash + 1, slash);
  const total = decimalAt(value, slash + 1, to);
  if (start < 0 || end < 0 || total < 0) {
    const v = value.trim();
    const [bad, text, what] = start < 0 ? [start, value.slice(p, dash), 'range start']
      : end < 0 ? [end, value.slice(dash + 1, slash), 'range end'] : [total, value.slice(slash + 1, to), 'total length'];
    return (`Content-Range ${quote(v)}: ${decimalError(text, what, bad)}`);
  }
  if (start > end) return (`Content-Range ${quote(value.trim())}: start ${start} is after end ${end}`);
  if (end >= total) return (`Content-Range ${quote(value.trim())}: end ${end} is not below the total length ${total}`);
  return { start, end, total };
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * `BITS-Received-Content-Range`: despite the name, the count of bytes the server holds
 * contiguously from offset 0, i.e. the next offset it expects (a plain decimal). Tolerated:
 * a range form `0-E` (or `bytes 0-E`), read as E+1, which some servers write.
 */
export function parseReceivedContentRange(value: string): Decoded<number> {
  let v = value;
  const dash0 = v.indexOf('-');
  if (dash0 < 0) {
    // The usual case, a plain count: no copies.
    const n = decimalAt(v, 0, v.length);
    if (n >= 0) return ok(n);
    v = v.trim();
    if (v.indexOf('-') < 0) return parseDecimal(v, 'BITS-Received-Content-Range');
  }
  v = v.trim();
  if (v.length > 6 && (v.charCodeAt(0) | 0x20) === 98 && v.slice(0, 6).toLowerCase() === 'bytes ') v = v.slice(6);
  const dash = v.indexOf('-');
  if (dash < 0) return parseDecimal(v, 'BITS-Received-Content-Range');
  const start = parseDecimal(v.slice(0, dash), 'BITS-Received-Content-Range start');
  const end = parseDecimal(v.slice(dash + 1), 'BITS-Received-Content-Range end');
  if (!start.ok || !end.ok || start.value !== 0 || end.value + 1 > Number.MAX_SAFE_INTEGER) {
    return fail(`BITS-Received-Content-Range ${quote(v)} is neither a byte count nor a range 0-END`);
  }
  return ok(end.value + 1);
}

function quote(v: string): string {
  return JSON.stringify(v.length > 80 ? v.slice(0, 80) + '...' : v);
}
