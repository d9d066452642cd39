/**
 * What one node has made of the merged stream: which entries it applied (SeenEntries),
 * the entries waiting in the reorder window, and the ids it gave connections and
 * exchanges, feeding one tracker (`sink`). A restart replay and a rebuild after an outage
 * both build a fresh view from the stream's history: the same code path.
 */
import type { ConnectionClosed, Observation } from '../observation.js';
import { SeenEntries } from './dedupe.js';
import { ReorderWindow } from './reorder.js';
import { entryTime, type FleetEntry } from './wire.js';
import { Renumbering } from '../util/renumbering.js';

export interface ViewSink {
  apply(obs: Observation): void;
  applyClosed(closed: ConnectionClosed): void;
}

/** Open client connections remembered for id mapping (a node that died never closes its own). */
const MAX_OPEN_CONNECTIONS = 100_000;
const MAX_UPSTREAM_IDS = 100_000;

export class FleetView {
  readonly window: ReorderWindow;
  private readonly seen = new SeenEntries();
  /** node/boot/connection id -> the id the tracker knows the connection by, while it is open. */
  private readonly connections = new Renumbering(MAX_OPEN_CONNECTIONS);
  /** node/boot/upstream connection id -> the tracker's (its auth-loop check is per upstream connection). */
  private readonly upstreams = new Renumbering(MAX_UPSTREAM_IDS);
  private nextExchangeId = 0;
  applied = 0;
  observations = 0;
  /** Latest time (fleet order key) applied so far: an entry older than this comes out of order. */
  appliedUpTo = -Infinity;
  duplicates = 0;

  /** `sink`: where applied entries go (a rebuild builds into a fresh tracker, then points it at the live one). */
  constructor(windowMs: number, public sink: ViewSink) {
    this.window = new ReorderWindow(windowMs);
  }

  /**
   * Takes an entry into the window, once: 'duplicate', 'late' when entries that end after it
   * were already applied (it is applied out of fleet order), else 'ok'.
   */
  deliver(entry: FleetEntry): 'ok' | 'late' | 'duplicate' {
    if (!this.seen.firstTime(`${entry.node}/${entry.boot}`, entry.seq)) {
      this.duplicates++;
      return 'duplicate';
    }
    this.window.add(entry);
    return entryTime(entry) < this.appliedUpTo ? 'late' : 'ok';
  }

  /** Applies the entries due at `now` (all of them with `all`) to the sink, in fleet order. */
  release(now: number, all = false): void {
    const due = this.window.release(now, all);
    for (const e of due) this.apply(e);
    const last = due[due.length - 1];
    if (last && entryTime(last) > this.appliedUpTo) this.appliedUpTo = entryTime(last);
  }

  private apply(e: FleetEntry): void {
    // Exchange and connection ids are per process: two nodes reuse the same numbers, so
    // the tracker gets ids of its own (a connection keeps one id until it closes).
    const producer = `${e.node}/${e.boot}/`;
    const key = producer + (e.record.kind === 'observation' ? e.record.observation.connectionId : e.record.closed.connectionId);
    const connectionId = this.connections.id(key);
    if (e.record.kind === 'observation') {
      this.observations++;
      const obs: Observation = { ...e.record.observation, id: ++this.nextExchangeId, connectionId };
      if (obs.upstreamConnectionId !== undefined) obs.upstreamConnectionId = this.upstreams.id(producer + obs.upstreamConnectionId);
      this.sink.apply(obs);
    } else {
      this.connections.take(key);
      this.sink.applyClosed({ ...e.record.closed, connectionId });
    }
    this.applied++;
  }
}
