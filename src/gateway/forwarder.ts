/**
 * Theory of operation.
 *
 * The raw listener (src/gateway/http1) parses each request, BITS_POST included, and hands
 * it over with a response writer. The forwarder sends it upstream through http-proxy and
 * writes the upstream's answer back. http-proxy is used for what it does well (building
 * and dispatching the outgoing request, per-call error routing) and steered around its
 * known faults (the team's field notes on http-proxy, §2):
 *
 * - Pinning: every client connection gets its own PinnedAgent (one upstream socket, never
 *   shared). When that socket closes the client connection is closed after the response.
 * - Fidelity: http-proxy builds headers from `req.headers` (an object: order, case and
 *   duplicates lost) and collapses `//` in paths (`common.urlJoin`). We give it a facade
 *   request with empty headers and take over the outgoing ClientRequest through the
 *   `buffer` option (it calls `buffer.pipe(proxyReq)` synchronously, before any byte is
 *   sent): there we set the exact path and header list, then stream the body with
 *   `stream.pipeline` (bodiless requests skip it: its AbortController is a measurable
 *   share of a Ping's cost). Three of http-proxy's four passes are removed (see below).
 * - Expect: 100-continue: http-proxy skips it (#1447) and never relays the 100 (#1219).
 *   We forward `Expect`, flush the head at once and relay the upstream's 100 once.
 * - Aborts: http-proxy listens for `req 'aborted'`, which our listener never emits (#1586).
 *   A client that goes away destroys the upstream request here (pipeline + connection close).
 * - Responses: `selfHandleResponse`; the head is written from `proxyRes.rawHeaders` (keeps
 *   duplicate WWW-Authenticate lines, #727) minus hop-by-hop fields; the body is pumped
 *   with backpressure. A response already complete and bodiless when we see it (every
 *   Ack) is answered in the same turn: head and end leave in one write.
 * - Methods never forwarded (CONNECT, TRACE): answered 501 here, see refused-methods.ts.
 * - Request targets: an absolute-form target goes upstream, and into the observation, in
 *   origin-form (request-target.ts); its authority replaces the Host sent upstream (RFC 9110
 *   §7.2, RFC 9112 §3.2.2).
 * - Routing (routes.ts): the authority picks the upstream; the first request binds the
 *   client connection's pinned agent to it. A later request on that connection for another
 *   upstream, or for a name nothing serves, is 421 (the client retries on a new connection);
 *   an empty Host is 400.
 * - Request body failures: the listener reports a malformed or stalled body (onReject)
 *   before the body stream errors; that reason ends the exchange in flight. Once a response
 *   is under way (an early 413), only its own 'finish' or 'close' ends the exchange.
 * - Timeouts: our own inactivity sweep (`upstreamTimeoutMs`), not `proxyTimeout` (which
 *   calls the deprecated abort() and surfaces as a generic ECONNRESET). Body progress is
 *   sampled by the sweep from byte counters: no clock read and no listener per body chunk.
 * - Faults: any upstream failure drops the pinned upstream socket and closes the client
 *   connection after the 502/504 (or at once when the head was already relayed).
 * - Upstream closes are mirrored, never turned into a 502: when the upstream connection
 *   closes, the client connection closes after the response in flight; a request that
 *   meets a closing upstream connection (no byte of response) gets its client connection
 *   closed without an answer, as the server did (observed as `upstream-closed`).
 *
 * - Fault injection (fault-injector.ts): with a policy configured, three hooks (before
 *   forwarding, where the body is sent, where the response is relayed) hand the exchange
 *   to the injector; without one, no per-request work.
 *
 * Every exchange yields exactly one Observation, whatever path ends it.
 */
