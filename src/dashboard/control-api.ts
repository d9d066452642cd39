/**
 * `--control`: the one part of the dashboard that can change traffic (fault-injection rules
 * in the gateway). Absent without `--control`: the server then routes none of this, and
 * `/api/injections` is a 404 like any unknown endpoint.
 *
 * Writes (POST, DELETE) are guarded on their own, whatever the dashboard's read access is:
 *  - Origin: a write carrying an Origin that is not this dashboard's own is refused (403),
 *    and so is `Sec-Fetch-Site: cross-site`. A page elsewhere cannot drive the gateway.
 *  - Token: `Authorization: Bearer <control token>` always, even on loopback (mitmweb's
 *    CVE-2025-23217 was reached through its own proxy port). Never the dashboard's cookie or
 *    `?token=`: a cookie rides along on requests the user did not mean to send. Compared in
 *    constant time (AccessPolicy.tokenMatches hashes both sides first). A missing and a wrong
 *    token get the very same 401.
 *  - Body: POST needs `Content-Type: application/json` (415 otherwise), which an HTML form
 *    cannot send, and a browser cannot send cross-origin without a preflight we never grant.
 */
import type { IncomingMessage } from 'node:http';
import type { AccessPolicy } from './access-control.js';
import type { InjectionView, RuleErrorBody } from './messages.js';

/** What the dashboard needs of the gateway's injection registry (adapted in injection-control.ts). */
export interface LiveControl {
  list(): InjectionView[];
  /** Parses and adds a rule; a rule that does not parse gives the parser's message and 0-based position. */
  add(ruleText: string): { entry: InjectionView } | { error: string; position: number } | { refused: string };
  remove(id: string): boolean;
  /** Called after every add, remove or fire. Returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

export interface ControlOptions {
  control: LiveControl;
  /** The control token (Bearer only). */
  token: string;
}

export interface ControlResult {
  status: number;
  /** undefined: no body (204). */
  body?: unknown;
  headers?: Record<string, string>;
}

export const INJECTIONS_PATH = '/api/injections';
/** A rule is one short line; anything bigger is not our UI. */
export const MAX_RULE_BODY_BYTES = 4096;

const UNAUTHORIZED: ControlResult = {
  status: 401,
  body: { error: 'Unauthorized: live control needs Authorization: Bearer <control token> (printed at start, or --control-token-file)' },
  headers: { 'WWW-Authenticate': 'Bearer realm="bitsgate-control"' },
};

export function isControlPath(path: string): boolean {
  return path === INJECTIONS_PATH || path.startsWith(INJECTIONS_PATH + '/');
}

/** Bearer token of the Authorization header only (never a cookie, never the query). */
function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  return m ? m[1] : undefined;
}

/** `application/json`, optionally with parameters (`; charset=utf-8`). */
function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/json[ \t]*(?:;|$)/i.test(contentType);
}

/**
 * Checks a write before its body is read: Origin, then token, then media type.
 * undefined: go ahead.
 */
export function refuseWrite(req: IncomingMessage, policy: AccessPolicy, tokenMatches: (candidate: string | undefined) => boolean): ControlResult | undefined {
  if (req.headers['sec-fetch-site'] === 'cross-site') return { status: 403, body: { error: 'Forbidden: cross-site request' } };
  if (!policy.checkOrigin(req.headers.origin, req.headers.host)) return { status: 403, body: { error: 'Forbidden: the Origin is not this dashboard' } };
  if (!tokenMatches(bearerToken(req))) return UNAUTHORIZED;
  if (req.method === 'POST' && !isJson(req.headers['content-type'])) {
    return { status: 415, body: { error: 'Unsupported Media Type: send the rule as Content-Type: application/json, {"rule": "..."}' } };
  }
  return undefined;
}

/** GET /api/injections (read access is the dashboard's own). */
export function listInjections(opts: ControlOptions): ControlResult {
  return { status: 200, body: opts.control.list() };
}

/** POST /api/injections with its body, or DELETE /api/injections/:id (after refuseWrite). */
export function applyWrite(method: string, path: string, body: Buffer | undefined, opts: ControlOptions): ControlResult {
  if (path === INJECTIONS_PATH && method === 'POST') return addRule(body ?? Buffer.alloc(0), opts);
  if (path !== INJECTIONS_PATH && method === 'DELETE') {
    let id: string;
    try {
      id = decodeURIComponent(path.slice(INJECTIONS_PATH.length + 1));
    } catch {
      return { status: 404, body: { error: 'unknown injection' } };
    }
    return opts.control.remove(id) ? { status: 204 } : { status: 404, body: { error: 'unknown injection' } };
  }
  return { status: 405, body: { error: 'Method Not Allowed' }, headers: { Allow: path === INJECTIONS_PATH ? 'GET, HEAD, POST' : 'DELETE' } };
}

function addRule(body: Buffer, opts: ControlOptions): ControlResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { status: 400, body: { error: 'malformed JSON: expected {"rule": "..."}' } };
  }
  const rule = (parsed as { rule?: unknown } | null)?.rule;
  if (typeof rule !== 'string' || rule.length === 0) return { status: 400, body: { error: 'expected {"rule": "..."} with a non-empty string' } };
  const result = opts.control.add(rule);
  if ('refused' in result) return { status: 409, body: { error: result.refused } };
  if ('error' in result) {
    const err: RuleErrorBody = { error: result.error, rule, column: result.position };
    return { status: 400, body: err };
  }
  return { status: 201, body: result.entry, headers: { Location: `${INJECTIONS_PATH}/${encodeURIComponent(result.entry.id)}` } };
}
