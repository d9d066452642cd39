/**
 * `bitsgate check-client`: a gateway in which every new session gets the next case of the
 * client conformance suite (src/conformance/client). The runner is the gateway's
 * InjectionPolicy; this file wires it to the app (tracker violations in, results out), prints
 * the live lines and the summary (or --json), feeds the dashboard's Conformance panel, and
 * maps the suite's outcome to the exit code.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { APP_DEFAULTS, startApp, type App } from '../app.js';
import { CASE_RUNNER_DEFAULTS, ClientCaseRunner, type CaseStatus } from '../conformance/client/case-runner.js';
import { CLIENT_CASES, isClientCaseId, type ClientCaseId } from '../conformance/client/cases.js';
import { buildReport, printable, resultLine, summaryLines, type ClientSuiteReport } from '../conformance/client/report.js';
import type { ConformanceMessage } from '../dashboard/messages.js';
import { GATEWAY_DEFAULTS } from '../gateway/index.js';
import { createLogger, isLogLevel, LOG_LEVELS, type LogLevel } from '../sinks/logger.js';
import { type ListenAddress, parseListen, parsePositiveDuration, parseUpstreamUrl, UsageError } from '../util/option-values.js';
import { checkRootOption, parseDashboardOptions } from './app-options.js';
import type { Command } from './command.js';
import { parsePrefixOption } from './prefix-option.js';
import { startupErrorLine } from './startup-errors.js';

export interface CheckClientOptions {
  listen: ListenAddress;
  /** Absent: the embedded BITS server (upload-reply under replyPrefix, overwrites allowed). */
  upstream?: URL;
  /** Embedded server root; absent: a temporary directory removed at the end. */
  root?: string;
  cases: ClientCaseId[];
  replyPrefix: string;
  settleMs: number;
  caseTimeoutMs: number;
  dashboard: ListenAddress | false;
  dashboardToken?: string;
  json: boolean;
  logLevel: LogLevel;
}

/** A running suite: where clients connect, and the report once it ends. */
export interface CheckClientRun {
  app: App;
  runner: ClientCaseRunner;
  /** The gateway URL clients upload through. */
  url: string;
  /** Resolves when every case has its verdict (or after stop()). */
  finished: Promise<ClientSuiteReport>;
  /** Ends the suite now (Ctrl-C): open cases get their verdict as they stand. */
  stop(): void;
  close(): Promise<void>;
}

export interface CheckClientHooks {
  /** A case's verdict (a line for the live table). */
  result?(status: CaseStatus): void;
  /** A line for the person running the suite. */
  note?(line: string): void;
  /** How often open cases are re-judged for quiet time (default 200 ms). */
  tickMs?: number;
}

