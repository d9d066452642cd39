/**
 * Where a request goes: one upstream, or a farm. `--route HOST=URL` sends requests by the
 * name they were addressed to (the names an IIS farm hands out in `BITS-Host-Id`), with
 * `--upstream` as the default; a name with no route and no default is 421 Misdirected
 * Request (RFC 9110 §15.5.20).
 *
 * The name is the request's authority (RFC 9110 §7.2): the absolute-form target's when the
 * client sent one (RFC 9112 §3.2.2: then Host is ignored), else the Host header.
 */
import net from 'node:net';
import tls from 'node:tls';

/** TLS towards https:// upstreams (shared by every route). */
export interface UpstreamTlsSettings {
  /** Extra trusted CA (PEM): added to Node's bundled roots, not instead of them. */
  ca?: Buffer;
  /** SNI and certificate name for the default upstream when its URL host is an IP address. */
  servername?: string;
  /** Accept any certificate (warned about at start). */
  insecure?: boolean;
  /** Client certificate presented to the upstream (some IIS sites require one). */
  cert?: Buffer;
  key?: Buffer;
}

export interface UpstreamTarget {
  /** As configured (logs, banner). */
  url: URL;
  /** What http-proxy and Node's client need. */
  target: { protocol: 'http:' | 'https:'; host: string; hostname: string; port: number };
  /** Path of the upstream URL, prepended to every request path (no trailing slash). */
  pathPrefix: string;
  /** Options for the pinned TLS socket; absent for http:// upstreams. */
  tls?: tls.ConnectionOptions;
}

/** `files.example.com:443.` -> `files.example.com`; `[::1]:80` -> `[::1]`. Lower case. */
export function hostName(authority: string): string {
  const lower = authority.trim().toLowerCase();
  const name = lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : lower.replace(/:\d*$/, '');
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export function upstreamTarget(url: URL, settings: UpstreamTlsSettings = {}, servername?: string, context?: tls.SecureContext): UpstreamTarget {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const https = url.protocol === 'https:';
  const target: UpstreamTarget = {
    url,
    target: { protocol: https ? 'https:' : 'http:', host: hostname, hostname, port: Number(url.port || (https ? 443 : 80)) },
    pathPrefix: url.pathname.replace(/\/+$/, ''),
  };
  if (https) {
    // The agent opens its own sockets, so Node's SNI-from-Host logic never runs: without an
    // explicit servername tls.connect sends no SNI (field notes §2). Never an IP as SNI.
    const name = servername ?? (net.isIP(hostname) ? undefined : hostname);
    target.tls = {
      secureContext: context ?? upstreamSecureContext(settings),
      ...(name !== undefined && { servername: name }),
      ALPNProtocols: ['http/1.1'],
      // tls.connect checks the certificate against servername when set, else the URL host.
      rejectUnauthorized: !settings.insecure,
    };
  }
  return target;
}

/** One context for every upstream connection: built once, not per connection. */
export function upstreamSecureContext(settings: UpstreamTlsSettings): tls.SecureContext {
  return tls.createSecureContext({
    minVersion: 'TLSv1.2',
    // `ca` replaces the trusted list: keep the bundled roots beside the private CA.
    ...(settings.ca && { ca: [...tls.rootCertificates, settings.ca.toString('utf8')] }),
    ...(settings.cert && { cert: settings.cert }),
    ...(settings.key && { key: settings.key }),
  });
}

export type RouteDecision =
  | { ok: true; upstream: UpstreamTarget; authority: string }
  | { ok: false; status: 400 | 421; error: 'bad-host' | 'no-route' };

export class RouteTable {
  private readonly byName = new Map<string, UpstreamTarget>();

  constructor(
    routes: Iterable<readonly [host: string, target: UpstreamTarget]>,
    private readonly fallback: UpstreamTarget | undefined,
  ) {
    for (const [host, target] of routes) this.byName.set(hostName(host), target);
  }

  /** Every upstream, default first (for the banner). */
  get upstreams(): UpstreamTarget[] {
    return [...(this.fallback ? [this.fallback] : []), ...this.byName.values()];
  }

  get defaultUpstream(): UpstreamTarget | undefined {
    return this.fallback;
  }

  /** `authority`: the absolute-form target's authority, else the Host header value (undefined: none sent). */
  resolve(authority: string | undefined): RouteDecision {
    const trimmed = authority?.trim();
    if (trimmed === '') return { ok: false, status: 400, error: 'bad-host' };
    if (trimmed === undefined) {
      // HTTP/1.0 without Host: only the default can serve it.
      return this.fallback ? { ok: true, upstream: this.fallback, authority: '' } : { ok: false, status: 421, error: 'no-route' };
    }
    const upstream = this.byName.size > 0 ? this.byName.get(hostName(trimmed)) ?? this.fallback : this.fallback;
    return upstream ? { ok: true, upstream, authority: trimmed } : { ok: false, status: 421, error: 'no-route' };
  }
}

const ABSOLUTE_AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^/?#@]*@)?([^/?#]*)/;

/** The authority of an absolute-form target (`http://h:1/x` -> `h:1`), else undefined. */
export function absoluteFormAuthority(target: string): string | undefined {
  if (target.charCodeAt(0) === 0x2f || target === '*') return undefined;
  return ABSOLUTE_AUTHORITY.exec(target)?.[1];
}
