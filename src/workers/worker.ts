/**
 * One worker of `bitsgate --workers N`: the gateway alone (listener, forwarder, pinned
 * upstream connections), owning each client connection it is handed whole. Its one sink is
 * the IPC batcher: the primary runs the tracker, dashboard, log, metrics and recorder.
 *
 * The worker listens on the same address as the others; under node:cluster the primary
 * holds the listening socket and hands each accepted connection to one worker
 * (primary.ts says why round-robin). Signals are the primary's to handle: a worker ignores
 * SIGINT/SIGTERM/SIGHUP (a Ctrl-C or a whole-group kill reaches every process) and acts on
 * the primary's `drain` and `reload-tls` messages; if the primary vanishes, it drains itself.
 */
import type pino from 'pino';
import { buildRoutes } from '../app.js';
import { readUpstreamTls, startFailureLine, type GatewayCommandOptions } from '../commands/gateway.js';
import { startGateway } from '../gateway/index.js';
import { IpcBatcher, type SendFn } from './ipc-batcher.js';
import type { ToPrimary, ToWorker } from './messages.js';

type Init = Extract<ToWorker, { type: 'init' }>;

function send(message: ToPrimary): void {
  if (process.connected) process.send!(message);
}

function nextInit(): Promise<Init> {
  return new Promise((resolve) => {
    const onMessage = (m: ToWorker) => {
      if (m?.type !== 'init') return;
      process.off('message', onMessage);
      resolve(m);
    };
    process.on('message', onMessage);
    send({ type: 'hello' });
  });
}

export async function runWorker(opts: GatewayCommandOptions, logger: pino.Logger): Promise<number> {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});
  const init = await nextInit();
  const log = logger.child({ worker: init.node });
  const batcher = new IpcBatcher({
    node: init.node,
    send: ((m, cb) => (process.connected ? process.send!(m, undefined, undefined, cb) : false)) as SendFn,
  });
  let gateway;
  try {
    const upstreamTls = await readUpstreamTls(opts.edge);
    const upstream = init.upstream !== undefined ? new URL(init.upstream) : undefined;
    const tls = opts.edge.tls;
    gateway = await startGateway({
      routes: buildRoutes(upstream, opts.edge.routes, upstreamTls),
      ...(tls && {
        tls: {
          ...tls,
          ...(init.ticketKeys !== undefined && { ticketKeys: Buffer.from(init.ticketKeys, 'base64') }),
          // The primary counts and logs TLS failures with the rest of the metrics.
          onTlsError: (report) => send({ type: 'tls-error', report }),
          onReload: () => send({ type: 'tls-reloaded' }),
        },
      }),
      listen: opts.listen,
      upstreamTimeoutMs: opts.upstreamTimeoutMs,
      headersTimeoutMs: opts.headersTimeoutMs,
      bodyTimeoutMs: opts.bodyTimeoutMs,
      forwardedHeaders: opts.forwardedHeaders,
      sinks: [batcher],
      onSinkError: (err, phase) => log.error({ err, phase }, 'observation sink failed'),
    });
  } catch (err) {
    batcher.close();
    const line = startFailureLine(err);
    const failed: ToPrimary = { type: 'failed', message: line ?? (err instanceof Error ? err.stack ?? err.message : String(err)) };
    // Disconnect only once the message is written: closing the channel cancels pending writes.
    if (process.connected) await new Promise<void>((resolve) => process.send!(failed, undefined, undefined, () => resolve()));
    if (process.connected) process.disconnect();
    return 1;
  }
  const gw = gateway;
  send({ type: 'listening', url: gw.url, port: gw.address.port });

  // Graceful: stop accepting (the primary stops handing us connections), finish exchanges
  // in flight within the grace, send every observation, say so, leave.
  let draining: Promise<void> | undefined;
  const drain = (graceMs: number) => (draining ??= (async () => {
    await gw.shutdown(graceMs);
    batcher.close();
    if (process.connected) await new Promise<void>((resolve) => process.send!({ type: 'drained' } satisfies ToPrimary, undefined, undefined, () => resolve()));
    if (process.connected) process.disconnect();
  })());
  await new Promise<void>((resolve) => {
    process.on('message', (m: ToWorker) => {
      if (m?.type === 'drain') void drain(m.graceMs).then(resolve);
      else if (m?.type === 'reload-tls') void gw.reloadTls();
    });
    // The primary is gone (killed): finish what is in flight, then leave.
    process.once('disconnect', () => void drain(opts.edge.shutdownGraceMs).then(resolve));
  });
  return 0;
}
