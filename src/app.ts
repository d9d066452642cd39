/**
 * Wires one running bitsgate: the gateway (edge) produces observations; the inspector
 * feeds them to the session tracker (core) and publishes its events on the bus; the
 * sinks (log, metrics, recorder, dashboard) subscribe. With no upstream, our own BITS
 * server runs on an internal loopback port as the upstream. This is the only place
 * that knows every part; `npm start`, the gateway command and the end-to-end tests
 * all start bitsgate through it.
 */
import type pino from 'pino';
import { startDashboard, type DashboardHandle } from './dashboard/index.js';
import { hostname } from 'node:os';
import { EventBus } from './event-bus.js';
import { FLEET_DEFAULTS, FleetLink } from './fleet/fleet-link.js';
import { registerFleetMetrics } from './fleet/metrics.js';
import { RebuildableTracker } from './fleet/rebuildable-tracker.js';
import type { SecureContextOptions } from 'node:tls';
import {
  GATEWAY_DEFAULTS, RouteTable, startGateway, upstreamSecureContext, upstreamTarget, type Gateway, type TlsCredentials, type UpstreamTlsSettings,
} from './gateway/index.js';
import { InjectionRegistry, type InjectionPolicy } from './inject/registry.js';
import { registryControl } from './dashboard/injection-control.js';
import { Inspector } from './inspector.js';
import type { ObservationSink } from './observation.js';
import { startBitsServer, type BitsServer, type ReplyMode } from './server/index.js';
import { SessionTracker, type SessionTrackerOptions } from './sessions/tracker.js';
import { subscribeEventLog } from './sinks/event-log.js';
import { BitsgateMetrics } from './sinks/metrics.js';
import { Recorder } from './sinks/recorder.js';
import { TlsErrorLog } from './sinks/tls-error-log.js';
import { RequestLog } from './sinks/request-log.js';
import type { ListenAddress } from './util/option-values.js';

export interface EmbeddedServerOptions {
  root: string;
  listen?: ListenAddress;
  replyMode?: ReplyMode;
  /** With replyMode, only URLs under this path are upload-reply (like one IIS vdir). */
  replyPrefix?: string;
  maxUpload?: number;
  allowOverwrite?: boolean;
}

export interface AppOptions {
  /** The BITS server to inspect (the default route). Absent, and no `routes`: start the embedded server (`embedded`) and use it. */
  upstream?: URL;
  /** Farm nodes by host name (`--route HOST=URL`). */
  routes?: Array<[host: string, url: URL]>;
  /** TLS towards https:// upstreams. */
  upstreamTls?: UpstreamTlsSettings;
  /** TLS towards clients on the gateway listener. */
  tls?: { credentials: TlsCredentials; handshakeTimeoutMs?: number; watchIntervalMs?: number };
  /** Serve the dashboard over HTTPS with this certificate. */
  dashboardTls?: SecureContextOptions;
  embedded?: EmbeddedServerOptions;
  listen?: ListenAddress;
  upstreamTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  forwardedHeaders?: boolean;
  /** Dashboard listener; `false` disables the dashboard. */
  dashboard?: ListenAddress | false;
  dashboardToken?: string;
  /** Extra Host names the dashboard accepts (DNS names of this machine). */
  dashboardAllowedHosts?: string[];
  /**
   * `--control`: the dashboard may list, add and remove the rules of `injections` (writes need
   * `Authorization: Bearer <token>`), which must then be an InjectionRegistry: what the
   * dashboard edits is what the gateway consults, by construction.
   */
  control?: { token: string };
  /** Append every observation to this NDJSON file. */
  record?: string;
  tracker?: SessionTrackerOptions;
  /** Join a fleet: share observations through a Redis stream (src/fleet). */
  fleet?: FleetAppOptions;
  /** How often idle sessions are checked for expiry. */
  expiryIntervalMs?: number;
  /** Fault injection (`--inject`, `inject:` in the config file): consulted per request only when given. */
  injections?: InjectionPolicy;
  logger: pino.Logger;
}

