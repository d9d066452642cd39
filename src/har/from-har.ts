/**
 * HAR 1.2 -> observations, so a capture from Fiddler, Charles, Chrome DevTools or mitmproxy
 * goes through the same protocol core as live traffic. Pure: the caller reads the file.
 *
 * The dialects differ (field-notes-2 §7) and we read only what they share, with these rules:
 *  - entries are ordered by `startedDateTime` (Fiddler writes 7 decimals and a local
 *    offset; files are not always in start order), ties keep file order;
 *  - `connection` names the TCP connection where present: Chrome's socket id, Fiddler's
 *    client port (reused over time, good enough to tell concurrent connections apart);
 *    mitmproxy writes none, so its exchanges share connection 0 (unknown);
 *  - bodies are never needed: sizes come from `bodySize` (Fiddler writes request bodies
 *    as text at any size, so its `bodySize` is what counts), then Content-Length, then
 *    `postData.text`;
 *  - HTTP/2 pseudo-headers (Chrome) are dropped; `:authority` becomes Host if none is sent;
 *  - entries that are not BITS are counted and skipped, except GET/HEAD of a reply URL an
 *    Ack announced: that is how an upload-reply client fetches its reply, and the tracker
 *    must see it to know the reply was not lost;
 *  - `_bits` (exact times, exchange ids, client, the target as sent) is honoured only when
 *    `creator.name` is bitsgate: other tools' `_` fields are theirs to define.
 */
import type { HeaderList, Observation } from '../observation.js';
import { decodeAck, decodeRequest, type Decoded, headerValue } from '../protocol/index.js';
import { pathAndQuery } from '../sessions/url.js';
import { parseInjectedMark } from '../sessions/injected.js';
import { HAR_CREATOR } from './har-types.js';

export interface HarNotice {
  /** Index of the entry in the file (0-based), or -1 for the file itself. */
  entry: number;
  message: string;
}

export interface HarImport {
  creator: { name: string; version: string };
  /** Observations of the BITS entries (and reply fetches), ordered by start time. */
  observations: Observation[];
  entries: number;
  /** Entries that are not BITS exchanges, skipped. */
  skipped: number;
  /** Entries that could not be read (no method, no URL, no start time), skipped. */
  malformed: HarNotice[];
}

type Obj = Record<string, unknown>;

