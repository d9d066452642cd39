import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/config-file.js';
import { EDGE_HELP, EDGE_OPTION_SPECS, parseEdgeOptions, type EdgeOptions } from '../config/edge-options.js';
import type { UpstreamTlsSettings } from '../gateway/index.js';
import { type CertificateSource, CredentialError, explainCredentialError, loadSource } from '../gateway/tls-credentials.js';
import type { DashboardHandle } from '../dashboard/index.js';
import { generateToken } from '../dashboard/access-control.js';
import { APP_DEFAULTS, startApp, type App, type AppOptions } from '../app.js';
import { isRedisUrl } from '../fleet/connection.js';
import { FLEET_DEFAULTS } from '../fleet/fleet-link.js';
import { GATEWAY_DEFAULTS } from '../gateway/index.js';
import { TRACKER_DEFAULTS } from '../sessions/tracker.js';
import { createLogger, isLogLevel, LOG_LEVELS, type LogLevel } from '../sinks/logger.js';
import {
  type ListenAddress, parseBytes, parseInteger, parseListen, parsePositiveDuration, parseUpstreamUrl, UsageError,
} from '../util/option-values.js';
import { WORKER_DEFAULTS, WORKER_SLOT_ENV } from '../workers/messages.js';
import { checkRootOption, parseDashboardOptions } from './app-options.js';
import type { Command } from './command.js';
import { injectionRuleErrorLine, startupErrorLine } from './startup-errors.js';
import { InjectionRegistry, type InjectionOrigin } from '../inject/registry.js';
import type { InjectionRule } from '../inject/rule.js';
import { INJECTION_GRAMMAR_HELP, InjectionRuleError, parseInjectionRule } from '../inject/rule-syntax.js';

/**
 * `bitsgate [gateway]`: parse options (parseGatewayArgs), then start everything through
 * startApp (src/app.ts) and print where it listens. Without --upstream, our own BITS
 * server runs as the upstream on an internal loopback port (the `npm start` default).
 */

export interface GatewayCommandOptions {
  /** Absent: run our own BITS server as the upstream (root `embeddedRoot`). */
  upstream: URL | undefined;
  embeddedRoot: string;
  listen: ListenAddress;
  upstreamTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  forwardedHeaders: boolean;
  /** false: no dashboard. */
  dashboard: ListenAddress | false;
  dashboardToken: string | undefined;
  dashboardAllowedHosts: string[];
  maxSessions: number;
  /** Byte budget of the session tracker (SessionTrackerOptions.maxSessionMemory). */
  maxSessionMemory: number;
  sessionTimeoutMs: number;
  record: string | undefined;
  /** --fleet: share sessions with other gateways through Redis. */
  fleet: { url: string; stream: string; node: string | undefined; backlog: number } | undefined;
  logLevel: LogLevel;
  /** undefined: pretty only when stdout is a terminal. */
  pretty: boolean | undefined;
  /** TLS on both sides, farm routes, shutdown grace (src/config/edge-options.ts). */
  edge: EdgeOptions;
  /** `--control`: injection rules editable from the dashboard; the token from this file, or generated. */
  control: { tokenFile: string | undefined } | undefined;
  /** Fault-injection rules (`--inject`, `inject:` in the config file), in order. */
  inject: Array<{ rule: InjectionRule; origin: InjectionOrigin }>;
  /** --workers: gateway processes on the listening port (1: this process alone, no cluster). */
  workers: number;
}

/** Below this the tracker could hold only a few sessions with large heads. */
export const MIN_SESSION_MEMORY = 16 * 1024 * 1024;
const MAX_SESSION_MEMORY = 1024 ** 4;

function formatMiB(bytes: number): string {
  return `${bytes / 1024 / 1024}MiB`;
}

