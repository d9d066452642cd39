/**
 * Replays a recording (NDJSON written by src/sinks/recorder.ts) through a SessionTracker.
 * Pure apart from the iterable it is given: `analyze` feeds it a readline stream, tests
 * feed it arrays. A malformed line is reported with its number and skipped, never fatal.
 *
 * Format: optional `{"type":"meta","format":"bitsgate-observations","version":1}`, then one
 * `{"type":"observation", ...Observation}` per line; lines without "type" that look like an
 * observation are accepted too. `{"type":"connection-closed","connectionId":N,"at":MS}` says a
 * client connection ended (the tracker needs it for Close retries). `{"type":"dropped","count":N}` marks observations the
 * recorder had to drop: the replay says so, because the result is then incomplete.
 */
import type { ConnectionClosed, HeaderList, Observation } from '../observation.js';
import type { Decoded } from '../protocol/index.js';
import type { BitsEvent, SessionSummary, Violation } from './events.js';
import { parseInjectedMark } from './injected.js';
import { SessionTracker, type SessionTrackerOptions } from './tracker.js';

export const RECORDING_FORMAT = 'bitsgate-observations';

export interface ReplayNotice {
  line: number;
  message: string;
}

export interface ReplayResult {
  tracker: SessionTracker;
  observations: number;
  /** Every session seen, in order of first appearance (evicted ones as they were evicted). */
  sessions: SessionSummary[];
  /** Every violation, in the order found (not bounded like recentViolations()). */
  violations: Violation[];
  /** Lines skipped because they could not be read. */
  malformed: ReplayNotice[];
  /** Things the reader should know: another format, dropped observations. */
  warnings: ReplayNotice[];
  /** Observations the recorder reported as dropped. */
  dropped: number;
  /** Exchanges the gateway injected a fault into (`--inject`): never held against client or server. */
  injected?: number;
}

export interface ReplayOptions extends SessionTrackerOptions {
  /** Called for each malformed line as it is found (e.g. to print it at once). */
  onMalformed?: (notice: ReplayNotice) => void;
  /** Called for every event, after the replay's own bookkeeping. */
  onEvent?: (event: BitsEvent) => void;
}

/** What one line holds. */
export type RecordingLine =
  | { kind: 'observation'; observation: Observation }
  | { kind: 'connection-closed'; closed: ConnectionClosed }
  | { kind: 'meta'; format: unknown; version: unknown }
  | { kind: 'dropped'; count: number }
  | { kind: 'blank' }
  | { kind: 'other'; type: string };

/**
 * `lines` are NDJSON lines, or lines already decoded (a HAR capture converted by src/har):
 * both go through the same loop, so a capture and a recording are judged alike.
 */
export async function replay(lines: AsyncIterable<string | RecordingLine> | Iterable<string | RecordingLine>, options: ReplayOptions = {}): Promise<ReplayResult> {
  const { onMalformed, onEvent, ...trackerOptions } = options;
  const tracker = new SessionTracker(trackerOptions);
  const result: ReplayResult = { tracker, observations: 0, sessions: [], violations: [], malformed: [], warnings: [], dropped: 0 };
  const evicted = new Map<string, SessionSummary>();
  const order = new Map<string, number>(); // session id -> first appearance
  const otherTypes = new Set<string>();
  let n = 0;
  for await (const text of lines) {
    n++;
    const parsed: Decoded<RecordingLine> = typeof text === 'string' ? parseRecordingLine(text) : { ok: true, value: text };
    if (!parsed.ok) {
      const notice = { line: n, message: parsed.reason };
      result.malformed.push(notice);
      onMalformed?.(notice);
      continue;
    }
    const line = parsed.value;
    switch (line.kind) {
      case 'observation': {
        result.observations++;
        for (const event of tracker.observe(line.observation)) {
          if (event.type === 'violation') result.violations.push(event.violation);
          else if (event.type === 'session-created' && !order.has(event.session.id)) order.set(event.session.id, order.size);
          else if (event.type === 'session-evicted') evicted.set(event.session.id, event.session);
          else if (event.type === 'fault-injected') result.injected = (result.injected ?? 0) + 1;
          onEvent?.(event);
        }
        break;
      }
      case 'connection-closed':
        for (const event of tracker.connectionClosed(line.closed)) onEvent?.(event);
        break;
      case 'meta':
        if (line.format !== RECORDING_FORMAT) {
          result.warnings.push({ line: n, message: `meta line names format ${JSON.stringify(line.format)}, not ${RECORDING_FORMAT}; reading observations anyway` });
        } else if (line.version !== 1) {
          result.warnings.push({ line: n, message: `recording format version ${JSON.stringify(line.version)}; this analyzer reads version 1` });
        }
        break;
      case 'dropped':
        result.dropped += line.count;
        result.warnings.push({ line: n, message: `the recorder dropped ${line.count} observations here (disk too slow): results are incomplete` });
        break;
      case 'other':
        if (!otherTypes.has(line.type)) {
          otherTypes.add(line.type);
          result.warnings.push({ line: n, message: `skipping lines of type ${JSON.stringify(line.type.slice(0, 40))}` });
        }
        break;
      case 'blank':
        break;
    }
  }
  const live = new Map(tracker.sessions().map((s) => [s.id, s]));
  for (const [id, s] of evicted) if (!live.has(id)) live.set(id, s);
  result.sessions = [...live.values()].sort((a, b) => (order.get(a.id) ?? Infinity) - (order.get(b.id) ?? Infinity) || a.firstSeen - b.firstSeen);
  return result;
}

