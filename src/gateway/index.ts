import type net from 'node:net';
import type { InjectionPolicy } from '../inject/registry.js';
import type { Observation, ObservationSink } from '../observation.js';
import type { ListenAddress } from '../util/option-values.js';
import { Forwarder } from './forwarder.js';
import { createHttp1Server } from './http1/index.js';
import type { RouteTable } from './routes.js';
import { SinkFanout, type SinkErrorHandler } from './sink-fanout.js';
import { createTlsListener, type TlsErrorReport, type TlsListener } from './tls-listener.js';
import type { TlsCredentials } from './tls-credentials.js';

/**
 * The gateway: the raw HTTP/1 listener in front of the forwarder. It knows nothing about
 * BITS; it produces observations and hands them to the sinks it was given.
 */

export const GATEWAY_DEFAULTS = {
  listen: { host: '127.0.0.1', port: 8080 } as ListenAddress,
  /** nginx's proxy_read_timeout is 60 s; BITS servers can take long on a final fragment. */
  upstreamTimeoutMs: 120_000,
  /** Slowloris guard; Node's own server uses 60 s, IIS's header wait is 30 s-ish by default. */
  headersTimeoutMs: 30_000,
  /** A request body silent this long -> 408: IIS applies its 120 s connectionTimeout to idle entity reads. */
  bodyTimeoutMs: 120_000,
  forwardedHeaders: true,
} as const;

export interface GatewayOptions {
  /** The one plain-http upstream; or give `routes` (https upstreams, a farm). */
  upstream?: URL;
  routes?: RouteTable;
  listen?: ListenAddress;
  upstreamTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** Largest request head accepted (the listener's default when absent: 64 KiB). */
  maxHeadBytes?: number;
  /** Idle time allowed between requests on a client connection (listener default when absent). */
  keepAliveTimeoutMs?: number;
  /** A request body silent this long -> 408 (or close), error `body-timeout` (default 120 s). */
  bodyTimeoutMs?: number;
  forwardedHeaders?: boolean;
  sinks?: ObservationSink[];
  onSinkError?: SinkErrorHandler;
  /** Speak TLS to clients (the HTTP/1.1 listener runs unchanged behind it). */
  tls?: GatewayTlsOptions;
  /** Fault injection policy (`--inject`, the control API); absent: no per-request work. */
  injections?: InjectionPolicy;
}

export interface GatewayTlsOptions {
  credentials: TlsCredentials;
  handshakeTimeoutMs?: number;
  /** Certificate files are polled for changes at this interval (0: only on reloadTls()). */
  watchIntervalMs?: number;
  onTlsError?(report: TlsErrorReport): void;
  onReload?(): void;
  /** Shared session ticket keys (48 bytes) of the workers of one machine. */
  ticketKeys?: Buffer;
}

export interface Gateway {
  /** The bound address (the real port when `listen.port` was 0). */
  address: ListenAddress;
  /** `http://host:port` (or `https://` with TLS) of the listener. */
  url: string;
  server: net.Server;
  /** Re-reads the TLS certificates (SIGHUP); a no-op without TLS. */
  reloadTls(): Promise<void>;
  /**
   * Stops accepting; idle connections close at once, exchanges in flight get up to `graceMs`
   * to finish (their connections close after the response); then close().
   */
  shutdown(graceMs: number): Promise<void>;
  /** Stops accepting, closes every client and upstream connection. */
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const policy = options.injections;
  // The policy learns from finished exchanges (e.g. each session's acknowledged range) on the sink path.
  const sinks = policy?.observe ? [...(options.sinks ?? []), { onObservation: (obs: Observation) => policy.observe!(obs) }] : options.sinks ?? [];
  const sink = new SinkFanout(sinks, options.onSinkError);
  const forwarder = new Forwarder({
    ...(options.upstream && { upstream: options.upstream }),
    ...(options.routes && { routes: options.routes }),
    upstreamTimeoutMs: options.upstreamTimeoutMs ?? GATEWAY_DEFAULTS.upstreamTimeoutMs,
    forwardedHeaders: options.forwardedHeaders ?? GATEWAY_DEFAULTS.forwardedHeaders,
    sink,
    ...(policy && { injections: policy }),
  });
  const sockets = new Set<net.Socket>();
  const server = createHttp1Server((req, res) => forwarder.handle(req, res), {
    headersTimeoutMs: options.headersTimeoutMs ?? GATEWAY_DEFAULTS.headersTimeoutMs,
    ...(options.maxHeadBytes !== undefined ? { maxHeadBytes: options.maxHeadBytes } : {}),
    ...(options.keepAliveTimeoutMs !== undefined ? { keepAliveTimeoutMs: options.keepAliveTimeoutMs } : {}),
    bodyTimeoutMs: options.bodyTimeoutMs ?? GATEWAY_DEFAULTS.bodyTimeoutMs,
    onReject: (info) => forwarder.onReject(info),
    onConnection: (conn) => {
      sockets.add(conn.socket);
      forwarder.onConnection(conn);
    },
    onConnectionClose: (conn) => {
      sockets.delete(conn.socket);
      forwarder.onConnectionClose(conn);
    },
  });
  let tlsListener: TlsListener | undefined;
  if (options.tls) {
    const tlsOptions = options.tls;
    tlsListener = await createTlsListener({
      credentials: tlsOptions.credentials,
      ...(tlsOptions.handshakeTimeoutMs !== undefined && { handshakeTimeoutMs: tlsOptions.handshakeTimeoutMs }),
      ...(tlsOptions.watchIntervalMs !== undefined && { watchIntervalMs: tlsOptions.watchIntervalMs }),
      // The HTTP/1.1 server never listens itself: decrypted sockets are handed to it.
      onSecureConnection: (socket) => server.emit('connection', socket),
      ...(tlsOptions.onTlsError && { onTlsError: tlsOptions.onTlsError }),
      ...(tlsOptions.onReload && { onReload: tlsOptions.onReload }),
      ...(tlsOptions.ticketKeys && { ticketKeys: tlsOptions.ticketKeys }),
    });
  }
  const listening = tlsListener?.server ?? server;
  const listen = options.listen ?? GATEWAY_DEFAULTS.listen;
  await new Promise<void>((resolve, reject) => {
    listening.once('error', reject);
    listening.listen(listen.port, listen.host, () => {
      listening.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    tlsListener?.close();
    throw err;
  });
  const bound = listening.address() as net.AddressInfo;
  const address = { host: bound.address, port: bound.port };
  const hostForUrl = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const close = () =>
    new Promise<void>((resolve) => {
      // Observations still queued for the sinks are delivered before close() resolves.
      listening.close(() => {
        sink.flush();
        resolve();
      });
      for (const socket of sockets) socket.destroy();
      tlsListener?.close();
      forwarder.closeAll();
    });
  return {
    address,
    url: `${tlsListener ? 'https' : 'http'}://${hostForUrl}:${bound.port}`,
    server: listening,
    reloadTls: () => tlsListener?.reload() ?? Promise.resolve(),
    async shutdown(graceMs: number) {
      listening.close();
      forwarder.drain();
      const deadline = Date.now() + graceMs;
      while (forwarder.exchangesInFlight > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
      }
      await close();
    },
    close,
  };
}

export { RouteTable, upstreamTarget, upstreamSecureContext, type UpstreamTarget, type UpstreamTlsSettings } from './routes.js';
export type { TlsErrorReport, TlsErrorCause } from './tls-listener.js';
export type { TlsCredentials, CertificateSource } from './tls-credentials.js';
