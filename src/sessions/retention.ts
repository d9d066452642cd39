/**
 * What the tracker may keep of what a client sent, and what it costs, in bytes.
 *
 * Theory of operation. A request head may be 64 KiB, so a client can make every exchange
 * carry one 60 KB header, and the tracker keeps each session's Create-Session headers for as
 * long as the session lives. Counting sessions alone let 100 000 such sessions (6 GB) crash
 * the gateway. Two defences:
 *  - caps on what one exchange retains: each header value cut to MAX_RETAINED_HEADER_VALUE
 *    characters, at most MAX_RETAINED_HEADER_BYTES of headers per exchange (response first,
 *    then the request in wire order), the URL cut to MAX_RETAINED_URL, violation messages
 *    (which may quote a header) to MAX_VIOLATION_MESSAGE. The decoded fields (range, acked
 *    offset, error code, session state) come from the full headers before the cut;
 *  - an estimate of what each session holds (sessionBytes), which the tracker sums and keeps
 *    under its byte budget (maxSessionMemory) by evicting the least recently active sessions.
 *
 * The estimates are deliberately on the high side of V8's real cost (a one-byte string is
 * 16 + n bytes; a [name, value] pair is an array plus two strings), so the budget is a bound
 * on the heap the tracker holds, not a wish. Truncated strings are copied (detach): a slice
 * of a 60 KB header line would otherwise keep the whole line alive.
 */
import type { HeaderList } from '../observation.js';
import type { PacketRecord } from './events.js';
import type { Session } from './session.js';

/** Characters kept of one header value in a timeline entry (NTLM/Negotiate blobs are longer; their start identifies them). */
export const MAX_RETAINED_HEADER_VALUE = 1024;
/** Header bytes (names + values + per-field overhead) kept per exchange, request and response together. */
export const MAX_RETAINED_HEADER_BYTES = 8192;
/** Of which the response may use at most half (an Ack's headers are ~200 bytes). */
const MAX_RETAINED_RESPONSE_BYTES = MAX_RETAINED_HEADER_BYTES / 2;
/** Characters kept of a timeline entry's request target. */
export const MAX_RETAINED_URL = 2048;
/** Characters kept of a violation message (the log line cuts at the same length). */
export const MAX_VIOLATION_MESSAGE = 512;

/** A [name, value] array and its two string headers. */
const FIELD_OVERHEAD = 64;
const LIST_OVERHEAD = 32;
const STRING_OVERHEAD = 16;
/** A PacketRecord object with its range object, on top of its strings and headers. */
const RECORD_OVERHEAD = 240;
/** A Session object, its lru-cache slot and Map entry, its timeline array, on top of its strings. */
const SESSION_OVERHEAD = 640;

const NO_HEADERS: HeaderList = Object.freeze([]);

function stringBytes(s: string | undefined): number {
  return s === undefined ? 0 : STRING_OVERHEAD + s.length;
}

export function headerListBytes(list: HeaderList | undefined): number {
  if (list === undefined) return 0;
  let n = LIST_OVERHEAD;
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    n += FIELD_OVERHEAD + f[0].length + f[1].length;
  }
  return n;
}

/** Bytes of raw headers a timeline entry holds. */
export function retainedHeaderBytes(rec: PacketRecord): number {
  return headerListBytes(rec.requestHeaders) + headerListBytes(rec.responseHeaders);
}

/** What a timeline entry costs apart from its headers. */
export function recordBaseBytes(rec: PacketRecord): number {
  return RECORD_OVERHEAD + stringBytes(rec.url) + stringBytes(rec.errorCode) + stringBytes(rec.error);
}

/** What a session holds apart from its timeline (whose entries the Timelines count in session.timelineBytes). */
export function sessionBytes(s: Session): number {
  return SESSION_OVERHEAD + stringBytes(s.id) + stringBytes(s.url) + stringBytes(s.path) + stringBytes(s.host) +
    stringBytes(s.client) + stringBytes(s.contentName) + stringBytes(s.protocol) + stringBytes(s.hostId) +
    // The reply URL is also a key of the tracker's reply index.
    2 * stringBytes(s.replyUrl) +
    8 * (s.violations.length + s.timeline.length) + 64 * s.errorCodes.length +
    64 * ((s.closes?.length ?? 0) + (s.moreInflight?.length ?? 0)) +
    s.timelineBytes;
}

/** A copy that shares no memory with `s` (a slice of a long string keeps the whole string alive). */
export function detach(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

function cut(s: string, max: number): string {
  return s.length > max ? detach(s.slice(0, max)) : s;
}

/** A violation message as the tracker keeps and publishes it. */
export function capMessage(message: string): string {
  return message.length > MAX_VIOLATION_MESSAGE ? detach(message.slice(0, MAX_VIOLATION_MESSAGE - 1)) + '…' : message;
}

/**
 * Applies the per-exchange caps to a freshly built record (packetRecord): header lists
 * within the caps are kept as they are (no copy on the hot path); others are replaced by a
 * capped copy and the record is flagged `headersTruncated`.
 */
export function capRecord(rec: PacketRecord): PacketRecord {
  if (rec.url.length > MAX_RETAINED_URL) {
    rec.url = cut(rec.url, MAX_RETAINED_URL);
    rec.urlTruncated = true;
  }
  const res = rec.responseHeaders;
  const reqBytes = bytesIfValuesFit(rec.requestHeaders);
  const resBytes = res === undefined ? 0 : bytesIfValuesFit(res);
  if (reqBytes >= 0 && resBytes >= 0 && reqBytes + resBytes <= MAX_RETAINED_HEADER_BYTES) return rec;
  let left = MAX_RETAINED_HEADER_BYTES;
  if (res !== undefined) {
    const capped = capList(res, Math.min(left, MAX_RETAINED_RESPONSE_BYTES));
    rec.responseHeaders = capped;
    left -= headerListBytes(capped);
  }
  rec.requestHeaders = capList(rec.requestHeaders, left);
  rec.headersTruncated = true;
  return rec;
}

/** headerListBytes in the same pass, or -1 when a name or value is longer than MAX_RETAINED_HEADER_VALUE. */
function bytesIfValuesFit(list: HeaderList): number {
  let n = LIST_OVERHEAD;
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    const a = f[0].length;
    const b = f[1].length;
    if (a > MAX_RETAINED_HEADER_VALUE || b > MAX_RETAINED_HEADER_VALUE) return -1;
    n += FIELD_OVERHEAD + a + b;
  }
  return n;
}

/** Fields in wire order, each value cut, skipping any that no longer fits `budget` bytes. */
function capList(list: HeaderList, budget: number): HeaderList {
  let left = budget - LIST_OVERHEAD;
  if (left <= 0) return NO_HEADERS;
  const out: (readonly [string, string])[] = [];
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    const name = cut(f[0], MAX_RETAINED_HEADER_VALUE);
    const value = cut(f[1], MAX_RETAINED_HEADER_VALUE);
    const bytes = FIELD_OVERHEAD + name.length + value.length;
    if (bytes > left) continue;
    left -= bytes;
    out.push(name === f[0] && value === f[1] ? f : [name, value]);
  }
  return out;
}