import type http from 'node:http';
import { pipeline } from 'node:stream';
import httpProxy from 'http-proxy';
import type { InjectionPolicy } from '../inject/registry.js';
import type { ExchangeStart, HeaderList, Observation, ObservationSink } from '../observation.js';
import { headerValue } from '../protocol/index.js';
import { Exchange } from './exchange.js';
import { FaultInjector } from './fault-injector.js';
import { clientResponseHeaders, plainAddress, upstreamRequestGroups } from './hop-by-hop.js';
import type { ConnectionInfo as ListenerConnection, Http1Request as ListenerRequest, Http1Response as ListenerResponse, RejectInfo as ListenerReject } from './http1/types.js';
import { PinnedAgent } from './pinned-agent.js';
import { ProxyCall } from './proxy-call.js';
import { refusalFor, type Refusal } from './refused-methods.js';
import { originForm } from './request-target.js';
import { absoluteFormAuthority, RouteTable, upstreamTarget, type UpstreamTarget } from './routes.js';
import { classifyUpstreamError, GATEWAY_BODIES, type FailureReply } from './upstream-errors.js';

export interface ForwarderOptions {
  /** The one upstream (plain http), when no `routes` are given. */
  upstream?: URL;
  /** Upstreams by host name, with their default. */
  routes?: RouteTable;
  /** No upstream progress (response head, or body bytes) for this long → 504 / abort. */
  upstreamTimeoutMs: number;
  /** Set X-Forwarded-For/-Proto/-Host (overwriting client-sent ones). */
  forwardedHeaders: boolean;
  sink: ObservationSink;
  /** Fault injection (`--inject`, the control API): consulted per request only when given. */
  injections?: InjectionPolicy;
  /** Wall clock, injectable for tests. */
  now?: () => number;
}

interface ConnectionState {
  id: number;
  socket: ListenerConnection['socket'] | undefined;
  address: string;
  port: number;
  agent: PinnedAgent;
  active: Exchange | undefined;
  /** The response writer of `active`. */
  activeRes: ListenerResponse | undefined;
  closed: boolean;
  /** The upstream the pinned agent is bound to (set by the first request). */
  upstream: UpstreamTarget | undefined;
  /** The client connection is TLS (X-Forwarded-Proto, observation scheme). */
  tls: boolean;
}

type Call = ProxyCall<ConnectionState, Exchange, ListenerRequest, ListenerResponse>;

/** Gives idle client connections this long to finish closing before they are destroyed. */
const CLOSE_GRACE_MS = 2_000;

export class Forwarder {
  // ignorePath: the path is set in dispatch(); http-proxy's url.parse + urlJoin would
  // rewrite it (backslashes, `//`) and cost time on every request. toProxy: its only effect
  // is to skip that url.parse(req.url), which runs even when the result is ignored.
  private readonly proxy = httpProxy.createProxyServer({
    selfHandleResponse: true, xfwd: false, ws: false, ignorePath: true, prependPath: false, toProxy: true,
  });
  private readonly connections = new Map<number, ConnectionState>();
  private readonly routes: RouteTable;
  private readonly now: () => number;
  private readonly injector: FaultInjector | undefined;
  private nextExchangeId = 1;
  private nextUpstreamId = 1;
  private readonly sweeper: NodeJS.Timeout;
  /** Shutting down: every response closes its connection. */
  private draining = false;
  // Made once: each request's context travels in its ProxyCall, not in per-request closures.
  private readonly dispatchCall = (call: Call, proxyReq: http.ClientRequest): void =>
    this.dispatch(call.conn, call.exchange, call.request, call.response, proxyReq, call.outgoing);
  private readonly onProxyError = (err: Error, call: Call): void => this.onUpstreamError(call.conn, call.exchange, call.response, err);

