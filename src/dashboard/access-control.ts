/**
 * Who may talk to the dashboard. Three independent checks, after mitmweb's CVE-2025-23217
 * and the usual DNS-rebinding and cross-site WebSocket hijacking attacks:
 *  - Host allow-list: a rebinding page reaches us with its own name in Host; refuse it.
 *  - Token: required when configured (always when bound beyond loopback). It arrives once as
 *    `?token=`, becomes an HttpOnly SameSite=Strict cookie, or comes as `Authorization: Bearer`.
 *    Compared in constant time (both sides hashed first, so lengths never leak either).
 *  - Origin (WebSocket only): browsers send cookies on cross-site WebSocket handshakes, so a
 *    handshake whose Origin is not this very origin (scheme, host and port: `https://` on the
 *    same host:port is another origin) is refused. Browsers always send
 *    Origin on a WebSocket handshake; a request without one is not a browser and cannot
 *    carry a victim's cookie, so it is judged by the token alone.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'bitsgate_dashboard';

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

export function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || h === '::' || h === '';
}

/** A fresh random token (192 bits, URL-safe). */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** A constant-time check against one secret (the control token): hashed first, so lengths never leak. */
export function tokenChecker(token: string): (candidate: string | undefined) => boolean {
  const expected = digest(token);
  return (candidate) => candidate !== undefined && timingSafeEqual(digest(candidate), expected);
}

/** Host names as they appear in a Host header: IPv6 in brackets, lower case. */
function hostName(h: string): string {
  const bare = h.replace(/^\[|\]$/g, '').toLowerCase();
  return bare.includes(':') ? `[${bare}]` : bare;
}

/** The scheme pages of the dashboard are served with: `https` only when its listener is TLS. */
export type DashboardScheme = 'http' | 'https';

const DEFAULT_PORT: Readonly<Record<DashboardScheme, number>> = { http: 80, https: 443 };

export interface AccessPolicyOptions {
  listenHost: string;
  port: number;
  /** Scheme of the dashboard's own pages, the only one accepted in a WebSocket Origin (default http). */
  scheme?: DashboardScheme;
  token?: string;
  /** Extra names (or name:port) accepted in Host, e.g. a DNS name of this machine. */
  allowedHosts?: readonly string[];
}

export type AuthResult = 'ok' | 'missing' | 'invalid';

export class AccessPolicy {
  private readonly hosts = new Set<string>();
  private readonly tokenDigest: Buffer | undefined;
  readonly token: string | undefined;
  readonly scheme: DashboardScheme;

  constructor(private readonly opts: AccessPolicyOptions) {
    this.token = opts.token;
    this.scheme = opts.scheme ?? 'http';
    this.tokenDigest = opts.token === undefined ? undefined : digest(opts.token);
    const names = new Set<string>([hostName(opts.listenHost)]);
    if (isLoopbackHost(opts.listenHost) || isWildcardHost(opts.listenHost)) {
      for (const n of ['localhost', '127.0.0.1', '[::1]']) names.add(n);
    }
    if (isWildcardHost(opts.listenHost)) {
      names.add(hostname().toLowerCase());
      for (const list of Object.values(networkInterfaces())) {
        for (const a of list ?? []) names.add(hostName(a.address.split('%')[0]!));
      }
    }
    for (const n of names) this.addHost(n);
    for (const extra of opts.allowedHosts ?? []) {
      if (/:\d+$/.test(extra) && !/^\[?[0-9a-f:]+\]?$/i.test(extra)) this.hosts.add(extra.toLowerCase());
      else this.addHost(hostName(extra));
    }
  }

  private addHost(name: string): void {
    this.hosts.add(`${name}:${this.opts.port}`);
    if (this.opts.port === DEFAULT_PORT[this.scheme]) this.hosts.add(name);
  }

  get requiresToken(): boolean {
    return this.tokenDigest !== undefined;
  }

  checkHost(host: string | undefined): boolean {
    return host !== undefined && this.hosts.has(host.toLowerCase());
  }

  /** The WebSocket Origin must name exactly the scheme and host:port the page was loaded from. */
  checkOrigin(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    if (host === undefined) return false;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    if (url.protocol !== `${this.scheme}:`) return false;
    // An Origin never names its scheme's default port; a Host header may: compare both with ports.
    const authority = `${url.hostname}:${url.port || DEFAULT_PORT[this.scheme]}`;
    return authority === this.withPort(host) && this.checkHost(authority);
  }

  private withPort(host: string): string {
    const h = host.toLowerCase();
    return /:\d+$/.test(h) ? h : `${h}:${DEFAULT_PORT[this.scheme]}`;
  }

  tokenMatches(candidate: string | undefined): boolean {
    if (this.tokenDigest === undefined || candidate === undefined) return false;
    return timingSafeEqual(digest(candidate), this.tokenDigest);
  }

  /** Token from the query (`?token=`), the Bearer header or the cookie, in that order. */
  authenticate(req: IncomingMessage, queryToken: string | null): AuthResult {
    if (!this.requiresToken) return 'ok';
    const candidates: string[] = [];
    if (queryToken !== null) candidates.push(queryToken);
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (m) candidates.push(m[1]!);
    }
    const cookie = readCookie(req.headers.cookie, TOKEN_COOKIE);
    if (cookie !== undefined) candidates.push(cookie);
    if (candidates.length === 0) return 'missing';
    return candidates.some((c) => this.tokenMatches(c)) ? 'ok' : 'invalid';
  }

  /** Set-Cookie value that lets the browser authenticate later requests (and the WebSocket). */
  cookie(): string {
    return `${TOKEN_COOKIE}=${encodeURIComponent(this.token ?? '')}; Path=/; HttpOnly; SameSite=Strict`;
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}
