/**
 * The primary of `bitsgate --workers N`.
 *
 * Theory of operation. The primary runs everything but the listener (src/app.ts
 * startCore: the embedded server, the one tracker, event bus, dashboard, log, metrics,
 * recorder, fleet link) and forks N workers (worker.ts), each a gateway on the same
 * address. Node 20 has no `reusePort`, so under node:cluster the primary owns the listening
 * socket; we set `cluster.schedulingPolicy = SCHED_RR` explicitly: the primary accepts
 * and hands each connection, whole, to the next worker in turn. That keeps upstream pinning
 * (one client connection, one worker, one pinned upstream connection) and spreads load
 * evenly; SCHED_NONE (the kernel picks among workers blocked in accept) is known to skew
 * (">70% in two of eight", Node's docs) and is Node's default on Windows, which would make
 * the same flag behave differently there. The price: every accept goes through this event
 * loop, so the tracker and dashboard here must stay light (they work in batches).
 *
 * Workers send their observations and connection closes in batches (ipc-batcher.ts); the
 * primary merges them in the one order merge.ts defines, gives them ids of its own
 * (relay.ts) and feeds its sinks. `/metrics` is the primary's: every counter comes from
 * the observations it receives, TLS failures come as messages, and bitsgate_workers /
 * bitsgate_worker_restarts_total / bitsgate_worker_ipc_lost_total say how the workers are.
 *
 * Life: a worker that exits unasked is forked again for the same slot (logged, with the
 * client connections it took with it; those connections are closed for the tracker too);
 * SIGHUP reloads TLS in every worker (and the dashboard's); SIGTERM/SIGINT tell every
 * worker to drain (`--shutdown-grace`), wait for them, flush, exit 0; a second signal stops
 * at once.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type pino from 'pino';
import { Counter, Gauge } from 'prom-client';
import { defaultNodeId, startCore, type AppCore } from '../app.js';
import { announceListening, appOptionsFrom, nextStopSignal, reloadDashboardTls, startFailureLine, type GatewayCommandOptions } from '../commands/gateway.js';
import { WorkerMerge } from './merge.js';
import { isToPrimary, WORKER_DEFAULTS, WORKER_SLOT_ENV, type ToPrimary, type ToWorker } from './messages.js';
import { WorkerRelay } from './relay.js';

/** A worker that dies sooner than this after its start is forked again only after this long (no crash loop). */
const RESTART_DELAY_MS = 1_000;
/** After the grace, workers still draining get this long to say so before they are killed. */
const DRAIN_SLACK_MS = 5_000;
const RELEASE_INTERVAL_MS = 25;

interface Slot {
  slot: number;
  node: string;
  worker?: Worker;
  startedAt: number;
  restarts: number;
}

