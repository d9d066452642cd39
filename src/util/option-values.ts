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

/** `HOST:PORT`, `:PORT`, `PORT` or `[::1]:PORT`. Port 0 asks the OS for a free one. */
export function parseListen(option: string, value: string, defaultHost = '127.0.0.1'): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*))?:?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`${option}: expected HOST:PORT (e.g. 127.0.0.1:8080), got ${JSON.stringify(value)}`);
  }
  const host = m[1] ?? (m[2] || defaultHost);
  return { host, port };
}

/** An absolute http:// URL with a host; returns the parsed URL. */
export function parseHttpUrl(option: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${option}: not a URL: ${JSON.stringify(value)} (expected http://HOST:PORT)`);
  }
  if (url.protocol !== 'http:') {
    throw new UsageError(`${option}: only http:// is supported, got ${JSON.stringify(url.protocol)}`);
  }
  if (!url.hostname) throw new UsageError(`${option}: URL has no host: ${JSON.stringify(value)}`);
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

/** A whole number within [min, max]. */
export function parseInteger(option: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${option}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}
