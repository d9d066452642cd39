/**
 * The dashboard's own HTTP listener: static UI, read-only JSON API, /metrics and the
 * /events WebSocket. GET and HEAD only: nothing here can change traffic, unless the
 * gateway runs with `--control` (control-api.ts: the injection rules, behind their own
 * Bearer token, Origin and media-type checks).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { EventBus } from '../event-bus.js';
import { BitsgateMetrics } from '../sinks/metrics.js';
import { AccessPolicy, generateToken, isLoopbackHost, tokenChecker } from './access-control.js';
import {
  applyWrite, type ControlOptions, type ControlResult, INJECTIONS_PATH, isControlPath, listInjections, MAX_RULE_BODY_BYTES, refuseWrite,
} from './control-api.js';
import { routeApi } from './api-routes.js';
import { DashboardHub, type HubOptions } from './hub.js';
import { setSecurityHeaders } from './security-headers.js';
import type { SnapshotSource } from './snapshot-source.js';
import { defaultWebRoot, loadStaticFiles, NOT_BUILT_PAGE } from './static-files.js';
import { WebSocketEndpoint } from './websocket-endpoint.js';

export interface DashboardOptions {
  listen: { host: string; port: number };
  source: SnapshotSource;
  bus: EventBus;
  /** Required token. Generated when absent and the listener is not loopback. */
  token?: string;
  /** Extra Host names accepted (DNS names of this machine). */
  allowedHosts?: readonly string[];
  /** Metrics to serve on /metrics; by default a private registry fed by `bus`. */
  metrics?: BitsgateMetrics;
  /** Directory of the built UI (default: web/dist of this package). */
  webRoot?: string;
  hub?: HubOptions;
  /** Concurrent WebSocket clients accepted (default 100); more get 503. */
  maxClients?: number;
  /** Serve HTTPS with this certificate and key (TLS 1.2+). */
  tls?: SecureContextOptions;
  /** More fields for /api/stats (e.g. `fleet`: Redis link, backlog, loss). */
  extraStats?: () => Record<string, unknown>;
  /** `--control`: serve /api/injections (writes need this Bearer token). Absent: no route can change traffic. */
  control?: ControlOptions;
}

export interface DashboardHandle {
  /** Base URL (with `?token=` when a token is required: the link to print). */
  url: string;
  /** The token in force, when one is required (generated ones must be printed). */
  token?: string;
  /** Whether the token was generated (the caller should print the URL). */
  tokenGenerated: boolean;
  hub: DashboardHub;
  port: number;
  /** Terminates every WebSocket client (they reconnect with ?since): tests and operators. */
  dropClients(): void;
  /**
   * Installs a renewed certificate (HTTPS dashboards only): new handshakes use it, open
   * connections keep theirs. Throws when the dashboard is plain HTTP.
   */
  setTls(tls: SecureContextOptions): void;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(head ? undefined : text);
}

function sendResult(res: ServerResponse, r: ControlResult, head: boolean): void {
  for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
  if (r.body === undefined) {
    res.writeHead(r.status, { 'Cache-Control': 'no-store' });
    return void res.end();
  }
  sendJson(res, r.status, r.body, head);
}

/** The whole request body, or undefined past `limit` bytes (then stops reading). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return resolve(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('close', () => resolve(undefined)); // aborted before the end (after it: a no-op)
    req.on('error', reject);
  });
}

function sendText(res: ServerResponse, status: number, text: string, head: boolean): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(head ? undefined : text);
}

/**
 * Loopback listeners may run without a token; any other bind requires one, generated when
 * none was given (the caller prints the URL that carries it).
 */
export function resolveToken(host: string, token: string | undefined): { token?: string; generated: boolean } {
  if (token !== undefined) {
    if (token.length < 8) throw new RangeError('dashboard token: use at least 8 characters');
    return { token, generated: false };
  }
  return isLoopbackHost(host) ? { generated: false } : { token: generateToken(), generated: true };
}

