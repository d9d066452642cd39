import { isIPv4, isIPv6 } from 'node:net';

/**
 * Parsers for command-line option values shared by every subcommand. Each returns the
 * value or throws a UsageError whose message names the option and the accepted form.
 */

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** One DNS label (RFC 1123): letters, digits, inner hyphens, at most 63 characters. */
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** An IPv4 address in dotted-quad form, or a DNS host name (all-numeric names must be IPv4). */
function isHostName(host: string): boolean {
  if (/^[0-9.]+$/.test(host)) return isIPv4(host);
  return host.length <= 253 && host.split('.').every((label) => DNS_LABEL.test(label));
}

/**
 * `HOST:PORT`, `:PORT`, `PORT` or `[IPv6]:PORT`; port 0 asks the OS for a free one. Checked
 * here, not at listen time: `1.2.3` would otherwise reach getaddrinfo and end in a stack
 * trace. The message says which part is wrong.
 */
export function parseListen(option: string, value: string, defaultHost = '127.0.0.1'): ListenAddress {
  const v = value.trim();
  const fail = (what: string): never => {
    throw new UsageError(`${option}: ${what} in ${JSON.stringify(value)}; expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080`);
  };
  let host: string;
  let port: string;
  if (v.startsWith('[')) {
    const close = v.indexOf(']');
    if (close < 0) fail('no closing "]"');
    host = v.slice(1, close);
    if (!v.startsWith(':', close + 1)) fail('no port after the IPv6 address');
    port = v.slice(close + 2);
    if (!isIPv6(host)) fail(`${JSON.stringify(host)} is not an IPv6 address`);
  } else {
    const colon = v.lastIndexOf(':');
    if (colon < 0 && !/^\d+$/.test(v)) fail('no port');
    host = colon < 0 ? '' : v.slice(0, colon);
    port = v.slice(colon + 1);
    if (host.includes(':')) fail('an IPv6 address must be in brackets, e.g. [::1]:8080,');
    if (host !== '' && !isHostName(host)) fail(`${JSON.stringify(host)} is not an IPv4 address or a host name`);
  }
  if (port === '') fail('no port');
  if (!/^\d+$/.test(port)) fail(`port ${JSON.stringify(port)} is not a number`);
  const n = Number(port);
  if (n > 65535) fail(`port ${port} is out of range (0-65535)`);
  return { host: host || defaultHost, port: n };
}

/**
 * The one reader of URL options: an absolute URL with a host whose scheme is one of
 * `schemes`. The messages name what is accepted.
 */
function parseUrl(option: string, value: string, schemes: readonly string[]): URL {
  const withTls = schemes.includes('https:');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${option}: not a URL: ${JSON.stringify(value)} (expected http://HOST:PORT${withTls ? ' or https://HOST' : ''})`);
  }
  if (!schemes.includes(url.protocol)) {
    const supported = withTls ? 'http:// and https:// are' : 'http:// is';
    throw new UsageError(`${option}: only ${supported} supported, got ${JSON.stringify(url.protocol)}`);
  }
  if (!url.hostname) throw new UsageError(`${option}: URL has no host: ${JSON.stringify(value)}`);
  return url;
}

/** An absolute http:// URL with a host (our own gateway, dashboard or notification target). */
export function parseHttpUrl(option: string, value: string): URL {
  return parseUrl(option, value, ['http:']);
}

/** An upstream (a BITS server): http:// or https:// with a host and no credentials; the path is kept as a prefix. */
export function parseUpstreamUrl(option: string, value: string): URL {
  const url = parseUrl(option, value, ['http:', 'https:']);
  if (url.username || url.password) throw new UsageError(`${option}: no credentials in the URL, please`);
  return url;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
};

/** A byte count: `1048576`, `512k`, `4MiB`, `1g`. Binary units. */
export function parseBytes(option: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(value.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`${option}: expected a byte count such as 1048576, 512k or 4MiB, got ${JSON.stringify(value)}`);
  }
  return n;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in milliseconds: `30` (seconds), `500ms`, `30s`, `5m`, `2h`, `14d`. */
export function parseDuration(option: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|)$/.exec(value.trim());
  const n = m ? Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`${option}: expected a duration such as 30s, 500ms, 5m or 14d, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A duration above zero (a timeout of 0 would fire at once). */
export function parsePositiveDuration(option: string, value: string): number {
  const ms = parseDuration(option, value);
  if (ms === 0) throw new UsageError(`${option}: must be more than 0`);
  return ms;
}

/** A whole number within [min, max]. */
export function parseInteger(option: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${option}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}