/** Starts the gateway with the suite's runner as its injection policy. */
export async function startCheckClient(opts: CheckClientOptions, hooks: CheckClientHooks = {}): Promise<CheckClientRun> {
  const runner = new ClientCaseRunner({ cases: opts.cases, replyPrefix: opts.replyPrefix, settleMs: opts.settleMs, caseTimeoutMs: opts.caseTimeoutMs });
  const logger = createLogger({ level: opts.logLevel, destination: process.stderr });
  const tempRoot = opts.upstream || opts.root ? undefined : await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-check-client-'));
  let app: App;
  try {
    app = await startApp({
      logger,
      upstream: opts.upstream,
      // Each case is another run of the client, usually to the same URL: overwriting must not be refused.
      embedded: opts.upstream ? undefined : { root: opts.root ?? tempRoot!, replyMode: 'sha256', replyPrefix: opts.replyPrefix, allowOverwrite: true },
      listen: opts.listen,
      dashboard: opts.dashboard,
      ...(opts.dashboardToken !== undefined && { dashboardToken: opts.dashboardToken }),
      injections: runner,
    });
  } catch (err) {
    if (tempRoot) await fs.rm(tempRoot, { recursive: true, force: true });
    throw err;
  }
  const unsubscribe = app.bus.subscribe((event) => {
    if (event.type === 'violation') runner.violation(event.violation);
  });
  const publish = (done: boolean) => {
    if (!app.dashboard) return;
    const message: ConformanceMessage = {
      type: 'conformance', suite: 'client', done,
      cases: runner.statuses().map((s) => ({
        id: s.id, state: s.state, fault: s.fault, expected: s.expected, reference: s.reference, sessions: s.sessions,
        ...(s.reason !== undefined && { reason: s.reason }), ...(s.url !== undefined && { url: s.url }),
      })),
    };
    app.dashboard.hub.setPanel('conformance', message);
  };
  publish(false);
  let finish!: (report: ClientSuiteReport) => void;
  const finished = new Promise<ClientSuiteReport>((resolve) => (finish = resolve));
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    publish(true);
    finish(buildReport(runner.statuses()));
  };
  runner.onResult((s) => {
    hooks.result?.(s);
    if (runner.done) setImmediate(end);
  });
  runner.onNote((line) => hooks.note?.(line));
  // The panel shows every change, at most every 250 ms.
  let publishTimer: NodeJS.Timeout | undefined;
  runner.onChange(() => {
    publishTimer ??= setTimeout(() => {
      publishTimer = undefined;
      if (!ended) publish(false);
    }, 250);
  });
  const timer = setInterval(() => runner.tick(Date.now()), hooks.tickMs ?? 200);
  return {
    app,
    runner,
    url: app.gateway.url,
    finished,
    stop() {
      if (ended) return;
      runner.stop(Date.now());
      end();
    },
    async close() {
      clearInterval(timer);
      clearTimeout(publishTimer);
      unsubscribe();
      await app.close();
      if (tempRoot) await fs.rm(tempRoot, { recursive: true, force: true });
    },
  };
}

const HELP = `bitsgate check-client: the client conformance suite

Usage:
  bitsgate check-client [--listen HOST:PORT] [--upstream URL] [options]

A gateway in which every NEW session (a Create-Session the server acknowledges) gets the
next case of the suite: a fault injected into that session only. Run your BITS client
through it again and again (or once with several files); each case is judged against what
the reference (bits-protocol.md §5, §6) says a Windows client does, and printed as it
completes. Without --upstream the embedded BITS server answers (upload-reply under
${CASE_RUNNER_DEFAULTS.replyPrefix}, overwrites allowed, files in a temporary directory).

Cases, in order (use a file of at least 3 fragments):
${CLIENT_CASES.map((c) => `  ${c.id.padEnd(18)} ${c.fault}\n  ${''.padEnd(18)} expected: ${c.expected} (${c.reference})`).join('\n')}
Every case also fails a Close-Session before the last Ack or before the reply was fetched.

Options:
  --listen HOST:PORT      gateway address (default ${GATEWAY_DEFAULTS.listen.host}:${GATEWAY_DEFAULTS.listen.port})
  --upstream URL          the BITS server to put behind it (default: the embedded server)
  --root DIR              embedded server: keep the uploads in DIR (default: a temporary
                          directory, removed at the end)
  --cases LIST            run only these cases, comma-separated, in suite order
  --reply-prefix PATH     URLs of upload-reply jobs (the reply case; default ${CASE_RUNNER_DEFAULTS.replyPrefix})
  --settle DURATION       quiet time before a passing case is final (default ${CASE_RUNNER_DEFAULTS.settleMs / 1000}s)
  --case-timeout DURATION quiet time after which a recovery that did not come is a
                          failure (default ${CASE_RUNNER_DEFAULTS.caseTimeoutMs / 60_000}m; a client with long retry delays needs more)
  --dashboard HOST:PORT   dashboard with a live Conformance panel (default ${APP_DEFAULTS.dashboard.host}:${APP_DEFAULTS.dashboard.port})
  --no-dashboard          run without the dashboard
  --dashboard-token TOKEN token the dashboard demands (required off loopback)
  --json                  print the report as JSON on stdout at the end (the live lines
                          go to stderr)
  --log-level LEVEL       gateway log on stderr: ${LOG_LEVELS.join(', ')} (default silent)
  -h, --help              this text

It ends when every case has its verdict, or on Ctrl-C (open cases are then incomplete).
Exit codes: 0 every case passed, 1 any case failed or is incomplete, 2 usage.`;

