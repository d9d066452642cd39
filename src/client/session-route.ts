/**
 * Where a session's packets go (bits-protocol.md §3, §7). A web farm names the node that
 * holds the session in the Create-Session Ack's `BITS-Host-Id`; every later packet of the
 * session goes to the same path on that host. The client returns to the URL's own host
 * only after `BITS-Host-Id-Fallback-Timeout` seconds of failing to connect: the timer
 * starts on a failed connect and resets on a successful one; without the header it never
 * falls back [W]. Time is passed in.
 */

interface HostIdState {
  name: string;
  /** Absent: never fall back. */
  fallbackMs?: number;
  /** First failed connect of the current streak. */
  failingSince?: number;
}

export class SessionRoute {
  private target: URL;
  private hostId: HostIdState | undefined;

  constructor(private readonly url: URL) {
    this.target = url;
  }

  /** The URL session packets go to now. */
  get current(): URL {
    return this.target;
  }

  /** A new session (or a restart): packets go to the URL again until an Ack names a host. */
  reset(): void {
    this.target = this.url;
    this.hostId = undefined;
  }

  /** The Create-Session Ack named a host: follow it. Returns the log line saying so. */
  follow(hostId: string, fallbackSec: number | undefined): string {
    const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/.exec(hostId);
    if (!m || (m[2] !== undefined && Number(m[2]) > 65535)) {
      // Not a host name: sending packets somewhere odd would be worse than ignoring it.
      return `BITS-Host-Id ${JSON.stringify(hostId.slice(0, 100))} is not a host name: ignored, packets stay on ${this.url.host}`;
    }
    const next = new URL(this.url.href);
    next.hostname = m[1]!;
    next.port = m[2] ?? '';
    this.target = next;
    this.hostId = { name: next.host, fallbackMs: fallbackSec === undefined ? undefined : fallbackSec * 1000 };
    const fallback = fallbackSec === undefined
      ? 'never falls back (no BITS-Host-Id-Fallback-Timeout)'
      : `falls back to ${this.url.host} after ${fallbackSec} s of failed connects`;
    return `BITS-Host-Id: sending this session's packets to ${next.host}; ${fallback}`;
  }

  /** A connection to the current target reached the server. */
  connected(): void {
    if (this.hostId) this.hostId.failingSince = undefined;
  }

  /**
   * A connect to the current target failed at `now`. Returns the log line when the
   * fallback timeout has run out and packets go back to the URL's host.
   */
  connectFailed(now: number): string | undefined {
    const h = this.hostId;
    if (!h) return undefined;
    h.failingSince ??= now;
    if (h.fallbackMs === undefined || now - h.failingSince < h.fallbackMs) return undefined;
    const waited = now - h.failingSince;
    this.hostId = undefined;
    this.target = this.url;
    return `BITS-Host-Id ${h.name} unreachable for ${(waited / 1000).toFixed(1)} s ` +
      `(BITS-Host-Id-Fallback-Timeout ${h.fallbackMs / 1000} s): falling back to ${this.url.host}`;
  }
}
