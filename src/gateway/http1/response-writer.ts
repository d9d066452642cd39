/**
 * Serialises response heads and decides response framing (RFC 9112 §6.3, §9.3). Pure
 * functions: the Http1Response object owns the socket and calls these.
 *
 * The caller passes end-to-end headers; this module owns the hop-by-hop ones. A given
 * Content-Length is kept; otherwise a body-bearing response is chunked to a 1.1 client or
 * delimited by closing the connection for a 1.0 client. `Connection: close` is added
 * whenever the connection will close, so a client never reuses a dying connection.
 */
import { STATUS_CODES } from 'node:http';
import type { HeaderList } from '../../observation.js';
import { isToken } from '../../protocol/index.js';
import { FIELD_VALUE_FORBIDDEN } from './syntax.js';
import { listMembers } from './request-framing.js';

export type ResponseFraming = 'none' | 'length' | 'chunked' | 'close';

export interface ResponsePlan {
  /** Status line + fields + empty line, latin1 (header strings are byte strings, as Node's parser gives them). */
  head: string;
  framing: ResponseFraming;
  /** Body bytes announced by Content-Length (framing 'length'). */
  length: number;
  /** The connection closes after this response. */
  close: boolean;
}

export interface ResponseContext {
  requestMethod: string;
  clientVersion: '1.0' | '1.1';
  /** The request allows persistence and nobody asked to close. */
  keepAlive: boolean;
}

/** Fields this writer generates itself; a caller's copies would contradict the real framing. */
const OWNED_FIELDS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection']);
const CONTENT_LENGTH = /^(?:0|[1-9][0-9]*)$/;

export function hasNoBody(status: number, requestMethod: string): boolean {
  return requestMethod === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304;
}

export function statusLine(status: number, reason?: string): string {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError(`invalid HTTP status ${String(status)}`);
  const text = reason ?? STATUS_CODES[status] ?? 'Unknown';
  // reason-phrase (RFC 9112 §4) allows what a field value does: HTAB, SP, VCHAR, obs-text.
  if (FIELD_VALUE_FORBIDDEN.test(text)) throw new TypeError('invalid character in reason phrase');
  return `HTTP/1.1 ${status} ${text}\r\n`;
}

function checkField(name: string, value: string): void {
  if (!isToken(name)) throw new TypeError(`invalid response header name ${JSON.stringify(name)}`);
  if (FIELD_VALUE_FORBIDDEN.test(value)) throw new TypeError(`invalid character in response header ${name}`);
}

/** Plans a final (>= 200) response. Throws TypeError/RangeError on a header that would split the response. */
export function planResponse(status: number, headers: HeaderList, ctx: ResponseContext, reason?: string): ResponsePlan {
  let head = statusLine(status, reason);
  let length = -1;
  let close = !ctx.keepAlive;
  for (const [name, value] of headers) {
    checkField(name, value);
    const lower = name.toLowerCase();
    if (OWNED_FIELDS.has(lower)) {
      if (lower === 'connection' && listMembers([value]).includes('close')) close = true;
      continue;
    }
    if (lower === 'content-length') {
      // RFC 9110 §8.6: never on a 204 (it has no body anyway); dropping it cannot change framing.
      if (status === 204) continue;
      if (!CONTENT_LENGTH.test(value) || !Number.isSafeInteger(Number(value))) throw new TypeError(`invalid Content-Length ${JSON.stringify(value)}`);
      const n = Number(value);
      if (length >= 0 && n !== length) throw new TypeError('conflicting Content-Length values');
      if (length >= 0) continue; // an identical repeat is dropped, not relayed
      length = n;
    }
    head += `${name}: ${value}\r\n`;
  }
  let framing: ResponseFraming;
  if (hasNoBody(status, ctx.requestMethod)) framing = 'none';
  else if (length >= 0) framing = 'length';
  else if (ctx.clientVersion === '1.1') {
    framing = 'chunked';
    head += 'Transfer-Encoding: chunked\r\n';
  } else {
    framing = 'close';
    close = true;
  }
  if (close) head += 'Connection: close\r\n';
  else if (ctx.clientVersion === '1.0') head += 'Connection: keep-alive\r\n';
  return { head: head + '\r\n', framing, length: Math.max(length, 0), close };
}

/** An interim (1xx) response head: fields passed as given, no framing. */
export function interimHead(status: number, headers: HeaderList, reason?: string): string {
  let head = statusLine(status, reason);
  for (const [name, value] of headers) {
    checkField(name, value);
    head += `${name}: ${value}\r\n`;
  }
  return head + '\r\n';
}

export const CONTINUE_HEAD = 'HTTP/1.1 100 Continue\r\n\r\n';
export const LAST_CHUNK = '0\r\n\r\n';
export const CRLF = '\r\n';

export function chunkHeader(length: number): string {
  return `${length.toString(16)}\r\n`;
}

/**
 * A response the listener generates itself (400/408/431/500/505). Always Content-Length and
 * Connection: close; the body names only our own stable reason code, never request data.
 */
export function errorResponse(status: number, reason: string): Buffer {
  const body = `${status} ${STATUS_CODES[status] ?? 'Error'}: ${reason}\n`;
  return Buffer.from(
    `${statusLine(status)}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    'latin1',
  );
}