export async function runPrimary(opts: GatewayCommandOptions, logger: pino.Logger): Promise<number> {
  let core: AppCore;
  try {
    core = await startCore(await appOptionsFrom(opts, logger));
  } catch (err) {
    const line = startFailureLine(err);
    if (line === undefined) throw err;
    process.stderr.write(`bitsgate gateway: ${line}\n`);
    return 1;
  }
  const log = logger.child({ component: 'workers' });
  const merge = new WorkerMerge(WORKER_DEFAULTS.maxHoldMs);
  const relay = new WorkerRelay(core.sinks, (err) => logger.error({ err, phase: 'observation' }, 'observation sink failed'));
  const release = (all = false) => relay.deliver(merge.release(Date.now(), all));
  const releaser = setInterval(() => release(), RELEASE_INTERVAL_MS);
  const ticketKeys = opts.edge.tls ? randomBytes(48).toString('base64') : undefined;
  // The fleet link's node id (the same default): it keeps a worker's name `BASE#wN` on what it shares.
  const base = opts.fleet?.node ?? defaultNodeId(opts.listen);
  const slots: Slot[] = Array.from({ length: opts.workers }, (_, i) => ({ slot: i + 1, node: `${base}#w${i + 1}`, startedAt: 0, restarts: 0 }));
  let restartsTotal = 0;
  let ipcLost = 0;
  let stopping = false;

  new Gauge({
    name: 'bitsgate_workers', help: 'Gateway worker processes running (--workers)', registers: [core.metrics.registry],
    collect() { this.set(slots.filter((s) => s.worker && !s.worker.isDead()).length); },
  });
  new Counter({
    name: 'bitsgate_worker_restarts_total', help: 'Workers that exited unasked and were started again', registers: [core.metrics.registry],
    collect() { this.reset(); this.inc(restartsTotal); },
  });
  new Counter({
    name: 'bitsgate_worker_ipc_lost_total', help: 'Observations a worker dropped because its channel to the primary could not keep up',
    registers: [core.metrics.registry],
    collect() { this.reset(); this.inc(ipcLost); },
  });

  // Set before the first fork (it freezes then): see the header comment.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  cluster.setupPrimary({ exec: process.argv[1]!, args: process.argv.slice(2) });

  let listening: ((m: { url: string; port: number } | { failed: string }) => void) | undefined;
  const fork = (s: Slot): Worker => {
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(s.slot) });
    s.worker = worker;
    s.startedAt = Date.now();
    merge.addWorker(worker.id);
    worker.on('message', (m: unknown) => {
      if (!isToPrimary(m)) return;
      onMessage(s, worker, m);
    });
    worker.on('exit', (code, signal) => onExit(s, worker, code, signal));
    return worker;
  };

  const onMessage = (s: Slot, worker: Worker, m: ToPrimary) => {
    switch (m.type) {
      case 'hello':
        worker.send({
          type: 'init', slot: s.slot, node: s.node,
          ...(core.upstream && { upstream: core.upstream.href }),
          ...(ticketKeys !== undefined && { ticketKeys }),
        } satisfies ToWorker);
        break;
      case 'batch':
        merge.add(worker.id, m.at, m.items);
        if (m.lost > 0) {
          ipcLost += m.lost;
          log.warn({ worker: s.node, lost: m.lost }, 'worker: observations dropped, the channel to the primary could not keep up');
        }
        release();
        break;
      case 'listening':
        listening?.({ url: m.url, port: m.port });
        if (s.restarts > 0) log.info({ worker: s.node, pid: worker.process.pid }, 'worker restarted and listening');
        break;
      case 'failed':
        listening?.({ failed: m.message });
        if (s.restarts > 0) log.error({ worker: s.node, error: m.message }, 'worker failed to start');
        break;
      case 'tls-error':
        core.tlsLog.report(m.report);
        break;
      case 'tls-reloaded':
        log.info({ worker: s.node }, 'tls: certificates reloaded');
        break;
      case 'drained':
        break;
    }
  };

  const onExit = (s: Slot, worker: Worker, code: number | null, signal: string | null) => {
    const lost = relay.lostConnections(worker.id, Date.now(), merge.unreleased(worker.id));
    merge.removeWorker(worker.id, lost);
    release();
    if (s.worker !== worker) return;
    s.worker = undefined;
    if (stopping) return;
    s.restarts++;
    restartsTotal++;
    const delay = Date.now() - s.startedAt < RESTART_DELAY_MS ? RESTART_DELAY_MS : 0;
    log.warn({ worker: s.node, pid: worker.process.pid, code, signal, lostConnections: lost.length, restartInMs: delay },
      'worker exited unexpectedly; its client connections are lost; starting it again');
    const again = setTimeout(() => { if (!stopping) fork(s); }, delay);
    again.unref();
  };

  // Start every worker; the first one that cannot listen stops the whole start.
  const first = await new Promise<{ url: string; port: number } | { failed: string }>((resolve) => {
    let waiting = slots.length;
    let url: { url: string; port: number } | undefined;
    listening = (m) => {
      if ('failed' in m) return resolve(m);
      url ??= m;
      if (--waiting === 0) resolve(url);
    };
    for (const s of slots) fork(s);
  });
  listening = undefined;
  const killAll = () => { for (const s of slots) s.worker?.process.kill('SIGKILL'); };
  if ('failed' in first) {
    stopping = true;
    killAll();
    await Promise.all(slots.map((s) => (s.worker && !s.worker.isDead() ? new Promise((r) => s.worker!.once('exit', r)) : undefined)));
    clearInterval(releaser);
    await core.close();
    process.stderr.write(`bitsgate gateway: ${first.failed}\n`);
    return 1;
  }

  // Before the line that says we listen: a SIGTERM sent as soon as it is read must find its handler.
  const stopSignal = nextStopSignal();
  announceListening(logger, { ...core, gateway: { url: first.url } }, opts);

  const reload = () => {
    for (const s of slots) s.worker?.send({ type: 'reload-tls' } satisfies ToWorker);
    if (opts.edge.dashboardTls && core.dashboard) void reloadDashboardTls(core.dashboard, opts.edge.dashboardTls, logger);
  };
  process.on('SIGHUP', reload);
  const signal = await stopSignal;
  process.off('SIGHUP', reload);
  stopping = true;
  const graceMs = opts.edge.shutdownGraceMs;
  for (const s of slots) s.worker?.send({ type: 'drain', graceMs } satisfies ToWorker);
  logger.info({ signal, graceMs, workers: slots.filter((s) => s.worker).length }, 'shutting down: workers finish exchanges in flight');
  const exited = Promise.all(slots.map((s) => (s.worker && !s.worker.isDead() ? new Promise((r) => s.worker!.once('exit', r)) : undefined)));
  // Past the grace (and a little slack), or on a second signal, workers are killed.
  const deadline = setTimeout(killAll, graceMs + DRAIN_SLACK_MS);
  const now = () => { killAll(); };
  process.once('SIGINT', now);
  process.once('SIGTERM', now);
  await exited;
  clearTimeout(deadline);
  clearInterval(releaser);
  release(true);
  await core.close();
  logger.info('stopped');
  logger.flush();
  return 0;
}
