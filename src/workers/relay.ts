/**
 * The primary's side of the workers' observations: merged items (merge.ts) get ids of the
 * primary's own and go to the sinks (tracker or fleet link, metrics, request log,
 * recorder) exactly as one gateway's would. Exchange, connection and upstream connection
 * ids are per process, so two workers (or a worker and its replacement) reuse the same
 * numbers: the tracker would take two clients for one connection. A connection keeps its
 * id until its close is relayed.
 */
import type { ConnectionClosed, Observation, ObservationSink } from '../observation.js';
import type { MergedItem } from './merge.js';
import type { WorkerItem } from './messages.js';
import { Renumbering } from '../util/renumbering.js';

/** Open client connections remembered (a bound, like the fleet link's). */
const MAX_OPEN_CONNECTIONS = 100_000;
const MAX_UPSTREAM_IDS = 100_000;

export type RelayErrorHandler = (err: unknown, sink: ObservationSink) => void;

export class WorkerRelay {
  private nextExchangeId = 0;
  /** `worker/connectionId` -> the primary's id, while the connection is open. */
  private readonly connections = new Renumbering(MAX_OPEN_CONNECTIONS);
  private readonly upstreams = new Renumbering(MAX_UPSTREAM_IDS);

  constructor(
    private readonly sinks: readonly ObservationSink[],
    private readonly onError: RelayErrorHandler = () => {},
  ) {}

  deliver(items: readonly MergedItem[]): void {
    for (const { worker, item } of items) {
      if (item.kind === 'observation') this.observation(worker, item.observation);
      else this.closed(worker, item.closed);
    }
  }

  /**
   * The client connections of a dead worker that the primary saw exchanges on and no close
   * for: the kernel closed them with the process. `unreleased`: what the worker sent that
   * still waits in the merge (merge.ts), relayed before these closes. Returned as close items
   * at `at`, to go through the merge like any other.
   */
  lostConnections(worker: number, at: number, unreleased: readonly WorkerItem[] = []): WorkerItem[] {
    const prefix = `${worker}/`;
    const open = new Set<number>();
    for (const key of this.connections.keys()) if (key.startsWith(prefix)) open.add(Number(key.slice(prefix.length)));
    for (const item of unreleased) {
      if (item.kind === 'observation') open.add(item.observation.connectionId);
      else open.delete(item.closed.connectionId);
    }
    return [...open].map((connectionId): WorkerItem => ({ kind: 'connection-closed', closed: { connectionId, at } }));
  }

  private observation(worker: number, obs: Observation): void {
    const relayed: Observation = { ...obs, id: ++this.nextExchangeId, connectionId: this.connections.id(`${worker}/${obs.connectionId}`) };
    if (obs.upstreamConnectionId !== undefined) relayed.upstreamConnectionId = this.upstreams.id(`${worker}/${obs.upstreamConnectionId}`);
    for (const sink of this.sinks) {
      try {
        sink.onObservation(relayed);
      } catch (err) {
        this.onError(err, sink);
      }
    }
  }

  private closed(worker: number, closed: ConnectionClosed): void {
    const connectionId = this.connections.take(`${worker}/${closed.connectionId}`);
    // A connection that carried no exchange is unknown to every sink: nothing to tell.
    if (connectionId === undefined) return;
    for (const sink of this.sinks) {
      if (!sink.onConnectionClosed) continue;
      try {
        sink.onConnectionClosed({ connectionId, at: closed.at });
      } catch (err) {
        this.onError(err, sink);
      }
    }
  }
}
