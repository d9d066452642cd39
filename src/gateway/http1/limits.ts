/**
 * Limits of the HTTP/1.1 listener, with their defaults and the precedent for each.
 * Every limit is enforced at the edge with a stable reason code (see RejectInfo).
 */

export interface Http1Limits {
  /** Node's headersTimeout default is 60 s; nginx client_header_timeout 60 s. 30 s is enough for BITS clients. */
  headersTimeoutMs: number;
  /** IIS MaxRequestBytes is 16 KiB per request, nginx large_client_header_buffers 4x8 KiB; 64 KiB leaves room for NTLM blobs. */
  maxHeadBytes: number;
  /** IIS connectionTimeout is 120 s. */
  keepAliveTimeoutMs: number;
  /**
   * A request body that stops arriving for this long (while we are reading it, not while the
   * handler applies backpressure) -> 408 (or close) and the body stream errors. IIS applies its
   * 120 s connectionTimeout to idle entity reads too.
   */
  bodyTimeoutMs: number;
  /** llhttp answers a 20 KB extension with 413; nothing legitimate sends more than a few bytes. */
  maxChunkExtensionBytes: number;
  /** Trailer section cap (same budget as a head). */
  maxTrailerBytes: number;
  /**
   * After a keep-alive response that ended before its request body was read, up to this many
   * body bytes are read and discarded to keep the connection; more -> close instead.
   */
  maxDrainBytes: number;
  /** How long a closing connection keeps reading (and discarding) so the client sees our response, not a RST. */
  lingerMs: number;
}

export const DEFAULT_LIMITS: Readonly<Http1Limits> = Object.freeze({
  headersTimeoutMs: 30_000,
  maxHeadBytes: 65_536,
  keepAliveTimeoutMs: 120_000,
  bodyTimeoutMs: 120_000,
  maxChunkExtensionBytes: 1024,
  maxTrailerBytes: 65_536,
  maxDrainBytes: 1_048_576,
  lingerMs: 2_000,
});

export function resolveLimits(options: Partial<Http1Limits> = {}): Http1Limits {
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Http1Limits)[]) {
    const v = options[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`http1 limit ${key} must be a non-negative integer, got ${String(v)}`);
    limits[key] = v;
  }
  return limits;
}
