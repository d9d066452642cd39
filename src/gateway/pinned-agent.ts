import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';

/**
 * The upstream side of one client connection. NTLM/Negotiate authenticate a TCP connection
 * and some BITS servers keep sessions per connection, so each client connection gets its
 * own agent with at most one upstream socket, never shared (a shared keep-alive pool would
 * interleave two clients' handshakes on one socket: http-proxy#362/#1346).
 *
 * The agent opens the socket on the first request. When that socket closes, the pinning
 * is over: `lost` turns true and `onLost` fires; the owner closes the client connection
 * rather than let the agent silently open a fresh, unauthenticated one.
 *
 * It also watches the socket for bytes arriving while no request is outstanding (e.g.
 * `Content-Length: 0` followed by stray body bytes). Node's client would either drop them
 * or read them as the next response; both desynchronise the pair, so such a socket is
 * destroyed ("poisoned").
 *
 * Over TLS (an https:// upstream, `bind()`), the one socket is a TLS socket: still one per
 * client connection, so an NTLM handshake stays on the TLS connection that carried it.
 *
 * Pooling is our own, not http.Agent's: with one socket there is nothing to pool, and the
 * base addRequest()/'free' path (option spreads into prototype-less objects, name lookups,
 * async-context resets) cost ~10% of a Ping's CPU time (bench/gateway.bench.ts). The
 * contract with ClientRequest is small: `addRequest(req)` hands it a socket with
 * `req.onSocket(socket)`; after a kept-alive response the request emits 'free' on the
 * socket, which makes it available to the next request.
 */
/**
 * Request body bytes the upstream socket may queue before it reports backpressure. Node's
 * 16 KiB default is smaller than one 64 KiB client read, so every read of a large fragment
 * paused and resumed both sockets; 256 KiB keeps the pipe moving at a bounded cost.
 */
const UPSTREAM_WRITE_HIGH_WATER_MARK = 256 * 1024;

export class PinnedAgent extends http.Agent {
  /** Id of the current upstream socket (unique per process), once one was opened. */
  upstreamConnectionId: number | undefined;
  /** The pinned upstream socket closed (or was never opened successfully after use). */
  lost = false;
  /** Stray bytes were seen on the idle upstream socket. */
  poisoned = false;
  /** A request is using the socket (set by the forwarder around each exchange). */
  busy = false;
  private socket: net.Socket | undefined;
  /** The socket is assigned to a ClientRequest (from addRequest until its 'free'). */
  private inUse = false;
  /** Requests waiting for the socket (only if a request starts before the last one freed it). */
  private readonly waiting: http.ClientRequest[] = [];
  /** TLS options of the upstream this agent is bound to (https:// only). */
  private tlsOptions: tls.ConnectionOptions | undefined;

  constructor(
    private readonly nextUpstreamId: () => number,
    private readonly onLost: () => void,
  ) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  }

  /**
   * Chooses the scheme before the first request. Node's https client refuses an agent whose
   * `protocol` is not `https:` (ERR_INVALID_PROTOCOL).
   */
  bind(tlsOptions: tls.ConnectionOptions | undefined): void {
    this.tlsOptions = tlsOptions;
    (this as { protocol?: string }).protocol = tlsOptions ? 'https:' : 'http:';
  }

  /** The current upstream socket, if open. */
  get upstreamSocket(): net.Socket | undefined {
    return this.socket;
  }

  // Not in @types/node, but the documented hook ClientRequest calls on its agent.
  addRequest(req: http.ClientRequest, options: net.NetConnectOpts & { host?: string; port?: number }): void {
    if (this.lost) {
      // Never a second upstream connection for the same client connection.
      failRequest(req);
      return;
    }
    if (this.socket === undefined) {
      this.inUse = true;
      req.onSocket(this.open(options));
      return;
    }
    if (this.inUse) {
      this.waiting.push(req);
      return;
    }
    this.inUse = true;
    (req as { reusedSocket?: boolean }).reusedSocket = true;
    req.onSocket(this.socket);
  }

  override destroy(): void {
    this.socket?.destroy();
    this.failWaiting();
    super.destroy();
  }

  private open(options: { host?: string; port?: number }): net.Socket {
    // writableHighWaterMark reaches the Duplex constructor; @types/node does not list it here.
    const connectOptions = {
      host: options.host ?? 'localhost', port: Number(options.port), noDelay: true, keepAlive: true, keepAliveInitialDelay: 1000,
      writableHighWaterMark: UPSTREAM_WRITE_HIGH_WATER_MARK,
    } as net.TcpNetConnectOpts;
    const socket = this.tlsOptions ? tls.connect({ ...connectOptions, ...this.tlsOptions }) : net.createConnection(connectOptions);
    this.socket = socket;
    this.upstreamConnectionId = this.nextUpstreamId();
    // Errors while idle would otherwise be unhandled; 'close' follows and does the cleanup.
    socket.on('error', noop);
    // Our own 'data' listener also keeps the socket flowing while it is idle, so stray
    // bytes reach us instead of waiting for the next request's parser.
    socket.on('data', () => {
      if (!this.busy && !socket.destroyed) {
        this.poisoned = true;
        socket.destroy();
      }
    });
    socket.on('free', () => this.onFree(socket));
    socket.once('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.lost = true;
      this.failWaiting();
      this.onLost();
    });
    return socket;
  }

  /** ClientRequest is done with the socket (kept-alive response, or a request destroyed before use). */
  private onFree(socket: net.Socket): void {
    const last = (socket as { _httpMessage?: http.ClientRequest | null })._httpMessage;
    (socket as { _httpMessage?: http.ClientRequest | null })._httpMessage = null;
    this.inUse = false;
    if (!socket.writable || (last && !last.shouldKeepAlive)) {
      socket.destroy();
      return;
    }
    const next = this.waiting.shift();
    if (next) {
      this.inUse = true;
      next.onSocket(socket);
    }
  }

  private failWaiting(): void {
    for (const req of this.waiting.splice(0)) failRequest(req);
  }
}

/** Worded like Node's own error for an upstream that closed before answering (-> 502 upstream-closed). */
class UpstreamLostError extends Error {
  readonly code = 'ECONNRESET';
  constructor() {
    super('socket hang up');
  }
}

/**
 * Fails a request that has no socket. (`req.destroy(err)` would emit nothing: without a
 * socket, ClientRequest reports the error only once one is assigned; this is how
 * http.Agent itself reports a failed connect.)
 */
function failRequest(req: http.ClientRequest): void {
  (req.onSocket as (socket: net.Socket | undefined, err: Error) => void)(undefined, new UpstreamLostError());
}

function noop(): void {}