export interface FleetAppOptions {
  /** redis://HOST:PORT[/DB] or rediss://... */
  url: string;
  stream?: string;
  /** Default: hostname:port of the gateway listener. */
  node?: string;
  backlog?: number;
  maxLen?: number;
  reorderWindowMs?: number;
  connectTimeoutMs?: number;
  /** A publish batch or stream read this late (past its due time) means a hung Redis. */
  commandTimeoutMs?: number;
  /** After an outage, time given to other nodes' backlogs before the rebuild. */
  rebuildSettleMs?: number;
}

export interface App {
  gateway: Gateway;
  /** The default upstream (the embedded server's URL when none was given; absent with routes only). */
  upstream: URL | undefined;
  routes: RouteTable;
  embeddedServer?: BitsServer;
  dashboard?: DashboardHandle;
  /** Present with `--control`: the token writes need, and the rules they edit (the app's `injections`). */
  control?: { token: string; registry: InjectionRegistry };
  tracker: SessionTracker;
  bus: EventBus;
  metrics: BitsgateMetrics;
  /** SIGTERM: stop accepting, let exchanges in flight finish within `graceMs`, then close(). */
  shutdown(graceMs: number): Promise<void>;
  /** Present with `fleet`: the link to the other gateways. */
  fleet?: FleetLink;
  /** The fault-injection policy the gateway consults, when one was given. */
  injections?: InjectionPolicy;
  close(): Promise<void>;
}

export const APP_DEFAULTS = {
  dashboard: { host: '127.0.0.1', port: 8081 } as ListenAddress,
  embeddedRoot: './uploads',
  /** The embedded server hosts plain uploads everywhere and upload-reply under /reply/. */
  embeddedReplyPrefix: '/reply/',
  expiryIntervalMs: 60_000,
} as const;

/**
 * Everything but the listener: the embedded server, tracker, inspector, event bus, sinks,
 * dashboard and fleet link. startApp puts the gateway in front of it; the primary of
 * `--workers N` (src/workers/) runs it alone and feeds `sinks` with its workers' observations.
 */
export interface AppCore {
  upstream: URL | undefined;
  embeddedServer?: BitsServer;
  tracker: SessionTracker;
  bus: EventBus;
  metrics: BitsgateMetrics;
  /** Where observations go: the inspector (or the fleet link), metrics, request log, recorder. */
  sinks: ObservationSink[];
  dashboard?: DashboardHandle;
  /** Present with `--control` (see App.control). */
  control?: App['control'];
  fleet?: FleetLink;
  tlsLog: TlsErrorLog;
  /** Runs `fn` first on close() (closers run newest first). */
  onClose(fn: () => Promise<void> | void): void;
  close(): Promise<void>;
}

