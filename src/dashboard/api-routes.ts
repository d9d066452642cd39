/**
 * The read-only JSON API. Pure functions of the snapshot source: path in, status and
 * body out; the server adds headers and writes.
 */
import { emptyHar, harEntry, HEADERS_DROPPED_COMMENT, observationOfPacket } from '../har/index.js';
import type { SessionDetail } from '../sessions/events.js';
import { VERSION } from '../version.js';
import type { SnapshotSource } from './snapshot-source.js';

export interface ApiResult {
  status: number;
  body: unknown;
}

export interface ApiContext {
  source: SnapshotSource;
  /** Extra fields for /api/stats (dashboard counters). */
  extraStats?: () => Record<string, unknown>;
}

/** Session ids are at most 100 characters on the wire; anything longer cannot exist. */
const MAX_ID_LENGTH = 1024;

export function routeApi(path: string, ctx: ApiContext): ApiResult | undefined {
  if (path === '/api/sessions') return { status: 200, body: ctx.source.sessions() };
  if (path === '/api/violations') return { status: 200, body: ctx.source.recentViolations() };
  if (path === '/api/stats') return { status: 200, body: { ...ctx.source.stats(), ...ctx.extraStats?.() } };
  if (path.startsWith('/api/sessions/')) {
    let raw = path.slice('/api/sessions/'.length);
    // A session id's own slashes arrive encoded (%2F): a literal `/har` suffix is the HAR route.
    const asHar = raw.endsWith('/har');
    if (asHar) raw = raw.slice(0, -'/har'.length);
    if (raw.length === 0 || raw.length > MAX_ID_LENGTH * 3) return { status: 404, body: { error: 'unknown session' } };
    let id: string;
    try {
      id = decodeURIComponent(raw);
    } catch {
      return { status: 400, body: { error: 'malformed session id' } };
    }
    const detail = ctx.source.session(id);
    if (!detail) return { status: 404, body: { error: 'unknown session' } };
    return { status: 200, body: asHar ? sessionHar(detail) : detail };
  }
  if (path.startsWith('/api/')) return { status: 404, body: { error: 'no such endpoint' } };
  return undefined;
}

/** One HAR 1.2 log of the session's timeline (bounded like the timeline; bodies never included). */
function sessionHar(detail: SessionDetail): unknown {
  const har = emptyHar({ version: VERSION, comment: `Session ${detail.id} as tracked by the bitsgate gateway` });
  for (const p of detail.timeline) {
    har.log.entries.push(harEntry(observationOfPacket(p, detail.client), p.headersDropped ? HEADERS_DROPPED_COMMENT : undefined));
  }
  return har;
}