  constructor(private readonly options: ForwarderOptions) {
    if (!options.routes && !options.upstream) throw new TypeError('Forwarder: an upstream or routes are required');
    this.routes = options.routes ?? new RouteTable([], upstreamTarget(options.upstream!));
    this.now = options.now ?? Date.now;
    this.injector = options.injections ? new FaultInjector(options.injections, this.now) : undefined;
    const interval = Math.min(1_000, Math.max(10, Math.floor(options.upstreamTimeoutMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), interval);
    this.sweeper.unref();
    // http-proxy throws from its default 'error' handler when nobody else listens; every
    // call passes its own callback, this listener only keeps the process alive.
    this.proxy.on('error', () => {});
    // Keep only the pass that dispatches. The others would undo our header handling:
    // `deleteLength` adds `Content-Length: 0` to bodiless DELETE/OPTIONS, `XHeaders`
    // appends to client-sent X-Forwarded-* (spoofable, http-proxy#1581), `timeout` is unused.
    const proxyWithPasses = this.proxy as unknown as { webPasses: Array<{ name: string }> };
    proxyWithPasses.webPasses = proxyWithPasses.webPasses.filter((pass) => pass.name === 'stream');
  }

  /** Exchanges and client connections currently open (for tests and metrics). */
  get activeConnections(): number {
    return this.connections.size;
  }

  onConnection(conn: ListenerConnection): void {
    this.stateFor(conn.id, conn.socket, conn.remoteAddress, conn.remotePort);
  }

  onConnectionClose(conn: { id: number }): void {
    const state = this.connections.get(conn.id);
    if (!state) return;
    state.closed = true;
    this.connections.delete(conn.id);
    if (state.active) this.abortExchange(state, state.active, 'client-aborted');
    // After the last exchange's observation: the tracker tells a lost Close Ack from a double Close by it.
    this.options.sink.onConnectionClosed?.({ connectionId: conn.id, at: this.now() });
    // Releases the pinned upstream socket: it must never serve another client.
    state.agent.destroy();
  }

  /** A request the listener refused (400/431/timeout): one observation with what is known. */
  onReject(info: ListenerReject): void {
    // A body failing mid-exchange (bad chunk, body timeout): the listener reports it before
    // the body error and res 'close' reach us, so the reason goes on that exchange. While
    // its response has not ended, the listener cannot have parsed another request.
    const conn = this.connections.get(info.connectionId);
    const ex = conn?.active;
    if (conn && ex && !ex.isEnded && conn.activeRes && !conn.activeRes.finished) {
      ex.fail(info.reason);
      if (info.status !== null && !conn.activeRes.headersSent) ex.responded(info.status, [], 'gateway', info.at);
      this.abortExchange(conn, ex, info.reason);
      return;
    }
    const start: ExchangeStart = {
      id: this.nextExchangeId++,
      connectionId: info.connectionId,
      client: { address: plainAddress(info.remoteAddress), port: info.remotePort ?? 0 },
      method: info.method ?? '',
      url: info.url ?? '',
      httpVersion: '',
      requestHeaders: [],
      startedAt: info.at,
    };
    const obs: Observation = {
      ...start,
      requestBodyBytes: 0,
      responseBodyBytes: 0,
      endedAt: info.at,
      responder: 'gateway',
      error: info.reason,
      refused: true,
    };
    if (info.status !== null) {
      obs.status = info.status;
      obs.respondedAt = info.at;
    }
    this.options.sink.onObservation(obs);
  }

  /** Exchanges in flight (graceful shutdown waits for 0). */
  get exchangesInFlight(): number {
    let n = 0;
    for (const conn of this.connections.values()) if (conn.active) n++;
    return n;
  }

  /** Graceful shutdown: idle client connections close now, busy ones after their response. */
  drain(): void {
    this.draining = true;
    for (const conn of this.connections.values()) {
      if (conn.active && conn.activeRes) conn.activeRes.closeAfter();
      else this.closeIdleClient(conn);
    }
  }

  /** Destroys every pinned upstream socket (gateway shutdown). */
  closeAll(): void {
    clearInterval(this.sweeper);
    for (const state of this.connections.values()) state.agent.destroy();
  }

  handle(req: ListenerRequest, res: ListenerResponse): void {
    const conn = this.stateFor(req.connectionId, req.socket, req.socket?.remoteAddress, req.socket?.remotePort);
    const url = originForm(req.url);
    const start: ExchangeStart = {
      id: this.nextExchangeId++,
      connectionId: req.connectionId,
      client: { address: conn.address, port: conn.port },
      method: req.method,
      url,
      httpVersion: req.httpVersion,
      requestHeaders: req.headerList,
      startedAt: req.receivedAt,
    };
    if (conn.tls) start.scheme = 'https';
    this.options.sink.onExchangeStart?.(start);
    const ex = new Exchange(start);
    ex.request = req;
    res.on('finish', () => this.endExchange(conn, ex));
    // Emitted only when the response did not reach the client (connection gone, or the
    // listener rejected the body: then onReject already ended the exchange with its reason).
    res.on('close', () => this.abortExchange(conn, ex, 'client-aborted'));

    const refusal = refusalFor(req.method);
    if (refusal) {
      this.refuse(conn, ex, res, refusal);
      return;
    }
    if (conn.agent.lost || conn.closed) {
      // The pinned upstream connection is gone: answer like a server closing an idle
      // keep-alive connection (no response) so the client retries on a fresh connection,
      // instead of silently pairing it with a new, unauthenticated upstream socket.
      ex.fail('upstream-closed');
      conn.active = ex;
      res.destroy();
      this.endExchange(conn, ex);
      return;
    }
    conn.active = ex;
    conn.activeRes = res;
    if (this.draining) res.closeAfter();
    const absoluteAuthority = absoluteFormAuthority(req.url);
    const clientHost = headerValue(req.headerList, 'host');
    const route = this.routes.resolve(absoluteAuthority ?? clientHost);
    if (!route.ok || (conn.upstream !== undefined && conn.upstream !== route.upstream)) {
      this.failExchange(conn, ex, res, route.ok ? { error: 'misdirected', status: 421 } : route);
      return;
    }
    if (conn.upstream === undefined) {
      conn.upstream = route.upstream;
      conn.agent.bind(route.upstream.tls);
    }
    // Fault injection: an injected answer or reset never reaches the upstream.
    if (this.injector !== undefined && this.injector.intercept(ex, req, res)) return;
    conn.agent.busy = true;

    const forwarded = this.options.forwardedHeaders
      ? { for: conn.address, proto: conn.tls ? 'https' as const : 'http' as const, host: absoluteAuthority ?? clientHost }
      : null;
    const grouped = upstreamRequestGroups(req.headerList, { contentLength: req.contentLength, chunked: req.chunked }, forwarded);
    if (absoluteAuthority !== undefined) replaceHost(grouped, absoluteAuthority);
    // The facade request http-proxy reads is also its `buffer`: see proxy-call.ts.
    const call: Call = new ProxyCall(conn, ex, req, res, grouped, req.method, url, req.httpVersion, req.socket, this.dispatchCall);
    try {
      this.proxy.web(
        call as unknown as http.IncomingMessage,
        res as unknown as http.ServerResponse,
        { target: route.upstream.target as unknown as httpProxy.ProxyTargetUrl, agent: conn.agent, buffer: call as never },
        this.onProxyError as (err: Error) => void,
      );
    } catch (err) {
      // Node's http client refused the request (e.g. a header value it will not send).
      this.failExchange(conn, ex, res, { error: 'gateway-error', status: 502 });
      void err;
    }
  }

  /** Called synchronously by http-proxy with the outgoing request, before anything is sent. */
  private dispatch(
    conn: ConnectionState,
    ex: Exchange,
    req: ListenerRequest,
    res: ListenerResponse,
    proxyReq: http.ClientRequest,
    headers: Array<[string, string | string[]]>,
  ): void {
    ex.proxyReq = proxyReq;
    // Only the Host Node added in the constructor: the client's own list replaces it. (Removed
    // even when the list has a Host: a setHeader over it would keep Node's Host in first place.)
    proxyReq.removeHeader('host');
    // Removed, Node writes no `Connection: keep-alive` of its own (the socket still persists:
    // HTTP/1.1's default); the client's own close / keep-alive comes back from the list below.
    proxyReq.removeHeader('connection');
    for (const [name, value] of headers) proxyReq.setHeader(name, value);
    const url = ex.start.url;
    const pathPrefix = conn.upstream?.pathPrefix ?? '';
    proxyReq.path = pathPrefix && url.startsWith('/') ? pathPrefix + url : url;
    // No framing from the client means no body: do not let Node invent `Content-Length: 0`
    // or chunked framing for a method it does not know.
    if (req.contentLength === null && !req.chunked) proxyReq.useChunkedEncodingByDefault = false;
    if (req.expectContinue) {
      proxyReq.on('continue', () => {
        if (!ex.continueSent && !res.headersSent && !ex.isEnded) {
          ex.continueSent = true;
          res.writeContinue();
        }
      });
    }
    // `on`, not `once` (its wrapper costs an allocation): a ClientRequest emits 'response' once.
    proxyReq.on('response', (proxyRes: http.IncomingMessage) => {
      ex.proxyRes = proxyRes;
      // One tick later: a parse error in the same packet (a complete response followed by
      // garbage) is reported synchronously after 'response', and then the head we write can
      // already say `Connection: close`. The body waits in proxyRes meanwhile. (nextTick, not
      // queueMicrotask: that one allocates an AsyncResource per call.)
      process.nextTick(() => this.onResponse(conn, ex, req, res, proxyRes));
    });
    if (ex.fault !== undefined && this.injector!.sendRequest(ex, req, proxyReq, (err) => {
      if (!ex.isEnded && !req.complete && !res.headersSent) this.abortExchange(conn, ex, bodyErrorReason(err));
    })) return;
    // The upstream must see the head now: the client waits for its 100 before sending a body.
    if (req.expectContinue) proxyReq.flushHeaders();
    if (req.contentLength === 0 || (req.contentLength === null && !req.chunked)) {
      // No body (Ping, Create-Session, Close-Session): skip the pipeline, whose per-call
      // AbortController/DOMException cost ~5% of a Ping's CPU time (bench/gateway.bench.ts).
      // The empty body stream is left unread: the listener already pushed its end, and
      // reading it would only run the stream's end/close ticks.
      proxyReq.end();
    } else {
      pipeline(req, proxyReq, (err) => {
        // Once a response is under way (an early 413 destroys proxyReq) its own 'finish' or
        // 'close' ends the exchange; only a body failing before it is the request's fault.
        if (err && !ex.isEnded && !req.complete && !res.headersSent) this.abortExchange(conn, ex, bodyErrorReason(err));
      });
    }
    ex.lastActivity = this.now();
  }

  private onResponse(conn: ConnectionState, ex: Exchange, req: ListenerRequest, res: ListenerResponse, proxyRes: http.IncomingMessage): void {
    ex.proxyRes = proxyRes;
    ex.lastActivity = this.now();
    if (ex.isEnded || res.headersSent) {
      proxyRes.destroy();
      return;
    }
    if (ex.fault?.action.kind === 'drop-ack') {
      this.injector!.dropAnswer(ex, res, proxyRes);
      return;
    }
    const headers = clientResponseHeaders(proxyRes.rawHeaders);
    // Upstream will close (Connection: close, HTTP/1.0, read-until-close body): the pinning
    // ends with this response, so the client connection does too.
    // Also when Node already destroyed the socket: it does that silently on a second
    // response in the same packet (`Content-Length: 0` followed by stray bytes).
    // And when the upstream answers before the request body is complete (an early 401/413):
    // the rest of the body cannot be relayed in step any more (RFC 9112 §9.6).
    if (!ex.proxyReq?.shouldKeepAlive || conn.agent.lost || conn.agent.poisoned || proxyRes.socket?.destroyed || !req.complete) {
      res.closeAfter();
    }
    try {
      res.writeHead(proxyRes.statusCode ?? 502, headers, proxyRes.statusMessage);
    } catch {
      // A header or reason phrase that would split the response on the client side.
      proxyRes.destroy();
      this.failExchange(conn, ex, res, { error: 'bad-upstream-response', status: 502 });
      return;
    }
    const now = this.now();
    ex.responded(proxyRes.statusCode ?? 502, headers, 'upstream', now);
    if (proxyRes.complete && proxyRes.readableLength === 0) {
      // The whole response is in and has no body (every Ack): answer in the same turn, so the
      // head and the end leave in one write, and skip the per-exchange body listeners.
      this.finishResponse(conn, ex, req, res, now);
      // Lets Node's client see 'end' and hand the socket back to the agent.
      proxyRes.resume();
      return;
    }
    const resume = () => proxyRes.resume();
    res.on('drain', resume);
    proxyRes.on('data', (chunk: Buffer) => {
      ex.responseBodyBytes += chunk.length;
      if (!res.write(chunk)) proxyRes.pause();
    });
    proxyRes.on('end', () => {
      res.removeListener('drain', resume);
      this.finishResponse(conn, ex, req, res, this.now());
    });
    proxyRes.on('close', () => {
      if (!proxyRes.complete && !ex.isEnded) {
        ex.fail('upstream-reset');
        res.destroy();
        this.endExchange(conn, ex);
      }
    });
  }

  /** The upstream response is complete: end the client's. */
  private finishResponse(conn: ConnectionState, ex: Exchange, req: ListenerRequest, res: ListenerResponse, now: number): void {
    if (ex.isEnded) return;
    // Early answer (see onResponse): the upstream side of the pair closes too.
    const bodyPending = !req.complete;
    if (bodyPending || conn.agent.lost || conn.agent.poisoned) res.closeAfter();
    ex.endResponse(res, now);
    if (bodyPending) ex.proxyReq?.destroy();
  }

  private onUpstreamError(conn: ConnectionState, ex: Exchange, res: ListenerResponse, err: Error): void {
    if (ex.isEnded) return;
    if (ex.proxyRes?.complete) {
      // A complete response followed by garbage (e.g. `Content-Length: 0` then stray bytes):
      // Node already dropped that upstream socket. Deliver the response, then close.
      res.closeAfter();
      return;
    }
    if (ex.proxyRes) {
      // Failure in the middle of the response body: the head is out, only a close is honest.
      ex.fail(classifyUpstreamError(err).error);
      res.destroy();
      this.endExchange(conn, ex);
      return;
    }
    const failure = classifyUpstreamError(err);
    // Only the upstream's own close: our aborts (timeouts, client gone) fail the exchange first.
    if (failure.error === 'upstream-closed' && ex.error === undefined && !res.headersSent) {
      this.mirrorUpstreamClose(conn, ex, res);
      return;
    }
    this.failExchange(conn, ex, res, failure);
  }

  /**
   * The upstream closed the connection our request went down without a byte of response
   * (e.g. a server that closes after every response without saying `Connection: close`).
   * Direct, the client would see its connection closed and resend on a new one; a 502
   * would read as the server's answer to this very request. So the client connection is
   * closed without an answer, and the exchange observed as `upstream-closed`, no status.
   */
  private mirrorUpstreamClose(conn: ConnectionState, ex: Exchange, res: ListenerResponse): void {
    ex.fail('upstream-closed');
    ex.proxyReq?.destroy();
    res.destroy();
    this.endExchange(conn, ex);
  }

  /** Gateway-generated answer to an upstream failure, then the pinned pair is dropped. */
  private failExchange(conn: ConnectionState, ex: Exchange, res: ListenerResponse, reply: FailureReply | { error: string; status: number }): void {
    if (ex.isEnded) return;
    ex.fail(reply.error);
    ex.proxyReq?.destroy();
    if (res.headersSent) {
      res.destroy();
      this.endExchange(conn, ex);
      return;
    }
    const body = Buffer.from(GATEWAY_BODIES[reply.status] ?? 'Bad Gateway\n');
    const headers: HeaderList = [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(body.length)],
    ];
    ex.responded(reply.status, headers, 'gateway', this.now());
    ex.responseBodyBytes = body.length;
    res.closeAfter();
    res.writeHead(reply.status, headers);
    ex.endResponse(res, this.now(), body);
  }

