import { parseArgs } from 'node:util';
import type pino from 'pino';
import { GATEWAY_DEFAULTS, startGateway, type Gateway } from '../gateway/index.js';
import type { ObservationSink } from '../observation.js';
import { createLogger, isLogLevel, LOG_LEVELS, type LogLevel } from '../sinks/logger.js';
import { Recorder } from '../sinks/recorder.js';
import { RequestLog } from '../sinks/request-log.js';
import { type ListenAddress, parseDuration, parseHttpUrl, parseListen, UsageError } from '../util/option-values.js';
import type { Command } from './command.js';

/**
 * `bitsgate [gateway]`: parse options (parseGatewayArgs), then start the sinks and the
 * gateway (startGatewayCommand). The two steps are separate so the embedded server,
 * tracker and dashboard can be added as extra sinks without touching the parsing.
 */

export interface GatewayCommandOptions {
  /** Absent: no upstream given (the embedded server mode, not built yet). */
  upstream: URL | undefined;
  listen: ListenAddress;
  upstreamTimeoutMs: number;
  headersTimeoutMs: number;
  forwardedHeaders: boolean;
  record: string | undefined;
  logLevel: LogLevel;
  /** undefined: pretty only when stdout is a terminal. */
  pretty: boolean | undefined;
}

const HELP = `bitsgate gateway: inspecting reverse proxy for BITS uploads (the default command)

Usage:
  bitsgate [gateway] --upstream http://HOST:PORT [options]

Forwards every request (BITS_POST, GET, HEAD, ...) to the upstream server byte-exactly,
one upstream connection per client connection (NTLM/Negotiate keep working), and logs
one line per exchange.

Options:
  --upstream URL            upstream BITS server, http://HOST:PORT (required for now); a path
                            in the URL is prefixed to every request path
  --listen HOST:PORT        address to listen on (default ${GATEWAY_DEFAULTS.listen.host}:${GATEWAY_DEFAULTS.listen.port})
  --upstream-timeout DUR    no upstream progress for this long -> 504 (default ${GATEWAY_DEFAULTS.upstreamTimeoutMs / 1000}s)
  --headers-timeout DUR     a request head not complete in time closes the connection (default ${GATEWAY_DEFAULTS.headersTimeoutMs / 1000}s)
  --no-forwarded-headers    do not set X-Forwarded-For/-Proto/-Host (by default they are set,
                            replacing any the client sent)
  --record FILE             append every exchange to FILE as NDJSON (bodies never recorded)
  --log-level LEVEL         ${LOG_LEVELS.join(', ')} (default info)
  --pretty                  human-readable log lines (default when stdout is a terminal)
  -h, --help                this text

Durations: 30 (seconds), 500ms, 30s, 5m, 2h.`;

export function parseGatewayArgs(args: string[]): GatewayCommandOptions {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      upstream: { type: 'string' },
      listen: { type: 'string' },
      'upstream-timeout': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'no-forwarded-headers': { type: 'boolean' },
      record: { type: 'string' },
      'log-level': { type: 'string' },
      pretty: { type: 'boolean' },
    },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const logLevel = values['log-level'] ?? 'info';
  if (!isLogLevel(logLevel)) throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const upstreamTimeoutMs = values['upstream-timeout'] !== undefined
    ? parseDuration('--upstream-timeout', values['upstream-timeout'])
    : GATEWAY_DEFAULTS.upstreamTimeoutMs;
  const headersTimeoutMs = values['headers-timeout'] !== undefined
    ? parseDuration('--headers-timeout', values['headers-timeout'])
    : GATEWAY_DEFAULTS.headersTimeoutMs;
  if (upstreamTimeoutMs === 0) throw new UsageError('--upstream-timeout: must be more than 0');
  if (headersTimeoutMs === 0) throw new UsageError('--headers-timeout: must be more than 0');
  if (values.record === '') throw new UsageError('--record: expected a file name');
  return {
    upstream: values.upstream !== undefined ? parseHttpUrl('--upstream', values.upstream) : undefined,
    listen: values.listen !== undefined ? parseListen('--listen', values.listen) : { ...GATEWAY_DEFAULTS.listen },
    upstreamTimeoutMs,
    headersTimeoutMs,
    forwardedHeaders: !values['no-forwarded-headers'],
    record: values.record,
    logLevel,
    pretty: values.pretty ? true : undefined,
  };
}

export interface RunningGateway {
  gateway: Gateway;
  logger: pino.Logger;
  /** Stops the gateway, then flushes the recording. */
  close(): Promise<void>;
}

/** Starts the request log, the recorder (if asked) and the gateway, plus any extra sinks. */
export async function startGatewayCommand(
  opts: GatewayCommandOptions & { upstream: URL },
  extra: { logger?: pino.Logger; sinks?: ObservationSink[] } = {},
): Promise<RunningGateway> {
  const logger = extra.logger ?? createLogger({ level: opts.logLevel, ...(opts.pretty !== undefined ? { pretty: opts.pretty } : {}) });
  const recorder = opts.record !== undefined
    ? await Recorder.open(opts.record, { onError: (err) => logger.error({ err }, 'recording stopped') })
    : undefined;
  const sinks: ObservationSink[] = [...(extra.sinks ?? []), new RequestLog(logger)];
  if (recorder) sinks.push(recorder);
  let gateway: Gateway;
  try {
    gateway = await startGateway({
      upstream: opts.upstream,
      listen: opts.listen,
      upstreamTimeoutMs: opts.upstreamTimeoutMs,
      headersTimeoutMs: opts.headersTimeoutMs,
      forwardedHeaders: opts.forwardedHeaders,
      sinks,
      onSinkError: (err, phase) => logger.error({ err, phase }, 'observation sink failed'),
    });
  } catch (err) {
    await recorder?.close();
    throw err;
  }
  logger.info({ listen: gateway.url, upstream: opts.upstream.origin, record: opts.record }, 'gateway listening');
  return {
    gateway,
    logger,
    async close() {
      await gateway.close();
      await recorder?.close();
      logger.flush();
    },
  };
}

export const command: Command = {
  name: 'gateway',
  summary: 'forward BITS traffic to an upstream server and inspect it (default)',
  help: HELP,
  async run(args) {
    const opts = parseGatewayArgs(args);
    if (!opts.upstream) {
      process.stderr.write(
        'bitsgate gateway: --upstream http://HOST:PORT is required (running without an upstream, with the\n' +
          "embedded BITS server, is not available yet). Run 'bitsgate gateway --help' for usage.\n",
      );
      return 2;
    }
    let running: RunningGateway;
    try {
      running = await startGatewayCommand({ ...opts, upstream: opts.upstream });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
        process.stderr.write(`bitsgate gateway: cannot listen on ${opts.listen.host}:${opts.listen.port}: ${code}\n`);
        return 1;
      }
      throw err;
    }
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    running.logger.info('shutting down');
    await running.close();
    return 0;
  },
};
