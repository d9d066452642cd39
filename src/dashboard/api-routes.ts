/**
 * The read-only JSON API. Pure functions of the snapshot source: path in, status and
 * body out; the server adds headers and writes.
 */
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
    const raw = path.slice('/api/sessions/'.length);
    if (raw.length === 0 || raw.length > MAX_ID_LENGTH * 3) return { status: 404, body: { error: 'unknown session' } };
    let id: string;
    try {
      id = decodeURIComponent(raw);
    } catch {
      return { status: 400, body: { error: 'malformed session id' } };
    }
    const detail = ctx.source.session(id);
    return detail ? { status: 200, body: detail } : { status: 404, body: { error: 'unknown session' } };
  }
  if (path.startsWith('/api/')) return { status: 404, body: { error: 'no such endpoint' } };
  return undefined;
}