  /** A method the gateway never forwards (refused-methods.ts): answered here, then the connection closes. */
  private refuse(conn: ConnectionState, ex: Exchange, res: ListenerResponse, refusal: Refusal): void {
    conn.active = ex;
    conn.activeRes = res;
    ex.fail('method-not-forwarded');
    ex.responded(refusal.status, refusal.headers, 'gateway', this.now());
    ex.responseBodyBytes = refusal.body.length;
    res.closeAfter();
    res.writeHead(refusal.status, refusal.headers);
    ex.endResponse(res, this.now(), refusal.body);
  }

  private abortExchange(conn: ConnectionState, ex: Exchange, error: string): void {
    if (ex.isEnded) return;
    ex.fail(error);
    ex.proxyReq?.destroy();
    this.endExchange(conn, ex);
  }

  private endExchange(conn: ConnectionState, ex: Exchange): void {
    // One agent holds one socket at a time, so its current id is the one that carried this.
    if (ex.proxyReq && !ex.isEnded) ex.upstreamConnectionId = conn.agent.upstreamConnectionId;
    const obs = ex.end(this.now());
    if (!obs) return;
    if (conn.active === ex) {
      conn.active = undefined;
      conn.activeRes = undefined;
    }
    conn.agent.busy = false;
    this.options.sink.onObservation(obs);
    if (conn.agent.lost && !conn.closed) this.closeIdleClient(conn);
  }