export async function startDashboard(opts: DashboardOptions): Promise<DashboardHandle> {
  const { token, generated: tokenGenerated } = resolveToken(opts.listen.host, opts.token);
  const hub = new DashboardHub(opts.source, opts.bus, opts.hub);
  let ownMetrics: (() => void) | undefined;
  const metrics = opts.metrics ?? new BitsgateMetrics({ stats: () => opts.source.stats() });
  if (!opts.metrics) ownMetrics = metrics.attach(opts.bus);
  metrics.setDashboardClients(() => hub.clientCount);
  const files = loadStaticFiles(opts.webRoot ?? defaultWebRoot());
  const control = opts.control;
  if (control && control.token.length < 16) throw new RangeError('control token: use at least 16 characters');
  const controlTokenMatches = control ? tokenChecker(control.token) : undefined;
  if (control) hub.attachControl(control.control);

  let policy: AccessPolicy | undefined;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendText(res, 500, 'internal error\n', false);
      else res.destroy();
    });
  };
  const serverOptions = { requestTimeout: 30_000, headersTimeout: 10_000 };
  // setSecureContext() rebuilds the whole context, so the fixed options go in every time.
  const tlsFixed = { minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] } as const;
  const httpsServer = opts.tls ? createHttpsServer({ ...serverOptions, ...opts.tls, ...tlsFixed }, onRequest) : undefined;
  const server = httpsServer ?? createServer(serverOptions, onRequest);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setSecurityHeaders(res);
    const p = policy!;
    if (!p.checkHost(req.headers.host)) return sendText(res, 403, 'Forbidden host\n', false);
    const head = req.method === 'HEAD';
    const path = new URL(req.url ?? '/', 'http://dashboard.invalid').pathname;
    if (isControlPath(path)) {
      // Without --control these routes do not exist, whatever the method.
      if (!control) return sendJson(res, 404, { error: 'no such endpoint' }, head);
      if (req.method !== 'GET' && !head) return controlWrite(req, res, path);
    }
    if (req.method !== 'GET' && !head) {
      res.setHeader('Allow', 'GET, HEAD');
      return sendText(res, 405, 'Method Not Allowed: the dashboard is read-only\n', false);
    }
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const queryToken = url.searchParams.get('token');
    const auth = p.authenticate(req, queryToken);
    if (auth !== 'ok') {
      res.setHeader('WWW-Authenticate', 'Bearer realm="bitsgate"');
      const msg = auth === 'missing'
        ? 'Unauthorized: open the dashboard URL printed at start (it carries ?token=), or send Authorization: Bearer\n'
        : 'Unauthorized: wrong token\n';
      return url.pathname.startsWith('/api/') ? sendJson(res, 401, { error: msg.trim() }, head) : sendText(res, 401, msg, head);
    }
    if (queryToken !== null && p.requiresToken) {
      // Trade the URL token for a cookie, and take it out of the address bar and history.
      res.setHeader('Set-Cookie', p.cookie());
      if (!url.pathname.startsWith('/api/') && url.pathname !== '/metrics') {
        url.searchParams.delete('token');
        // One leading slash only: `//host` would make the redirect leave this origin.
        const location = '/' + url.pathname.replace(/^\/+/, '') + url.search;
        res.writeHead(303, { Location: location, 'Content-Length': 0 });
        return void res.end();
      }
    }
    if (url.pathname.startsWith('/api/')) {
      // Defence in depth: our own UI fetches same-origin; a cross-site page has no business here.
      if (req.headers['sec-fetch-site'] === 'cross-site') return sendJson(res, 403, { error: 'cross-site request' }, head);
      if (control && isControlPath(url.pathname)) {
        if (url.pathname !== INJECTIONS_PATH) return sendJson(res, 405, { error: 'Method Not Allowed' }, head);
        return sendResult(res, listInjections(control), head);
      }
      const result = routeApi(url.pathname, { source: opts.source, extraStats: () => ({ ...opts.extraStats?.(), dashboard: hub.counts() }) });
      return sendJson(res, result!.status, result!.body, head);
    }
    if (url.pathname === '/metrics') {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
      return void res.end(head ? undefined : text);
    }
    const file = files.get(url.pathname);
    if (!file) {
      if (url.pathname === '/' ) return sendText(res, 503, NOT_BUILT_PAGE, head);
      return sendText(res, 404, 'Not Found\n', head);
    }
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, { ETag: file.etag });
      return void res.end();
    }
    res.writeHead(200, {
      'Content-Type': file.contentType,
      'Content-Length': file.body.length,
      ETag: file.etag,
      'Cache-Control': 'no-cache',
    });
    res.end(head ? undefined : file.body);
  }

  /** A write to the injection rules: every check before the body is read (control-api.ts). */
  async function controlWrite(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const refused = refuseWrite(req, policy!, controlTokenMatches!);
    if (refused) {
      res.setHeader('Connection', 'close'); // its body, if any, is not read
      return sendResult(res, refused, false);
    }
    let body: Buffer | undefined;
    if (req.method === 'POST') {
      body = await readBody(req, MAX_RULE_BODY_BYTES);
      if (body === undefined) {
        res.setHeader('Connection', 'close');
        return sendJson(res, 413, { error: `Payload Too Large: a rule is at most ${MAX_RULE_BODY_BYTES} bytes of JSON` }, false);
      }
    }
    sendResult(res, applyWrite(req.method ?? '', path, body, control!), false);
  }

  // llhttp refuses methods outside its table (BITS_POST) before any handler runs: answer
  // those like any other non-GET method instead of a bare reset.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && !(socket as { _httpMessage?: unknown })._httpMessage) {
      const head = err.code === 'HPE_INVALID_METHOD'
        ? 'HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n'
        : 'HTTP/1.1 400 Bad Request\r\n';
      socket.end(head + 'X-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    } else {
      socket.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // Only pages of this listener's own scheme are ours: `https://` when it is TLS, else `http://`.
  const scheme = opts.tls ? 'https' : 'http';
  policy = new AccessPolicy({ listenHost: opts.listen.host, port, token, allowedHosts: opts.allowedHosts, scheme });
  const ws = new WebSocketEndpoint(hub, policy, opts.maxClients);
  server.on('upgrade', (req, socket, head) => ws.handleUpgrade(req, socket, head));

  const h = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
  const displayHost = h === '0.0.0.0' || h === '[::]' ? '127.0.0.1' : h;
  const base = `${scheme}://${displayHost}:${port}/`;
  return {
    url: token ? `${base}?token=${encodeURIComponent(token)}` : base,
    token,
    tokenGenerated,
    hub,
    port,
    dropClients: () => ws.dropAll(),
    setTls(tls) {
      if (!httpsServer) throw new Error('the dashboard is served over plain HTTP: no certificate to reload');
      httpsServer.setSecureContext({ ...tls, ...tlsFixed });
    },
    async close() {
      ws.close();
      hub.close();
      ownMetrics?.();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