export async function startCore(options: AppOptions): Promise<AppCore> {
  const { logger } = options;
  const closers: Array<() => Promise<void> | void> = [];
  let closing: Promise<void> | undefined;
  // Idempotent: a second signal during a graceful shutdown closes at once, not twice.
  const close = () => (closing ??= (async () => {
    for (const fn of closers.reverse()) {
      try {
        await fn();
      } catch (err) {
        logger.warn({ err }, 'error while shutting down');
      }
    }
  })());
  try {
    let upstream = options.upstream;
    let embeddedServer: BitsServer | undefined;
    if (!upstream && !options.routes?.length) {
      const embedded = options.embedded ?? {
        root: APP_DEFAULTS.embeddedRoot,
        replyMode: 'sha256',
        replyPrefix: APP_DEFAULTS.embeddedReplyPrefix,
      };
      embeddedServer = await startBitsServer({
        root: embedded.root,
        listen: embedded.listen ?? { host: '127.0.0.1', port: 0 },
        replyMode: embedded.replyMode,
        replyPrefix: embedded.replyPrefix,
        maxUpload: embedded.maxUpload,
        allowOverwrite: embedded.allowOverwrite,
        logger: logger.child({ component: 'server' }),
      });
      closers.push(() => embeddedServer!.close());
      upstream = new URL(embeddedServer.url);
    }

    const bus = new EventBus((err, event) =>
      logger.error({ err, eventType: event.type }, 'event sink failed'),
    );
    // In a fleet the tracker can be rebuilt from the stream after a Redis outage (src/fleet):
    // everything reads it through the RebuildableTracker then.
    const rebuildable = options.fleet ? new RebuildableTracker(options.tracker, bus) : undefined;
    const tracker = rebuildable ?? new SessionTracker(options.tracker);
    const inspector = new Inspector(tracker, bus);
    inspector.startExpiry(options.expiryIntervalMs ?? APP_DEFAULTS.expiryIntervalMs);
    closers.push(() => inspector.stopExpiry());

    const metrics = new BitsgateMetrics({ stats: () => tracker.stats() });
    closers.push(metrics.attach(bus));
    closers.push(subscribeEventLog(bus, logger.child({ component: 'sessions' })));

    // In a fleet the tracker's one input is the shared stream (own observations come back
    // through it); the fleet link stands where the inspector stands otherwise. begin() is
    // not used: exchange ids are per process, so close-while-busy is judged from start/end
    // times, as analyze does.
    let fleet: FleetLink | undefined;
    if (options.fleet) {
      const f = options.fleet;
      const fleetLogger = logger.child({ component: 'fleet' });
      fleet = new FleetLink({
        url: f.url,
        stream: f.stream ?? FLEET_DEFAULTS.stream,
        node: f.node ?? defaultNodeId(options.listen),
        backlog: f.backlog ?? FLEET_DEFAULTS.backlog,
        maxLen: f.maxLen ?? FLEET_DEFAULTS.maxLen,
        reorderWindowMs: f.reorderWindowMs ?? FLEET_DEFAULTS.reorderWindowMs,
        connectTimeoutMs: f.connectTimeoutMs ?? FLEET_DEFAULTS.connectTimeoutMs,
        ...(f.commandTimeoutMs !== undefined && { commandTimeoutMs: f.commandTimeoutMs }),
        ...(f.rebuildSettleMs !== undefined && { rebuildSettleMs: f.rebuildSettleMs }),
        apply: (obs) => bus.publish(tracker.observe(obs)),
        onOutage: () => rebuildable!.markOutage(),
        rebuild: () => rebuildable!.rebuild(),
        applyClosed: (closed) => {
          const events = tracker.connectionClosed(closed);
          if (events.length > 0) bus.publish(events);
        },
        log: { info: (o, m) => fleetLogger.info(o, m), warn: (o, m) => fleetLogger.warn(o, m) },
      });
      const link = fleet;
      closers.push(() => link.close());
      registerFleetMetrics(metrics.registry, () => link.stats());
      await fleet.start();
    }

    const requestLog = new RequestLog(logger.child({ component: 'gateway' }));
    const sinks: ObservationSink[] = [fleet ?? inspector, metrics, requestLog];
    if (options.record) {
      const recorder = await Recorder.open(options.record);
      closers.push(() => recorder.close());
      sinks.push(recorder);
    }

    const control = liveControl(options);

    let dashboard: DashboardHandle | undefined;
    if (options.dashboard !== false) {
      dashboard = await startDashboard({
        listen: options.dashboard ?? APP_DEFAULTS.dashboard,
        source: tracker,
        bus,
        metrics,
        token: options.dashboardToken,
        allowedHosts: options.dashboardAllowedHosts,
        ...(options.dashboardTls && { tls: options.dashboardTls }),
        ...(fleet ? { extraStats: () => ({ fleet: fleet!.stats() }) } : {}),
        ...(control && { control: { control: registryControl(control.registry), token: control.token } }),
      });
      closers.push(() => dashboard!.close());
      if (rebuildable) rebuildable.onReplaced = () => dashboard!.hub.reset();
    }

    const tlsLog = new TlsErrorLog(logger.child({ component: 'tls' }), metrics.registry);
    return {
      upstream, embeddedServer, bus, metrics, sinks, dashboard, tlsLog, ...(control && { control }),
      // A getter: in a fleet the rebuild after an outage swaps the tracker (read it on each use).
      get tracker() {
        return rebuildable ? rebuildable.current : (tracker as SessionTracker);
      },
      ...(fleet ? { fleet } : {}),
      onClose: (fn) => void closers.push(fn),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** `--control`'s token and the registry it edits (the gateway's injections), checked; undefined without it. */
function liveControl(options: AppOptions): App['control'] {
  if (!options.control) return undefined;
  if (options.dashboard === false) throw new RangeError('control: needs the dashboard');
  if (!(options.injections instanceof InjectionRegistry)) throw new RangeError('control: needs an InjectionRegistry as the injections');
  return { token: options.control.token, registry: options.injections };
}

export async function startApp(options: AppOptions): Promise<App> {
  const { logger } = options;
  const core = await startCore(options);
  try {
    const { upstream, tlsLog } = core;
    const routes = buildRoutes(upstream, options.routes ?? [], options.upstreamTls ?? {});
    const gateway = await startGateway({
      routes,
      ...(options.tls && {
        tls: {
          ...options.tls,
          onTlsError: (r) => tlsLog.report(r),
          onReload: () => logger.info('tls: certificates reloaded'),
        },
      }),
      listen: options.listen,
      upstreamTimeoutMs: options.upstreamTimeoutMs,
      headersTimeoutMs: options.headersTimeoutMs,
      bodyTimeoutMs: options.bodyTimeoutMs,
      forwardedHeaders: options.forwardedHeaders,
      sinks: core.sinks,
      onSinkError: (err, phase) => logger.error({ err, phase }, 'observation sink failed'),
      ...(options.injections && { injections: options.injections }),
    });
    core.onClose(() => gateway.close());

    const shutdown = async (graceMs: number) => {
      await gateway.shutdown(graceMs);
      await core.close();
    };
    return {
      gateway, upstream, routes, embeddedServer: core.embeddedServer, dashboard: core.dashboard, bus: core.bus,
      metrics: core.metrics, ...(core.fleet ? { fleet: core.fleet } : {}), ...(options.injections ? { injections: options.injections } : {}),
      ...(core.control && { control: core.control }), shutdown, close: core.close,
      get tracker() {
        return core.tracker;
      },
    };
  } catch (err) {
    await core.close();
    throw err;
  }
}

/** `--node-id` default: hostname:port of the gateway (hostname:pid when the port is picked at random). */
export function defaultNodeId(listen: ListenAddress | undefined): string {
  const port = listen?.port ?? GATEWAY_DEFAULTS.listen.port;
  return port === 0 ? `${hostname()}:pid${process.pid}` : `${hostname()}:${port}`;
}

/** The default upstream and the farm routes; one TLS context shared by every https:// upstream. */
export function buildRoutes(upstream: URL | undefined, routes: Array<[string, URL]>, tlsSettings: UpstreamTlsSettings): RouteTable {
  const anyHttps = [upstream, ...routes.map(([, url]) => url)].some((url) => url?.protocol === 'https:');
  const context = anyHttps ? upstreamSecureContext(tlsSettings) : undefined;
  // --upstream-servername names the default upstream (an IP in its URL); routes are named by their URL.
  const fallback = upstream ? upstreamTarget(upstream, tlsSettings, tlsSettings.servername, context) : undefined;
  return new RouteTable(routes.map(([host, url]) => [host, upstreamTarget(url, tlsSettings, undefined, context)] as const), fallback);
}