/** Sniffs whether text is a HAR file rather than an NDJSON recording: `{` then `"log"`. */
export function looksLikeHar(head: string): boolean {
  return /^\s*\{\s*"log"\s*:/.test(head);
}

export function fromHar(json: unknown): Decoded<HarImport> {
  if (!isObj(json) || !isObj(json.log)) return { ok: false, reason: 'not a HAR file: no "log" object' };
  const log = json.log;
  if (!Array.isArray(log.entries)) return { ok: false, reason: 'not a HAR file: "log.entries" is not an array' };
  const creator = isObj(log.creator) ? log.creator : {};
  const creatorName = typeof creator.name === 'string' ? creator.name : '';
  const trustBits = creatorName === HAR_CREATOR;
  const result: HarImport = {
    creator: { name: creatorName, version: typeof creator.version === 'string' ? creator.version : '' },
    observations: [],
    entries: log.entries.length,
    skipped: 0,
    malformed: [],
  };

  const read: Array<{ obs: Observation; index: number; hasBitsId: boolean }> = [];
  const connections = new Map<string, number>();
  log.entries.forEach((raw: unknown, index: number) => {
    const e = entryObservation(raw, trustBits, connections);
    if (!e.ok) result.malformed.push({ entry: index, message: e.reason });
    else read.push({ obs: e.value, index, hasBitsId: e.value.id > 0 });
  });
  read.sort((a, b) => a.obs.startedAt - b.obs.startedAt || a.index - b.index);

  // Reply URLs announced by any Ack, so the reply fetch is kept (see the file comment).
  const replyPaths = new Set<string>();
  const isBits = read.map(({ obs }) => decodeRequest(obs.method, obs.requestHeaders, obs.requestBodyBytes) !== null);
  read.forEach(({ obs }, i) => {
    if (!isBits[i] || obs.status === undefined || !obs.responseHeaders) return;
    const reply = decodeAck(obs.status, obs.responseHeaders).replyUrl;
    if (reply !== undefined) replyPaths.add(pathAndQuery(reply));
  });

  let nextId = 1;
  read.forEach(({ obs, hasBitsId }, i) => {
    const keep = isBits[i] || ((obs.method === 'GET' || obs.method === 'HEAD') && replyPaths.has(pathAndQuery(obs.url)));
    if (!keep) {
      result.skipped++;
      return;
    }
    if (!hasBitsId) obs.id = nextId;
    nextId = Math.max(nextId, obs.id) + 1;
    result.observations.push(obs);
  });
  return { ok: true, value: result };
}

function entryObservation(raw: unknown, trustBits: boolean, connections: Map<string, number>): Decoded<Observation> {
  if (!isObj(raw)) return { ok: false, reason: 'entry is not an object' };
  const request = isObj(raw.request) ? raw.request : undefined;
  const response = isObj(raw.response) ? raw.response : {};
  if (!request) return { ok: false, reason: 'entry has no "request"' };
  if (typeof request.method !== 'string' || request.method === '') return { ok: false, reason: 'request has no method' };
  if (typeof request.url !== 'string') return { ok: false, reason: 'request has no url' };
  const started = typeof raw.startedDateTime === 'string' ? parseHarTime(raw.startedDateTime) : NaN;
  if (!Number.isFinite(started)) return { ok: false, reason: 'startedDateTime is not a date' };
  const bits = trustBits && isObj(raw._bits) ? raw._bits : undefined;

  const requestHeaders = withHost(harHeaderList(request.headers), request.url);
  const status = isInt(response.status) && (response.status as number) >= 100 && (response.status as number) <= 999
    ? (response.status as number) : undefined;
  const timings = isObj(raw.timings) ? raw.timings : {};
  const total = isNum(raw.time) && (raw.time as number) >= 0 ? (raw.time as number) : sumTimings(timings, ['blocked', 'dns', 'connect', 'send', 'wait', 'receive']);
  const beforeResponse = sumTimings(timings, ['blocked', 'dns', 'connect', 'send', 'wait']);

  const obs: Observation = {
    id: 0,
    connectionId: connectionId(raw.connection, connections),
    client: { address: '', port: 0 },
    method: request.method,
    url: pathAndQuery(request.url),
    httpVersion: httpVersion(request.httpVersion),
    requestHeaders,
    startedAt: started,
    requestBodyBytes: requestBodyBytes(request, requestHeaders),
    responseBodyBytes: 0,
    endedAt: started + total,
  };
  if (status !== undefined) {
    obs.status = status;
    obs.responseHeaders = harHeaderList(response.headers);
    obs.responseBodyBytes = count(response.bodySize) ?? (isObj(response.content) ? count(response.content.size) : undefined) ?? 0;
    obs.respondedAt = started + Math.min(beforeResponse, total);
    obs.responder = 'upstream';
  } else {
    const why = typeof raw._error === 'string' ? raw._error : typeof response._error === 'string' ? response._error : undefined;
    obs.error = why ? `no response in capture: ${why.slice(0, 200)}` : 'no response in capture';
  }
  if (bits) applyBits(obs, bits);
  return { ok: true, value: obs };
}

/** A bitsgate HAR carries the exchange exactly as observed: restore what HAR rounds or drops. */
function applyBits(obs: Observation, b: Obj): void {
  if (isInt(b.exchange) && (b.exchange as number) > 0) obs.id = b.exchange as number;
  if (isInt(b.connectionId)) obs.connectionId = b.connectionId as number;
  if (isObj(b.client) && typeof b.client.address === 'string' && isInt(b.client.port)) {
    obs.client = { address: b.client.address, port: b.client.port as number };
  }
  if (typeof b.target === 'string' && b.target !== '') obs.url = b.target;
  if (isNum(b.startedAt)) obs.startedAt = b.startedAt as number;
  if (isNum(b.endedAt)) obs.endedAt = b.endedAt as number;
  if (isNum(b.respondedAt) && obs.status !== undefined) obs.respondedAt = b.respondedAt as number;
  if (b.responder === 'upstream' || b.responder === 'gateway') obs.responder = b.responder;
  if (isInt(b.upstreamConnectionId)) obs.upstreamConnectionId = b.upstreamConnectionId as number;
  if (typeof b.error === 'string') obs.error = b.error;
  else delete obs.error;
  const injected = parseInjectedMark(b.injected);
  if (injected !== undefined) obs.injected = injected;
}

/** ISO 8601 with any number of fraction digits (Fiddler writes 7; Date.parse wants at most 3). */
export function parseHarTime(text: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?$/i.exec(text.trim());
  if (!m) return NaN;
  const frac = m[2] ?? '';
  const ms = frac.length > 3 ? Number(`${frac.slice(0, 3)}.${frac.slice(3)}`) : Number(frac.padEnd(3, '0'));
  const zone = m[3] === undefined ? 'Z' : m[3].toUpperCase() === 'Z' ? 'Z' : m[3].includes(':') ? m[3] : `${m[3].slice(0, 3)}:${m[3].slice(3)}`;
  const whole = Date.parse(`${m[1]}${zone}`);
  return Number.isFinite(whole) ? whole + ms : NaN;
}

function harHeaderList(v: unknown): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!Array.isArray(v)) return out;
  for (const h of v) {
    if (isObj(h) && typeof h.name === 'string' && typeof h.value === 'string') out.push([h.name, h.value]);
  }
  return out;
}

