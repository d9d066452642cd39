import http from 'node:http';
import net from 'node:net';

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
 */
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

  constructor(
    private readonly nextUpstreamId: () => number,
    private readonly onLost: () => void,
  ) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  }

  /** The current upstream socket, if open. */
  get upstreamSocket(): net.Socket | undefined {
    return this.socket;
  }

  override createConnection(options: net.NetConnectOpts, callback?: (err: Error | null, socket: net.Socket) => void): net.Socket {
    const socket = net.createConnection(options);
    void callback;
    this.socket = socket;
    this.upstreamConnectionId = this.nextUpstreamId();
    socket.setNoDelay(true);
    // Our own 'data' listener also keeps the socket flowing while it sits in the free
    // pool, so stray bytes reach us instead of waiting for the next request's parser.
    socket.on('data', () => {
      if (!this.busy && !socket.destroyed) {
        this.poisoned = true;
        socket.destroy();
      }
    });
    socket.once('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.lost = true;
      this.onLost();
    });
    return socket;
  }
}
