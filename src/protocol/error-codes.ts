import { type Decoded, fail, ok } from './decoded.js';

/** An HRESULT from `BITS-Error-Code`, decoded. */
export interface ErrorCode {
  /** Unsigned 32-bit value. */
  value: number;
  /** `0x` + eight upper-case hex digits, e.g. `0x8020001F`. */
  hex: string;
  /** Symbolic name from bitsmsg.h / winerror.h; absent when unknown (never guessed). */
  name?: string;
  meaning?: string;
}

/** Values from the Windows SDK (bitsmsg.h, winerror.h); bits-protocol.md §6. */
export const ERROR_CODES = {
  S_OK: 0x0,
  S_FALSE: 0x1,
  E_NOTIMPL: 0x80004001,
  E_FAIL: 0x80004005,
  E_ACCESSDENIED: 0x80070005,
  E_OUTOFMEMORY: 0x8007000e,
  E_INVALIDARG: 0x80070057,
  ERROR_DISK_FULL: 0x80070112,
  BG_E_INVALID_SERVER_RESPONSE: 0x8020001b,
  BG_E_ERROR_CONTEXT_REMOTE_APPLICATION: 0x8020001e,
  BG_E_SESSION_NOT_FOUND: 0x8020001f,
  BG_E_TOO_LARGE: 0x80200020,
  BG_E_STRING_TOO_LONG: 0x80200021,
  BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH: 0x80200022,
  BG_E_SERVER_EXECUTE_ENABLE: 0x80200023,
} as const;

export type ErrorCodeName = keyof typeof ERROR_CODES;

const MEANINGS: Readonly<Record<ErrorCodeName, string>> = {
  S_OK: 'success',
  S_FALSE: 'success (false); some servers put it on a successful Ping Ack',
  E_NOTIMPL: 'not implemented',
  E_FAIL: 'unspecified failure',
  E_ACCESSDENIED: 'not allowed to upload there (or uploads are disabled for the directory)',
  E_OUTOFMEMORY: 'the server ran out of memory',
  E_INVALIDARG: 'bad packet, no common protocol, or bad range',
  ERROR_DISK_FULL: 'the server disk is full; the client resends later',
  BG_E_INVALID_SERVER_RESPONSE: 'the server broke the protocol; the client retries',
  BG_E_ERROR_CONTEXT_REMOTE_APPLICATION: 'the server application reported the error',
  BG_E_SESSION_NOT_FOUND: 'the server does not know this session id; the client retries the job',
  BG_E_TOO_LARGE: "the upload exceeds the server's size limit",
  BG_E_STRING_TOO_LONG: 'a string (e.g. a header) is too long',
  BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH: 'client and server share no protocol version',
  BG_E_SERVER_EXECUTE_ENABLE: 'script/execute permission is on for the upload directory',
};

const BY_VALUE: ReadonlyMap<number, ErrorCodeName> = new Map(
  (Object.keys(ERROR_CODES) as ErrorCodeName[]).map((name) => [ERROR_CODES[name] >>> 0, name]),
);

/** HTTP statuses that bitsmsg.h defines a BG_E_HTTP_ERROR_xxx (= 0x80190000 + status) for. */
const HTTP_ERROR_STATUSES: ReadonlySet<number> = new Set([
  100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 449,
  500, 501, 502, 503, 504, 505,
]);
/** BG_E_HTTP_ERROR_xxx = this + the HTTP status: how an HTTP status is reported as an HRESULT. */
export const HTTP_ERROR_BASE = 0x80190000;

export function formatHex(value: number): string {
  return '0x' + (value >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** Names a code when the SDK defines it; unknown codes get their hex form only. */
export function describeErrorCode(code: number): ErrorCode {
  const value = code >>> 0;
  const hex = formatHex(value);
  const name = BY_VALUE.get(value);
  if (name) return { value, hex, name, meaning: MEANINGS[name] };
  const status = value - HTTP_ERROR_BASE;
  if (status >= 0 && status < 0x10000 && HTTP_ERROR_STATUSES.has(status)) {
    return { value, hex, name: `BG_E_HTTP_ERROR_${status}`, meaning: `HTTP status ${status} reported as an error` };
  }
  return { value, hex };
}

/** `0x8020001F BG_E_SESSION_NOT_FOUND`, or the hex alone. */
export function formatErrorCode(code: ErrorCode): string {
  return code.name ? `${code.hex} ${code.name}` : code.hex;
}

// `0x8020001F`, and `x8020001F` as [MC-BUP] 2.2.1.2 writes it (bits-protocol.md §6, §8).
const HEX_PREFIXED = /^0?[xX]([0-9a-fA-F]{1,8})$/;
const HEX_BARE = /^[0-9a-fA-F]{1,8}$/;
const DECIMAL = /^-?[0-9]{1,10}$/;

/**
 * Reads an error code the ways servers write it:
 * - `0x80070057` (any case, 1-8 hex digits) or `x80070057` ([M]'s notation): hex;
 * - `80070057`: eight digits starting with 8 are an unprefixed HRESULT (as a decimal it would
 *   be a meaningless positive code), so hex;
 * - bare hex containing a letter (`8020001F`): hex;
 * - other digit strings (`0`, `1`, `5`): decimal, up to 0xFFFFFFFF;
 * - `-2147024809`: a signed 32-bit decimal, as some stacks print HRESULTs.
 * Anything else is refused with a reason.
 */
export function parseErrorCode(value: string): Decoded<ErrorCode> {
  const v = value.trim();
  if (v.length === 0) return fail('error code is empty');
  const m = HEX_PREFIXED.exec(v);
  if (m) return ok(describeErrorCode(parseInt(m[1]!, 16)));
  if (/^8[0-9]{7}$/.test(v)) return ok(describeErrorCode(parseInt(v, 16)));
  if (DECIMAL.test(v)) {
    const n = Number(v);
    if (n < -0x80000000 || n > 0xffffffff) return fail(`error code ${v} does not fit 32 bits`);
    return ok(describeErrorCode(n));
  }
  if (HEX_BARE.test(v)) return ok(describeErrorCode(parseInt(v, 16)));
  return fail(`error code ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)} is neither hex nor decimal`);
}

/** `BITS-Error-Context`: same notations as the code (`0x5`, `5`). 0x5 = server extension, 0x7 = server application. */
export function parseErrorContext(value: string): Decoded<number> {
  const r = parseErrorCode(value);
  return r.ok ? ok(r.value.value) : fail(r.reason.replace('error code', 'error context'));
}

export const ERROR_CONTEXT_NAMES: Readonly<Record<number, string>> = {
  0x5: 'BITS server extension',
  0x7: 'server application',
};