/** Drops HTTP/2 pseudo-headers; a request without Host gets the one `:authority` or the URL names. */
function withHost(headers: Array<[string, string]>, url: string): HeaderList {
  const authority = headers.find(([k]) => k.toLowerCase() === ':authority')?.[1];
  const plain = headers.filter(([k]) => !k.startsWith(':'));
  if (headerValue(plain, 'host') !== undefined) return plain;
  let host = authority;
  if (host === undefined) {
    try {
      host = new URL(url).host || undefined;
    } catch {
      host = undefined;
    }
  }
  return host === undefined ? plain : [['Host', host], ...plain];
}

function requestBodyBytes(request: Obj, headers: HeaderList): number {
  const size = count(request.bodySize);
  if (size !== undefined) return size;
  const cl = headerValue(headers, 'content-length');
  if (cl !== undefined && /^\d{1,15}$/.test(cl.trim())) return Number(cl.trim());
  const post = isObj(request.postData) ? request.postData : undefined;
  return typeof post?.text === 'string' ? new TextEncoder().encode(post.text).length : 0;
}

/** Numeric `connection` values are kept (socket id, client port); other strings are numbered. */
function connectionId(v: unknown, seen: Map<string, number>): number {
  if (typeof v !== 'string' && typeof v !== 'number') return 0;
  const s = String(v).trim();
  if (/^\d{1,15}$/.test(s)) return Number(s);
  if (s === '') return 0;
  let id = seen.get(s);
  if (id === undefined) seen.set(s, (id = 1_000_000_000 + seen.size));
  return id;
}

function httpVersion(v: unknown): string {
  const m = typeof v === 'string' ? /(\d(?:\.\d)?)\s*$/.exec(v) : null;
  return m ? m[1]! : '1.1';
}

function sumTimings(t: Obj, keys: string[]): number {
  let sum = 0;
  for (const k of keys) if (isNum(t[k]) && (t[k] as number) > 0) sum += t[k] as number;
  return sum;
}

function count(v: unknown): number | undefined {
  return isInt(v) && (v as number) >= 0 ? (v as number) : undefined;
}
function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function isNum(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v);
}
function isInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v);
}
