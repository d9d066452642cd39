/**
 * What the primary and the workers of `--workers N` say to each other over the cluster's
 * IPC channel (JSON, one pipe write per message: hence batches). Plain data only.
 */
import type { TlsErrorReport } from '../gateway/index.js';
import type { ConnectionClosed, Observation } from '../observation.js';

/** One thing a worker saw, in the order it saw them: an exchange, or a client connection closing. */
export type WorkerItem =
  | { kind: 'observation'; observation: Observation }
  | { kind: 'connection-closed'; closed: ConnectionClosed };

export type ToPrimary =
  /** The worker listens for messages now (one sent before would be lost): the primary answers `init`. */
  | { type: 'hello' }
  /**
   * Items in the worker's order. `at` is the worker's clock when it sent the batch: everything
   * it sends later ended at or after `at` (a batch with no items is a heartbeat saying so).
   * `lost`: items dropped since the last batch because the channel could not keep up.
   */
  | { type: 'batch'; at: number; items: WorkerItem[]; lost: number }
  | { type: 'listening'; url: string; port: number }
  /** The worker could not start (one line, as startup-errors.ts words it). */
  | { type: 'failed'; message: string }
  | { type: 'tls-error'; report: TlsErrorReport }
  | { type: 'tls-reloaded' }
  /** Graceful shutdown done: every observation sent. */
  | { type: 'drained' };

export type ToWorker =
  | {
    type: 'init';
    /** 1..N: which worker this is (stable across restarts of that worker). */
    slot: number;
    /** Observations carry it as `node` (what the dashboard shows per exchange). */
    node: string;
    /** The primary's default upstream (the embedded server's URL when it runs one). */
    upstream?: string;
    /** Base64 of the 48 shared TLS session ticket key bytes. */
    ticketKeys?: string;
  }
  | { type: 'drain'; graceMs: number }
  | { type: 'reload-tls' };

export const WORKER_DEFAULTS = {
  /** A worker with nothing to send says so this often (the primary's merge waits for its clock). */
  heartbeatMs: 50,
  /** The primary never holds an item longer than this waiting for a silent worker. */
  maxHoldMs: 1_000,
  /** Items per IPC message. */
  batchItems: 512,
  /** Items a worker keeps while the channel is blocked; the oldest are dropped (and counted) beyond. */
  maxQueued: 100_000,
  /** Most workers `--workers` accepts. */
  maxWorkers: 64,
} as const;

/** Environment variable telling a forked process which worker it is (cluster.isWorker says that it is one). */
export const WORKER_SLOT_ENV = 'BITSGATE_WORKER_SLOT';

export function isToPrimary(m: unknown): m is ToPrimary {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
