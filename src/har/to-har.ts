/**
 * Observations -> HAR 1.2. Pure: the caller reads the recording or the tracker and writes
 * the file. One log per recording or per session, entries in the order given.
 *
 * What HAR cannot say exactly, and how we fill it:
 *  - bodies: never recorded by bitsgate, so never written; `bodySize` and `content.size`
 *    carry the byte counts and `comment` says why the text is missing;
 *  - timings: an observation knows when the request head was complete, when the response
 *    head went out and when the exchange ended. The request body travels between the first
 *    two, so `send` is 0 and `wait` holds body upload plus server time; `blocked`, `dns`,
 *    `connect` and `ssl` are -1 (not applicable to one exchange on a kept-alive connection);
 *  - `request.url` must be absolute: built from the Host header (http, since the scheme is
 *    not on the wire); the target exactly as sent is kept in `_bits.target`;
 *  - `connection` is the gateway's client connection id, so reconnects are visible.
 */
import type { HeaderList, Observation } from '../observation.js';
import { decodeAck, decodeRequest, formatErrorCode, headerValue } from '../protocol/index.js';
import { packetKind } from '../sessions/packet-record.js';
import type { BitsEntryFields, HarEntry, HarFile, HarHeader } from './har-types.js';
import { HAR_CREATOR } from './har-types.js';

export const BODY_COMMENT = 'bitsgate never records bodies: request and response text is not included; bodySize and content.size give the byte counts';

export interface HarOptions {
  /** creator.version (the bitsgate version). */
  version: string;
  /** log.comment, e.g. what was exported; the body note is always added. */
  comment?: string;
}

export function toHar(observations: Iterable<Observation>, options: HarOptions): HarFile {
  const file = emptyHar(options);
  for (const obs of observations) file.log.entries.push(harEntry(obs));
  return file;
}

/** The log without entries: `bitsgate export` streams the entries into it one by one. */
export function emptyHar(options: HarOptions): HarFile {
  return {
    log: {
      version: '1.2',
      creator: { name: HAR_CREATOR, version: options.version },
      entries: [],
      comment: options.comment ? `${options.comment}. ${BODY_COMMENT}` : BODY_COMMENT,
    },
  };
}

export function harEntry(obs: Observation, comment?: string): HarEntry {
  const responded = obs.respondedAt ?? obs.endedAt;
  const wait = nonNegative(responded - obs.startedAt);
  const receive = obs.status === undefined ? 0 : nonNegative(obs.endedAt - responded);
  const host = headerValue(obs.requestHeaders, 'host');
  const reqHeaders = harHeaders(obs.requestHeaders);
  const respHeaders = harHeaders(obs.responseHeaders ?? []);
  const absolute = absoluteUrl(obs.url, host);
  const entry: HarEntry = {
    startedDateTime: isoTime(obs.startedAt),
    time: wait + receive,
    request: {
      method: obs.method,
      url: absolute,
      httpVersion: `HTTP/${obs.httpVersion}`,
      cookies: [],
      headers: reqHeaders,
      queryString: queryString(absolute),
      headersSize: headBytes(`${obs.method} ${obs.url} HTTP/${obs.httpVersion}`, obs.requestHeaders),
      bodySize: obs.requestBodyBytes,
    },
    response: {
      status: obs.status ?? 0,
      statusText: obs.status === undefined ? '' : STATUS_TEXT[obs.status] ?? '',
      httpVersion: obs.status === undefined ? '' : `HTTP/${obs.httpVersion}`,
      cookies: [],
      headers: respHeaders,
      content: {
        size: obs.responseBodyBytes,
        mimeType: (obs.responseHeaders && headerValue(obs.responseHeaders, 'content-type')) ?? 'x-unknown',
        comment: 'body not included',
      },
      redirectURL: (obs.responseHeaders && headerValue(obs.responseHeaders, 'location')) ?? '',
      headersSize: obs.status === undefined ? -1 : headBytes(`HTTP/${obs.httpVersion} ${obs.status} ${STATUS_TEXT[obs.status] ?? ''}`, obs.responseHeaders ?? []),
      bodySize: obs.status === undefined ? -1 : obs.responseBodyBytes,
    },
    cache: {},
    timings: { blocked: -1, dns: -1, connect: -1, send: 0, wait, receive, ssl: -1 },
    connection: String(obs.connectionId),
    _bits: bitsFields(obs),
  };
  const notes = [comment, obs.error !== undefined ? `exchange failed: ${obs.error}` : undefined].filter(Boolean);
  if (notes.length) entry.comment = notes.join('; ');
  return entry;
}