function parseSessionMemory(raw: string): number {
  const n = parseBytes('--max-session-memory', raw);
  if (n < MIN_SESSION_MEMORY || n > MAX_SESSION_MEMORY) {
    throw new UsageError(`--max-session-memory: expected ${formatMiB(MIN_SESSION_MEMORY)} to 1TiB, got ${JSON.stringify(raw)}`);
  }
  return n;
}

const HELP = `bitsgate gateway: inspecting reverse proxy for BITS uploads (the default command)

Usage:
  bitsgate [gateway] [--upstream http(s)://HOST:PORT] [options]
  bitsgate [gateway] --config bitsgate.yaml [options]

Forwards every request (BITS_POST, GET, HEAD, ...) to the upstream server byte-exactly,
one upstream connection per client connection (NTLM/Negotiate keep working), decodes
every BITS packet and Ack, tracks upload sessions, reports protocol violations (invalid
Close-Session above all) in the log and on the live dashboard.

Without --upstream, bitsgate starts its own BITS upload server on an internal loopback
port as the upstream (root --root, upload-reply under ${APP_DEFAULTS.embeddedReplyPrefix}): the npm start default.

Options:
  --upstream URL            upstream BITS server, http://HOST:PORT or https://HOST; a path
                            prefix is kept
  --root DIR                upload root of the embedded server when no --upstream
                            (default ${APP_DEFAULTS.embeddedRoot})
  --listen HOST:PORT        address to listen on (default ${GATEWAY_DEFAULTS.listen.host}:${GATEWAY_DEFAULTS.listen.port})
  --dashboard HOST:PORT     dashboard address (default ${APP_DEFAULTS.dashboard.host}:${APP_DEFAULTS.dashboard.port})
  --no-dashboard            run without the dashboard
  --dashboard-token TOKEN   token the dashboard demands; required off loopback (one is
                            generated and printed when absent)
  --dashboard-allowed-host NAME
                            also accept this Host name for the dashboard (a DNS name
                            of this machine; repeatable). IP literals of the bind
                            address are always accepted
  --control                 live control (off by default): the dashboard may add and
                            remove fault-injection rules (GET/POST /api/injections,
                            DELETE /api/injections/ID). Writes need Authorization: Bearer
                            with the control token, even on loopback
  --control-token-file FILE the control token (first line, 16 to 256 visible ASCII
                            characters); without it one is generated and printed once
  --upstream-timeout DUR    no upstream progress for this long -> 504 (default ${GATEWAY_DEFAULTS.upstreamTimeoutMs / 1000}s)
  --headers-timeout DUR     a request head not complete in time closes the connection (default ${GATEWAY_DEFAULTS.headersTimeoutMs / 1000}s)
  --body-timeout DUR        a request body that stops arriving for this long -> 408
                            (default ${GATEWAY_DEFAULTS.bodyTimeoutMs / 1000}s)
  --no-forwarded-headers    do not set X-Forwarded-For/-Proto/-Host (by default they are set,
                            replacing any the client sent)
  --max-sessions N          sessions kept in memory, least recently active evicted beyond
                            (default ${TRACKER_DEFAULTS.maxSessions})
  --max-session-memory SIZE memory the session tracker may hold (sessions, timelines, retained
                            headers), least recently active sessions evicted beyond; at least
                            ${formatMiB(MIN_SESSION_MEMORY)} (default ${formatMiB(TRACKER_DEFAULTS.maxSessionMemory)}; the whole process needs about
                            twice this plus ~100 MiB)
  --session-timeout DUR     idle time after which a session counts as expired
                            (default ${TRACKER_DEFAULTS.sessionTimeoutMs / 86_400_000}d, as IIS BITSSessionTimeout)
  --record FILE             append every exchange to FILE as NDJSON (bodies never recorded);
                            replay it with 'bitsgate analyze FILE'
  --fleet URL               join a fleet: redis://HOST:PORT[/DB] or rediss://... Every gateway
                            of the fleet appends its exchanges to one Redis stream and tracks
                            the merged stream, so each shows every session of the fleet
  --fleet-stream NAME       the fleet's stream (default ${FLEET_DEFAULTS.stream})
  --node-id NAME            this gateway's name in the fleet (default HOSTNAME:PORT)
  --fleet-backlog N         exchanges kept while Redis is unreachable (tracked locally
                            meanwhile); beyond, the oldest are not shared and are counted
                            (default ${FLEET_DEFAULTS.backlog})
  --log-level LEVEL         ${LOG_LEVELS.join(', ')} (default info). At info: violations,
                            session lifecycle, every failed exchange, and one sampled
                            line per second for exchanges that went through ('sampled',
                            'skipped' fields). At debug: a line for every exchange, with
                            its (redacted) headers
  --pretty                  human-readable log lines (default when stdout is a terminal)
  --inject RULE             make a rare fault happen now, to debug a client (repeatable;
                            grammar below). Every injected fault is marked in the log, the
                            recording, the metrics and the dashboard, and never blamed on
                            the client or the server
  --workers N               run N gateway processes on the listening port (node:cluster,
                            1 to ${WORKER_DEFAULTS.maxWorkers}; default 1: this process alone). Each owns whole
                            client connections; this process runs the tracker, dashboard,
                            log, metrics and recorder and gets their observations over IPC
  -h, --help                this text

${EDGE_HELP}

${INJECTION_GRAMMAR_HELP}

Durations: 30 (seconds), 500ms, 30s, 5m, 2h, 14d. Sizes: 268435456, 512k, 256MiB, 1g.`;

