import type http from 'node:http';
import type net from 'node:net';

/**
 * What the forwarder hands http-proxy for one request: the facade request it reads (method,
 * url, an EMPTY header object, socket) and, the same object, the `buffer` option it pipes
 * into the outgoing ClientRequest (`buffer.pipe(proxyReq)`, called synchronously: that is
 * where the forwarder takes the request over, see forwarder.ts). It also carries the
 * exchange's context, so http-proxy's per-call error callback and the pipe hook can be
 * functions made once per forwarder: one object per request instead of two objects and
 * three closures.
 */
export class ProxyCall<Conn, Exchange, Req, Res> {
  // Empty: http-proxy copies headers in reverse key order (util._extend) and lower-case;
  // the forwarder sets the real list on the ClientRequest instead. Shared, never written.
  readonly headers: Readonly<Record<string, never>> = NO_HEADERS;
  readonly connection: net.Socket;

  constructor(
    readonly conn: Conn,
    readonly exchange: Exchange,
    readonly request: Req,
    readonly response: Res,
    /** The header list to send, grouped for setHeader. */
    readonly outgoing: Array<[string, string | string[]]>,
    readonly method: string,
    readonly url: string,
    readonly httpVersion: string,
    readonly socket: net.Socket,
    private readonly onPipe: (call: ProxyCall<Conn, Exchange, Req, Res>, proxyReq: http.ClientRequest) => void,
  ) {
    this.connection = socket;
  }

  /** http-proxy subscribes to req 'aborted'/'error'; the forwarder handles both itself. */
  on(): this {
    return this;
  }

  /** http-proxy's `buffer.pipe(proxyReq)`: the outgoing request, before anything is sent. */
  pipe(proxyReq: http.ClientRequest): void {
    this.onPipe(this, proxyReq);
  }
}

const NO_HEADERS: Readonly<Record<string, never>> = Object.freeze({});