  /**
   * Inactivity check, one sweep over the open connections every `limit/4` (at most 1 s)
   * rather than a timer per exchange (timer insert/remove showed up in Ping profiles).
   * Before the response head: no request bytes relayed and no head for `limit` → 504
   * (or, when the client is the one that stopped sending its body, a close).
   * After it: no response bytes for `limit` while the client is not the one holding us
   * back → close. Body progress is sampled here (byte counts compared with the previous
   * sweep's) and dated when a sweep sees it, never earlier, so an exchange times out no
   * sooner than `limit` after its last byte and at most two intervals later.
   */
  private sweep(): void {
    const limit = this.options.upstreamTimeoutMs;
    const now = this.now();
    for (const conn of this.connections.values()) {
      const ex = conn.active;
      if (!ex || !ex.proxyReq || ex.isEnded || !conn.activeRes) continue;
      const req = conn.activeRes.req;
      const progress = req.bodyBytesRead + ex.responseBodyBytes;
      if (progress !== ex.progressSeen) {
        ex.progressSeen = progress;
        ex.lastActivity = now;
        continue;
      }
      if (now - ex.lastActivity < limit || ex.proxyRes?.isPaused() || ex.proxyRes?.complete) continue;
      if (!ex.proxyRes && !req.complete && !ex.proxyReq.writableNeedDrain) {
        // The client stopped sending its body; the upstream is not to blame.
        ex.fail('client-timeout');
        conn.activeRes.destroy();
        this.abortExchange(conn, ex, 'client-timeout');
        continue;
      }
      this.failExchange(conn, ex, conn.activeRes, { error: 'upstream-timeout', status: 504 });
    }
  }