export function parseGatewayArgs(args: string[]): GatewayCommandOptions {
  const { values, positionals, tokens } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    tokens: true,
    options: {
      ...EDGE_OPTION_SPECS,
      config: { type: 'string' },
      upstream: { type: 'string' },
      root: { type: 'string' },
      listen: { type: 'string' },
      dashboard: { type: 'string' },
      'no-dashboard': { type: 'boolean' },
      'dashboard-token': { type: 'string' },
      'dashboard-allowed-host': { type: 'string', multiple: true },
      'upstream-timeout': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'body-timeout': { type: 'string' },
      'no-forwarded-headers': { type: 'boolean' },
      'max-sessions': { type: 'string' },
      'max-session-memory': { type: 'string' },
      'session-timeout': { type: 'string' },
      record: { type: 'string' },
      fleet: { type: 'string' },
      'fleet-stream': { type: 'string' },
      'node-id': { type: 'string' },
      'fleet-backlog': { type: 'string' },
      'log-level': { type: 'string' },
      pretty: { type: 'boolean' },
      control: { type: 'boolean' },
      'control-token-file': { type: 'string' },
      inject: { type: 'string', multiple: true },
      workers: { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.config !== undefined) return withConfigFile(values.config, args, tokens);
  const logLevel = values['log-level'] ?? 'info';
  if (!isLogLevel(logLevel)) throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const duration = (name: string, fallback: number): number => {
    const raw = values[name as keyof typeof values] as string | undefined;
    return raw === undefined ? fallback : parsePositiveDuration(`--${name}`, raw);
  };
  if (values.record === '') throw new UsageError('--record: expected a file name');
  checkRootOption(values);
  if (values['control-token-file'] !== undefined && !values.control) throw new UsageError('--control-token-file: needs --control');
  if (values['control-token-file'] === '') throw new UsageError('--control-token-file: expected a file name');
  if (values.control && values['no-dashboard']) throw new UsageError('--control: needs the dashboard; it cannot go with --no-dashboard');
  const { dashboard, dashboardToken } = parseDashboardOptions(values);
  if (values.fleet !== undefined && !isRedisUrl(values.fleet)) {
    throw new UsageError(`--fleet: expected redis://HOST:PORT[/DB] or rediss://..., got ${JSON.stringify(values.fleet.slice(0, 100))}`);
  }
  if (values.fleet === undefined && (values['fleet-stream'] ?? values['node-id'] ?? values['fleet-backlog']) !== undefined) {
    throw new UsageError('--fleet-stream, --node-id and --fleet-backlog need --fleet');
  }
  for (const name of ['fleet-stream', 'node-id'] as const) {
    const v = values[name];
    if (v !== undefined && !/^[\x21-\x7e]{1,200}$/.test(v)) throw new UsageError(`--${name}: expected 1 to 200 visible ASCII characters`);
  }
  // The injection registry lives in one process; the workers' forwarders cannot consult it yet.
  const workers = values.workers !== undefined ? parseInteger('--workers', values.workers, 1, WORKER_DEFAULTS.maxWorkers) : 1;
  if (workers > 1 && (values.inject?.length || values.control)) {
    throw new UsageError('--inject and --control: not available with --workers above 1 yet (the rules live in one process)');
  }
  return {
    upstream: values.upstream !== undefined ? parseUpstreamUrl('--upstream', values.upstream) : undefined,
    embeddedRoot: values.root ?? APP_DEFAULTS.embeddedRoot,
    listen: values.listen !== undefined ? parseListen('--listen', values.listen) : { ...GATEWAY_DEFAULTS.listen },
    upstreamTimeoutMs: duration('upstream-timeout', GATEWAY_DEFAULTS.upstreamTimeoutMs),
    headersTimeoutMs: duration('headers-timeout', GATEWAY_DEFAULTS.headersTimeoutMs),
    bodyTimeoutMs: duration('body-timeout', GATEWAY_DEFAULTS.bodyTimeoutMs),
    forwardedHeaders: !values['no-forwarded-headers'],
    dashboard,
    dashboardToken,
    dashboardAllowedHosts: (values['dashboard-allowed-host'] ?? []).map((h) => {
      if (!/^[A-Za-z0-9.-]{1,253}$/.test(h)) {
        throw new UsageError(`--dashboard-allowed-host: expected a host name, got ${JSON.stringify(h)}`);
      }
      return h.toLowerCase();
    }),
    maxSessions: values['max-sessions'] !== undefined
      ? parseInteger('--max-sessions', values['max-sessions'], 1, 10_000_000)
      : TRACKER_DEFAULTS.maxSessions,
    maxSessionMemory: values['max-session-memory'] !== undefined
      ? parseSessionMemory(values['max-session-memory'])
      : TRACKER_DEFAULTS.maxSessionMemory,
    sessionTimeoutMs: duration('session-timeout', TRACKER_DEFAULTS.sessionTimeoutMs),
    record: values.record,
    fleet: values.fleet === undefined ? undefined : {
      url: values.fleet,
      stream: values['fleet-stream'] ?? FLEET_DEFAULTS.stream,
      node: values['node-id'],
      backlog: values['fleet-backlog'] !== undefined
        ? parseInteger('--fleet-backlog', values['fleet-backlog'], 1, 100_000_000)
        : FLEET_DEFAULTS.backlog,
    },
    logLevel,
    pretty: values.pretty ? true : undefined,
    edge: parseEdgeOptions(values),
    control: values.control ? { tokenFile: values['control-token-file'] } : undefined,
    inject: (values.inject ?? []).map((text) => ({ rule: parseRule(text), origin: 'cli' as InjectionOrigin })),
    workers,
  };
}

function parseRule(text: string): InjectionRule {
  try {
    return parseInjectionRule(text);
  } catch (err) {
    if (err instanceof InjectionRuleError) throw new UsageError(injectionRuleErrorLine(err));
    throw err;
  }
}

/**
 * The config file's options, then the command line's: a key given on the command line
 * replaces the file's whole (a `--route` there replaces every route of the file).
 */
function withConfigFile(file: string, args: string[], tokens: ReadonlyArray<{ kind: string; name?: string; index: number }>): GatewayCommandOptions {
  const fromFile = loadConfigFile(file, (fileArgs) => void parseGatewayArgs(fileArgs));
  const onCommandLine = new Set(tokens.flatMap((t) => (t.kind === 'option' && t.name !== undefined ? [t.name] : [])));
  const configAt = new Set(tokens.flatMap((t) => (t.kind === 'option' && t.name === 'config' ? [t.index] : [])));
  // Drop `--config FILE` / `--config=FILE` from the command line.
  const rest = args.filter((arg, i) => !configAt.has(i) && !(configAt.has(i - 1) && !args[i - 1]!.includes('=')));
  const merged = [...fromFile.filter(([key]) => !onCommandLine.has(key)).flatMap(([, a]) => a), ...rest];
  const opts = parseGatewayArgs(merged);
  // The file's rules come first in `merged` (unless the command line replaced them).
  const fromConfig = onCommandLine.has('inject') ? 0 : (fromFile.find(([key]) => key === 'inject')?.[1].length ?? 0) / 2;
  for (let i = 0; i < fromConfig; i++) opts.inject[i]!.origin = 'config';
  return opts;
}

/** Reads the upstream CA and client certificate named on the command line. */
export async function readUpstreamTls(edge: EdgeOptions): Promise<UpstreamTlsSettings> {
  const t = edge.upstreamTls;
  const read = async (option: string, file: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new UsageError(`${option}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  return {
    ...(t.caFile !== undefined && { ca: await read('--upstream-ca', t.caFile) }),
    ...(t.servername !== undefined && { servername: t.servername }),
    ...(t.insecure && { insecure: true }),
    ...(t.certFile !== undefined && { cert: await read('--upstream-cert', t.certFile) }),
    ...(t.keyFile !== undefined && { key: await read('--upstream-key', t.keyFile) }),
  };
}

/** Re-reads the dashboard's certificate files; a broken renewal keeps the old certificate. */
export async function reloadDashboardTls(
  dashboard: DashboardHandle, source: CertificateSource, logger: ReturnType<typeof createLogger>,
): Promise<void> {
  try {
    dashboard.setTls(await loadSource(source));
    logger.info('dashboard certificate reloaded');
  } catch (err) {
    logger.error({ err: explainCredentialError(err) }, 'dashboard certificate reload failed; keeping the old certificate');
  }
}

/** The control token from --control-token-file: its first line, 16 to 256 visible ASCII characters. */
export async function readControlToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--control-token-file: cannot read ${file}: ${(err as Error).message}`);
  }
  const token = text.split(/\r?\n/, 1)[0]!.trim();
  // Never echo the file's content: it is a secret, even when malformed.
  if (!/^[\x21-\x7e]{16,256}$/.test(token)) {
    throw new UsageError(`--control-token-file: ${file}: expected 16 to 256 visible ASCII characters on its first line`);
  }
  return token;
}

/** Starts bitsgate with parsed command options (the logger is the caller's). */
export async function startFromOptions(opts: GatewayCommandOptions, logger: ReturnType<typeof createLogger>): Promise<App> {
  return startApp(await appOptionsFrom(opts, logger));
}

/** The command's options as src/app.ts takes them (files read: upstream CA, dashboard certificate). */
export async function appOptionsFrom(opts: GatewayCommandOptions, logger: ReturnType<typeof createLogger>): Promise<AppOptions> {
  const { edge } = opts;
  const controlToken = opts.control
    ? opts.control.tokenFile !== undefined ? await readControlToken(opts.control.tokenFile) : generateToken()
    : undefined;
  // One registry: --inject and the config file fill it, --control edits it live.
  const injections = opts.inject.length > 0 || controlToken !== undefined ? injectionRegistry(opts.inject) : undefined;
  const upstreamTls = await readUpstreamTls(edge);
  const dashboardTls = edge.dashboardTls ? await loadSource(edge.dashboardTls) : undefined;
  return {
    logger,
    upstream: opts.upstream,
    routes: edge.routes,
    upstreamTls,
    ...(edge.tls && { tls: edge.tls }),
    ...(dashboardTls && { dashboardTls }),
    embedded: opts.upstream || edge.routes.length ? undefined : {
      root: opts.embeddedRoot,
      replyMode: 'sha256',
      replyPrefix: APP_DEFAULTS.embeddedReplyPrefix,
    },
    listen: opts.listen,
    upstreamTimeoutMs: opts.upstreamTimeoutMs,
    headersTimeoutMs: opts.headersTimeoutMs,
    bodyTimeoutMs: opts.bodyTimeoutMs,
    forwardedHeaders: opts.forwardedHeaders,
    dashboard: opts.dashboard,
    dashboardToken: opts.dashboardToken,
    dashboardAllowedHosts: opts.dashboardAllowedHosts,
    ...(controlToken !== undefined && { control: { token: controlToken } }),
    record: opts.record,
    ...(opts.fleet ? { fleet: { url: opts.fleet.url, stream: opts.fleet.stream, backlog: opts.fleet.backlog, ...(opts.fleet.node ? { node: opts.fleet.node } : {}) } } : {}),
    tracker: { maxSessions: opts.maxSessions, maxSessionMemory: opts.maxSessionMemory, sessionTimeoutMs: opts.sessionTimeoutMs },
    ...(injections && { injections }),
  };
}

/** The registry the gateway consults, filled from --inject / the config file. Only built when there are rules. */
export function injectionRegistry(rules: GatewayCommandOptions['inject']): InjectionRegistry {
  const registry = new InjectionRegistry();
  for (const { rule, origin } of rules) registry.add(rule, origin);
  return registry;
}

/** The lines printed on stderr once everything listens: where to look and what to paste. */
export function banner(
  app: Pick<App, 'upstream' | 'embeddedServer' | 'dashboard' | 'fleet' | 'control'> & { gateway: { url: string } },
  opts: GatewayCommandOptions,
): string {
  const gw = app.gateway.url;
  const lines = [
    '',
    `bitsgate gateway   ${gw}${opts.workers > 1 ? ` (${opts.workers} workers)` : ''}   ->   upstream ${app.upstream?.origin ?? '(none: routes only)'}${app.embeddedServer ? ` (embedded BITS server, root ${opts.embeddedRoot})` : ''}`,
  ];
  for (const [host, url] of opts.edge.routes) lines.push(`  route            ${host}   ->   ${url.origin}`);
  if (app.dashboard) lines.push(`dashboard          ${app.dashboard.url}`);
  if (app.control) {
    // Printed here once (stderr), never in the JSON log.
    lines.push(opts.control?.tokenFile !== undefined
      ? `live control       ON: writes need Authorization: Bearer <the token in ${opts.control.tokenFile}>`
      : `live control       ON: control token ${app.control.token}   (Authorization: Bearer; the dashboard asks for it once)`);
  }
  if (opts.record) lines.push(`recording to       ${opts.record}`);
  for (const { rule } of opts.inject) lines.push(`injecting          ${rule.text}`);
  if (app.fleet) {
    const f = app.fleet.stats();
    lines.push(`fleet              node ${f.node}, stream ${f.stream}${f.connected ? '' : ' (Redis unreachable: tracking locally)'}`);
  }
  lines.push('', 'Try it:');
  lines.push(`  npx bitsgate upload ${gw}/uploads/hello.txt package.json`);
  if (app.embeddedServer) {
    lines.push(`  npx bitsgate upload ${gw}${APP_DEFAULTS.embeddedReplyPrefix}hello.txt package.json   # upload-reply`);
    lines.push(`  npx bitsgate demo --gateway ${gw}   # many clients, some misbehaving on purpose`);
  }
  lines.push('');
  return lines.join('\n');
}

/**
 * Once everything listens: the `gateway listening` log line, the --upstream-insecure
 * warning and the banner (one process, or the primary of `--workers N`).
 */
export function announceListening(logger: ReturnType<typeof createLogger>, app: Parameters<typeof banner>[0], opts: GatewayCommandOptions): void {
  logger.info({
    listen: app.gateway.url,
    ...(opts.workers > 1 && { workers: opts.workers }),
    upstream: app.upstream?.origin,
    routes: Object.fromEntries(opts.edge.routes.map(([host, url]) => [host, url.origin])),
    tls: Boolean(opts.edge.tls),
    embedded: Boolean(app.embeddedServer),
    dashboard: app.dashboard?.url.replace(/\?token=.*/, ''),
    control: Boolean(app.control),
    record: opts.record,
    fleet: app.fleet ? { node: app.fleet.stats().node, stream: app.fleet.stats().stream } : undefined,
  }, 'gateway listening');
  if (opts.edge.upstreamTls.insecure) {
    logger.warn('--upstream-insecure: upstream certificates are NOT verified; anyone on the path can impersonate the server');
  }
  process.stderr.write(banner(app, opts) + '\n');
}

/** The next SIGINT or SIGTERM (handlers installed at the call). */
export function nextStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/** One line for a failure to start that is the user's to fix; undefined for a bug (rethrown with its stack). */
export function startFailureLine(err: unknown): string | undefined {
  const line = startupErrorLine(err);
  if (line !== undefined) return line;
  const e = err as { code?: string; message?: string };
  if (err instanceof CredentialError || err instanceof UsageError) return e.message;
  if (e.code === 'EISDIR' || e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'ENOTDIR') return e.message;
  return undefined;
}

export const command: Command = {
  name: 'gateway',
  summary: 'forward BITS traffic to an upstream server and inspect it (default)',
  help: HELP,
  async run(args) {
    const opts = parseGatewayArgs(args);
    const logger = createLogger({ level: opts.logLevel, ...(opts.pretty !== undefined ? { pretty: opts.pretty } : {}) });
    // --workers N > 1: this process is the cluster's primary, or one of its workers
    // (src/workers/). --workers 1 is the single process below, with no cluster at all.
    if (opts.workers > 1 || process.env[WORKER_SLOT_ENV] !== undefined) {
      const { runWorkers } = await import('../workers/index.js');
      return runWorkers(opts, logger);
    }
    let app: App;
    try {
      app = await startFromOptions(opts, logger);
    } catch (err) {
      const line = startFailureLine(err);
      if (line === undefined) throw err;
      process.stderr.write(`bitsgate gateway: ${line}\n`);
      return 1;
    }
    // Listen for the stop signal before saying we listen: a SIGTERM sent as soon as the line
    // is read must find its handler (without one, Node dies of it, with no graceful stop).
    const stopSignal = nextStopSignal();
    announceListening(logger, app, opts);
    // Certificate renewals: `systemctl reload` / `kill -HUP`. (Windows has no SIGHUP to send:
    // there the listener reloads when the files change.)
    const reload = () => {
      void app.gateway.reloadTls();
      if (opts.edge.dashboardTls && app.dashboard) void reloadDashboardTls(app.dashboard, opts.edge.dashboardTls, logger);
    };
    process.on('SIGHUP', reload);
    const signal = await stopSignal;
    process.off('SIGHUP', reload);
    // Stops accepting synchronously, before anything is logged.
    const stopping = app.shutdown(opts.edge.shutdownGraceMs);
    logger.info({ signal, graceMs: opts.edge.shutdownGraceMs }, 'shutting down: finishing exchanges in flight');
    // A second signal during the grace period stops at once.
    const now = new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await Promise.race([stopping, now.then(() => app.close())]);
    logger.info('stopped');
    logger.flush();
    return 0;
  },
};
