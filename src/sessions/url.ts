/**
 * URL comparisons the tracker needs, on request targets and Host headers that come from
 * traffic: never throws, never resolves anything.
 */

/** Path and query of an origin-form (`/a?b`) or absolute-form (`http://h/a?b`) target, fragment dropped. */
export function pathAndQuery(target: string): string {
  let t = target;
  const hash = t.indexOf('#');
  if (hash >= 0) t = t.slice(0, hash);
  if (t.charCodeAt(0) === 47 /* / */) return t;
  const scheme = t.indexOf('://');
  if (scheme < 0) return t;
  const slash = t.indexOf('/', scheme + 3);
  if (slash >= 0) return t.slice(slash);
  const q = t.indexOf('?', scheme + 3);
  return q >= 0 ? '/' + t.slice(q) : '/';
}

/** Path alone (no query): what identifies the upload destination. */
export function pathOf(target: string): string {
  const pq = pathAndQuery(target);
  const q = pq.indexOf('?');
  return q >= 0 ? pq.slice(0, q) : pq;
}

/** `host[:port]` of an absolute URL, lower case, default port dropped; undefined for a path. */
export function hostOfUrl(target: string): string | undefined {
  if (target.charCodeAt(0) === 47) return undefined;
  try {
    return new URL(target).host.toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}

/** Normalises a Host header (or a BITS-Host-Id) the way hostOfUrl does. */
export function normaliseHost(host: string): string | undefined {
  const h = host.trim();
  if (!h) return undefined;
  try {
    return new URL(h.includes('://') ? h : 'http://' + h).host.toLowerCase() || undefined;
  } catch {
    return h.toLowerCase();
  }
}

/** Host name without port: BITS-Host-Id names a machine, the Host header may add a port. */
export function hostnameOnly(host: string): string {
  const h = host.trim().toLowerCase();
  const scheme = h.indexOf('://');
  const rest = scheme >= 0 ? h.slice(scheme + 3) : h;
  const end = rest.search(/[/?#]/);
  const authority = end >= 0 ? rest.slice(0, end) : rest;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    return close >= 0 ? authority.slice(0, close + 1) : authority;
  }
  const colon = authority.lastIndexOf(':');
  return colon >= 0 ? authority.slice(0, colon) : authority;
}