function bitsFields(obs: Observation): BitsEntryFields {
  const req = decodeRequest(obs.method, obs.requestHeaders, obs.requestBodyBytes);
  const packet: BitsEntryFields['packet'] = { kind: packetKind(req) };
  if (req?.sessionId !== undefined) packet.sessionId = req.sessionId;
  if (req?.range) packet.range = { start: req.range.start, end: req.range.end, total: req.range.total };
  if (req && obs.status !== undefined) {
    const ack = decodeAck(obs.status, obs.responseHeaders ?? []);
    if (packet.sessionId === undefined && ack.sessionId !== undefined) packet.sessionId = ack.sessionId;
    if (ack.receivedOffset !== undefined) packet.ackedOffset = ack.receivedOffset;
    if (ack.errorCode) packet.errorCode = formatErrorCode(ack.errorCode);
  }
  const f: BitsEntryFields = {
    exchange: obs.id,
    connectionId: obs.connectionId,
    client: { address: obs.client.address, port: obs.client.port },
    target: obs.url,
    startedAt: obs.startedAt,
    endedAt: obs.endedAt,
    packet,
  };
  if (obs.respondedAt !== undefined) f.respondedAt = obs.respondedAt;
  if (obs.responder !== undefined) f.responder = obs.responder;
  if (obs.upstreamConnectionId !== undefined) f.upstreamConnectionId = obs.upstreamConnectionId;
  if (obs.error !== undefined) f.error = obs.error;
  if (obs.injected !== undefined) f.injected = { ...obs.injected };
  return f;
}

function harHeaders(list: HeaderList): HarHeader[] {
  const out: HarHeader[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = { name: list[i]![0], value: list[i]![1] };
  return out;
}

/** Bytes of a head as written: start line, `name: value` lines, blank line (CRLF each). */
function headBytes(startLine: string, headers: HeaderList): number {
  let n = Buffer.byteLength(startLine) + 2;
  for (const [k, v] of headers) n += Buffer.byteLength(k) + 2 + Buffer.byteLength(v) + 2;
  return n + 2;
}

/**
 * HAR wants an absolute URL. The Host header comes from traffic: when it does not make a
 * valid URL we fall back to a reserved name rather than fail the export.
 */
function absoluteUrl(target: string, host: string | undefined): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return target;
  const path = target.startsWith('/') ? target : `/${target}`;
  const h = host?.trim();
  return `http://${h && HOST_RE.test(h) ? h : 'unknown-host.invalid'}${path}`;
}

/** A reg-name or IPv4 with optional port, or a bracketed IPv6 literal: what a URL authority may hold. */
const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function queryString(url: string): Array<{ name: string; value: string }> {
  if (!url.includes('?')) return [];
  try {
    return [...new URL(url).searchParams].map(([name, value]) => ({ name, value }));
  } catch {
    return [];
  }
}

function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}

function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Reason phrases for the statuses a BITS exchange meets; others are left empty (HAR allows ''). */
const STATUS_TEXT: Record<number, string> = {
  100: 'Continue', 200: 'OK', 201: 'Created', 204: 'No Content', 206: 'Partial Content', 301: 'Moved Permanently',
  302: 'Found', 304: 'Not Modified', 307: 'Temporary Redirect', 400: 'Bad Request', 401: 'Unauthorized',
  403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 407: 'Proxy Authentication Required',
  408: 'Request Timeout', 411: 'Length Required', 413: 'Content Too Large', 416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};