/** Decodes one NDJSON line of a recording; a reason when it is not usable. */
export function parseRecordingLine(text: string): Decoded<RecordingLine> {
  if (text.trim() === '') return { ok: true, value: { kind: 'blank' } };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON (${(err as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not a JSON object' };
  const o = value as Record<string, unknown>;
  const type = o.type;
  if (type === 'meta') return { ok: true, value: { kind: 'meta', format: o.format, version: o.version } };
  if (type === 'dropped') {
    const count = o.count;
    return typeof count === 'number' && Number.isSafeInteger(count) && count >= 0
      ? { ok: true, value: { kind: 'dropped', count } }
      : { ok: false, reason: 'dropped line without a valid count' };
  }
  if (type === 'connection-closed') {
    return isInt(o.connectionId) && isNum(o.at)
      ? { ok: true, value: { kind: 'connection-closed', closed: { connectionId: o.connectionId as number, at: o.at as number } } }
      : { ok: false, reason: 'connection-closed line without an integer connectionId and a numeric at' };
  }
  if (type !== undefined && type !== 'observation') {
    return typeof type === 'string' ? { ok: true, value: { kind: 'other', type } } : { ok: false, reason: 'type is not a string' };
  }
  const obs = toObservation(o);
  return obs.ok ? { ok: true, value: { kind: 'observation', observation: obs.value } } : obs;
}

/**
 * Checks the fields the tracker relies on and fills harmless defaults for the rest
 * (a recording from an older gateway may lack connectionId or responder).
 */
function toObservation(o: Record<string, unknown>): Decoded<Observation> {
  const need = (ok: boolean, what: string): string | undefined => (ok ? undefined : what);
  const problem =
    need(isInt(o.id), '"id" must be an integer') ??
    need(typeof o.method === 'string' && o.method !== '', '"method" must be a non-empty string') ??
    need(typeof o.url === 'string', '"url" must be a string') ??
    need(isHeaderList(o.requestHeaders), '"requestHeaders" must be an array of [name, value] string pairs') ??
    need(isNum(o.startedAt), '"startedAt" must be a number') ??
    need(o.endedAt === undefined || isNum(o.endedAt), '"endedAt" must be a number') ??
    need(o.status === undefined || (isInt(o.status) && (o.status as number) >= 100 && (o.status as number) <= 999), '"status" must be an HTTP status code') ??
    need(o.responseHeaders === undefined || isHeaderList(o.responseHeaders), '"responseHeaders" must be an array of [name, value] string pairs') ??
    need(o.requestBodyBytes === undefined || isCount(o.requestBodyBytes), '"requestBodyBytes" must be a byte count') ??
    need(o.responseBodyBytes === undefined || isCount(o.responseBodyBytes), '"responseBodyBytes" must be a byte count');
  if (problem) return { ok: false, reason: `not an observation: ${problem}` };
  const client = o.client as { address?: unknown; port?: unknown } | undefined;
  const obs: Observation = {
    id: o.id as number,
    connectionId: isInt(o.connectionId) ? (o.connectionId as number) : 0,
    client: {
      address: typeof client?.address === 'string' ? client.address : '',
      port: isInt(client?.port) ? (client!.port as number) : 0,
    },
    method: o.method as string,
    url: o.url as string,
    httpVersion: typeof o.httpVersion === 'string' ? o.httpVersion : '1.1',
    requestHeaders: o.requestHeaders as HeaderList,
    startedAt: o.startedAt as number,
    requestBodyBytes: (o.requestBodyBytes as number | undefined) ?? 0,
    responseBodyBytes: (o.responseBodyBytes as number | undefined) ?? 0,
    endedAt: (o.endedAt as number | undefined) ?? (o.startedAt as number),
  };
  if (o.status !== undefined) obs.status = o.status as number;
  if (o.responseHeaders !== undefined) obs.responseHeaders = o.responseHeaders as HeaderList;
  if (isNum(o.respondedAt)) obs.respondedAt = o.respondedAt as number;
  if (o.responder === 'upstream' || o.responder === 'gateway') obs.responder = o.responder;
  if (isInt(o.upstreamConnectionId)) obs.upstreamConnectionId = o.upstreamConnectionId as number;
  if (typeof o.error === 'string') obs.error = o.error;
  if (o.refused === true) obs.refused = true;
  if (typeof o.node === 'string') obs.node = o.node;
  const injected = parseInjectedMark(o.injected);
  if (injected !== undefined) obs.injected = injected;
  return { ok: true, value: obs };
}

function isNum(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v);
}
function isInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v);
}
function isCount(v: unknown): boolean {
  return isInt(v) && (v as number) >= 0;
}
function isHeaderList(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const f of v) {
    if (!Array.isArray(f) || f.length !== 2 || typeof f[0] !== 'string' || typeof f[1] !== 'string') return false;
  }
  return true;
}