  /** The pinned upstream socket closed. */
  private onUpstreamLost(conn: ConnectionState): void {
    if (conn.closed) return;
    const ex = conn.active;
    if (ex) {
      // Let the response in flight finish (or fail through its own error path), then close.
      return;
    }
    this.closeIdleClient(conn);
  }

  private closeIdleClient(conn: ConnectionState): void {
    const socket = conn.socket;
    if (!socket || socket.destroyed) return;
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private stateFor(id: number, socket: ConnectionState['socket'], address: string | undefined, port: number | undefined): ConnectionState {
    let state = this.connections.get(id);
    if (!state) {
      const created: ConnectionState = {
        id,
        socket,
        address: plainAddress(address),
        port: port ?? 0,
        agent: new PinnedAgent(() => this.nextUpstreamId++, () => this.onUpstreamLost(created)),
        active: undefined,
        activeRes: undefined,
        closed: false,
        upstream: undefined,
        tls: (socket as { encrypted?: boolean } | undefined)?.encrypted === true,
      };
      state = created;
      this.connections.set(id, state);
      // Normally the listener reports the close (onConnectionClose); this covers a state
      // created from a request alone, so it can never outlive its socket.
      socket?.once('close', () => this.onConnectionClose({ id }));
    }
    return state;
  }
}

/** The listener's body errors carry a stable `.reason` (bad-chunk-size, body-timeout, client-aborted...). */
function bodyErrorReason(err: Error): string {
  const reason = (err as { reason?: unknown }).reason;
  return typeof reason === 'string' && reason !== '' ? reason : 'client-aborted';
}

/** RFC 9112 §3.2.2: with an absolute-form target, the Host sent on is the target's authority. */
function replaceHost(headers: Array<[string, string | string[]]>, authority: string): void {
  const at = headers.findIndex(([name]) => name.length === 4 && name.toLowerCase() === 'host');
  if (at >= 0) headers[at] = [headers[at]![0], authority];
  else headers.unshift(['Host', authority]);
}
