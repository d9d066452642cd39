/**
 * `bitsgate --workers N`: N gateway processes on one listening port (node:cluster).
 * primary.ts runs the tracker, dashboard and sinks; worker.ts is one gateway.
 */
import cluster from 'node:cluster';
import type pino from 'pino';
import type { GatewayCommandOptions } from '../commands/gateway.js';

export async function runWorkers(opts: GatewayCommandOptions, logger: pino.Logger): Promise<number> {
  if (cluster.isWorker) {
    const { runWorker } = await import('./worker.js');
    return runWorker(opts, logger);
  }
  const { runPrimary } = await import('./primary.js');
  return runPrimary(opts, logger);
}