export function parseCheckClientArgs(args: string[]): CheckClientOptions {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      listen: { type: 'string' },
      upstream: { type: 'string' },
      root: { type: 'string' },
      cases: { type: 'string' },
      'reply-prefix': { type: 'string' },
      settle: { type: 'string' },
      'case-timeout': { type: 'string' },
      dashboard: { type: 'string' },
      'no-dashboard': { type: 'boolean' },
      'dashboard-token': { type: 'string' },
      json: { type: 'boolean' },
      'log-level': { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  checkRootOption(values);
  const { dashboard, dashboardToken } = parseDashboardOptions(values);
  const logLevel = values['log-level'] ?? 'silent';
  if (!isLogLevel(logLevel)) throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  let cases = CLIENT_CASES.map((c) => c.id);
  if (values.cases !== undefined) {
    const wanted = values.cases.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = wanted.find((w) => !isClientCaseId(w));
    if (unknown !== undefined || wanted.length === 0) {
      throw new UsageError(`--cases: expected case ids out of ${cases.join(', ')}, got ${JSON.stringify(values.cases.slice(0, 200))}`);
    }
    cases = cases.filter((id) => wanted.includes(id));
  }
  const replyPrefix = values['reply-prefix'] ?? CASE_RUNNER_DEFAULTS.replyPrefix;
  if (!/^\/[\x21-\x7e]{0,1000}$/.test(replyPrefix)) throw new UsageError('--reply-prefix: expected a path starting with /');
  // The embedded server refuses what checkReplyPrefix refuses: say so here, not as a stack trace at start.
  parsePrefixOption('--reply-prefix', replyPrefix);
  return {
    listen: values.listen !== undefined ? parseListen('--listen', values.listen) : { ...GATEWAY_DEFAULTS.listen },
    ...(values.upstream !== undefined && { upstream: parseUpstreamUrl('--upstream', values.upstream) }),
    ...(values.root !== undefined && { root: values.root }),
    cases,
    replyPrefix,
    settleMs: values.settle !== undefined ? parsePositiveDuration('--settle', values.settle) : CASE_RUNNER_DEFAULTS.settleMs,
    caseTimeoutMs: values['case-timeout'] !== undefined ? parsePositiveDuration('--case-timeout', values['case-timeout']) : CASE_RUNNER_DEFAULTS.caseTimeoutMs,
    dashboard,
    ...(dashboardToken !== undefined && { dashboardToken }),
    json: values.json === true,
    logLevel,
  };
}

export const command: Command = {
  name: 'check-client',
  summary: 'client conformance suite: inject one fault per new session, judge the recovery',
  help: HELP,
  async run(args) {
    const opts = parseCheckClientArgs(args);
    // With --json, stdout carries the report alone.
    const out = (line: string) => (opts.json ? process.stderr : process.stdout).write(line + '\n');
    let run: CheckClientRun;
    try {
      run = await startCheckClient(opts, { result: (s) => out(resultLine(s)), note: (line) => out(printable(`note: ${line}`)) });
    } catch (err) {
      const line = startupErrorLine(err);
      if (line !== undefined) {
        process.stderr.write(`bitsgate check-client: ${line}\n`);
        return 1;
      }
      throw err;
    }
    const example = `${run.url}/uploads/check.bin`;
    out([
      `bitsgate check-client   ${run.url}   ->   ${opts.upstream ? `upstream ${opts.upstream.origin}` : 'embedded BITS server'}`,
      ...(run.app.dashboard ? [`dashboard                ${run.app.dashboard.url}   (Conformance panel)`] : []),
      `${opts.cases.length} cases: ${opts.cases.join(', ')}`,
      'Run your client once per case (each new session gets the next case), e.g.',
      `  npx bitsgate upload ${example} FILE --fragment-size 4k     # FILE of at least 12 KiB`,
      ...(opts.cases.includes('reply') ? [`  the reply case: an upload to ${run.url}${opts.replyPrefix}check.bin`] : []),
      'Ctrl-C ends the suite.',
      '',
    ].join('\n'));
    const onSignal = () => run.stop();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const report = await run.finished;
      if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else out(summaryLines(report).join('\n'));
      return report.passed ? 0 : 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await run.close();
    }
  },
};
