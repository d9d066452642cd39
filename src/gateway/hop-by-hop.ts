import type { HeaderList } from '../observation.js';

/**
 * Which header fields cross the gateway. Pure functions on wire-order header lists, so the
 * rules are testable without sockets.
 *
 * Hop-by-hop fields (RFC 9110 §7.6.1) describe one TCP hop and are dropped in both
 * directions, except the client's persistence intent: its `Connection: close` or
 * `keep-alive` goes upstream, because the upstream connection is pinned to the client's
 * and ends with it. The gateway re-frames bodies itself, so Content-Length / Transfer-Encoding
 * from the peer never pass through verbatim (request smuggling, RFC 9112 §6.3).
 * Authorization / WWW-Authenticate are end-to-end and MUST pass: NTLM/Negotiate to the
 * origin depend on them. Proxy-Authorization / Proxy-Authenticate are meant for a proxy
 * the client chose, not for the origin behind a reverse proxy, so they stop here.
 */

const ALWAYS_DROPPED = new Set([
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

/** Shared result when no `Connection` field names anything (nearly every request): no Set per call. */
const NONE: ReadonlySet<string> = new Set();

/** Field names listed in `Connection` headers (lower-cased): they are hop-by-hop too. */
export function connectionNominated(headers: HeaderList): ReadonlySet<string> {
  let out: Set<string> | undefined;
  for (const [name, value] of headers) {
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    out ??= new Set<string>();
    for (const token of value.split(',')) {
      const t = token.trim().toLowerCase();
      if (t) out.add(t);
    }
  }
  return out ?? NONE;
}

export interface ForwardedValues {
  /** Client IP address. */
  for: string;
  proto: 'http' | 'https';
  /** The client's Host header, when it sent one. */
  host?: string;
}

export interface RequestFraming {
  /** Decoded body length when the client sent Content-Length; null otherwise. */
  contentLength: number | null;
  /** The client sent a chunked body: forward it chunked. */
  chunked: boolean;
}

/**
 * The header list sent upstream, grouped for Node's `setHeader` (one entry per name,
 * duplicates as an array at the first occurrence's position, so Node still writes them as
 * separate lines): end-to-end fields in the client's order and spelling, exactly one
 * framing field where the client had its framing field, and (when `forwarded` is given)
 * X-Forwarded-* appended, replacing any the client sent: a client-supplied X-Forwarded-For
 * would otherwise spoof the address the origin logs. One pass, one lower-casing per field.
 */
export function upstreamRequestGroups(
  headers: HeaderList,
  framing: RequestFraming,
  forwarded: ForwardedValues | null,
): Array<[string, string | string[]]> {
  // Each field sent upstream goes to `out` with its lower-cased name (computed once here).
  const out = new SetHeaderGrouper(headers.length);
  const nominated = connectionNominated(headers);
  let framed = false;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'transfer-encoding') {
      if (framed) continue;
      if (framing.contentLength !== null) {
        out.add('Content-Length', String(framing.contentLength), 'content-length');
        framed = true;
      } else if (framing.chunked) {
        out.add('Transfer-Encoding', 'chunked', 'transfer-encoding');
        framed = true;
      }
      continue;
    }
    if (lower === 'connection') {
      const intent = persistenceIntent(value);
      if (intent !== undefined) out.add(name, intent, lower);
      continue;
    }
    if (ALWAYS_DROPPED.has(lower) || nominated.has(lower)) continue;
    if (forwarded && FORWARDED.has(lower)) continue;
    out.add(name, value, lower);
  }
  if (!framed && framing.contentLength !== null) out.add('Content-Length', String(framing.contentLength), 'content-length');
  else if (!framed && framing.chunked) out.add('Transfer-Encoding', 'chunked', 'transfer-encoding');
  if (forwarded) {
    out.add('X-Forwarded-For', forwarded.for, 'x-forwarded-for');
    out.add('X-Forwarded-Proto', forwarded.proto, 'x-forwarded-proto');
    if (forwarded.host !== undefined) out.add('X-Forwarded-Host', forwarded.host, 'x-forwarded-host');
  }
  return out.out;
}

/**
 * What of a client's `Connection` value goes upstream: only its `close` / `keep-alive`
 * tokens, as spelled. Some BITS servers close after any request that carries a Connection
 * field at all, so the gateway sends one only where the client did (HTTP/1.1 persists by
 * default), never Node's own `keep-alive`; other tokens name hop-by-hop fields, dropped.
 */
function persistenceIntent(value: string): string | undefined {
  let kept: string | undefined;
  for (const token of value.split(',')) {
    const t = token.trim();
    const lower = t.toLowerCase();
    if (lower !== 'close' && lower !== 'keep-alive') continue;
    kept = kept === undefined ? t : `${kept}, ${t}`;
  }
  return kept;
}

/**
 * The header list relayed to the client from the upstream's raw (flat) header array:
 * order, spelling and duplicates kept (two `WWW-Authenticate` lines stay two lines: NTLM
 * clients need them separate), hop-by-hop fields dropped. Content-Length is kept so the
 * listener's writer can frame with it; Transfer-Encoding is dropped and re-applied by it.
 */
export function clientResponseHeaders(rawHeaders: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i]!, rawHeaders[i + 1]!]);
  const nominated = connectionNominated(pairs);
  const out: Array<[string, string]> = [];
  for (const pair of pairs) {
    const lower = pair[0].toLowerCase();
    if (lower === 'connection' || ALWAYS_DROPPED.has(lower) || (nominated.has(lower) && lower !== 'content-length')) continue;
    out.push(pair);
  }
  return out;
}

const SMALL_LIST = 24;

/** Groups fields for Node's `setHeader`: see upstreamRequestGroups. */
class SetHeaderGrouper {
  readonly out: Array<[string, string | string[]]> = [];
  // A typical BITS request has under a dozen fields: a linear scan beats building a Map on
  // every request; long lists (up to a 64 KiB head) keep the Map to stay linear.
  private readonly lowers: string[] | undefined;
  private readonly index: Map<string, number> | undefined;

  constructor(size: number) {
    if (size <= SMALL_LIST) this.lowers = [];
    else this.index = new Map();
  }

  add(name: string, value: string, lower: string): void {
    const at = this.lowers !== undefined ? this.lowers.indexOf(lower) : this.index!.get(lower) ?? -1;
    if (at < 0) {
      if (this.lowers !== undefined) this.lowers.push(lower);
      else this.index!.set(lower, this.out.length);
      this.out.push([name, value]);
      return;
    }
    const entry = this.out[at]!;
    entry[1] = Array.isArray(entry[1]) ? [...entry[1], value] : [entry[1], value];
  }
}

/** `::ffff:127.0.0.1` → `127.0.0.1`: what an origin expects in X-Forwarded-For. */
export function plainAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
