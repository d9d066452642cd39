import type { ConnectionClosed, ExchangeStart, Observation, ObservationSink } from '../observation.js';

export type SinkErrorHandler = (err: unknown, phase: 'start' | 'observation' | 'connection', sink: ObservationSink) => void;

const START = 0;
const OBSERVATION = 1;
const CLOSED = 2;

type Entry = ExchangeStart | Observation | ConnectionClosed;

/**
 * Hands exchange starts and observations to every sink, off the response path: the gateway
 * only appends to a queue, and the queue is drained once per event-loop turn (one
 * setImmediate per batch, in the check phase, after every socket callback of the turn).
 * So a slow sink (a log line, the tracker, a dashboard fan-out) never runs inside a
 * response's `finish` and can never delay the next response's bytes; it costs the batch,
 * once. Starts, observations and connection closes share the one queue, so every sink
 * still sees them in the order they happened (the tracker's close-while-busy check, and its
 * lost-Close-Ack check, which needs a connection's close after that connection's last
 * observation, depend on it).
 *
 * Each sink is isolated: a throwing sink (a bug in the tracker, a full disk under the
 * recorder) must never break forwarding or starve the other sinks.
 */
export class SinkFanout implements ObservationSink {
  // Two parallel arrays rather than an entry object per exchange; swapped with the spares
  // on each drain so the steady state allocates nothing.
  private kinds: number[] = [];
  private items: Entry[] = [];
  private spareKinds: number[] = [];
  private spareItems: Entry[] = [];
  private scheduled = false;
  private readonly wantsStarts: boolean;
  private readonly drainTask = (): void => this.drain();

  constructor(
    private readonly sinks: readonly ObservationSink[],
    private readonly onError: SinkErrorHandler = () => {},
  ) {
    this.wantsStarts = sinks.some((s) => s.onExchangeStart !== undefined);
  }

  onExchangeStart(start: ExchangeStart): void {
    if (this.wantsStarts) this.enqueue(START, start);
  }

  onObservation(obs: Observation): void {
    this.enqueue(OBSERVATION, obs);
  }

  /** Entries waiting for the next drain (tests, shutdown). */
  get pending(): number {
    return this.items.length;
  }

  /** Delivers everything queued now (gateway shutdown: nothing may be lost). */
  flush(): void {
    while (this.items.length > 0) this.drain();
  }

  onConnectionClosed(closed: ConnectionClosed): void {
    this.enqueue(CLOSED, closed);
  }

  private enqueue(kind: number, item: Entry): void {
    this.kinds.push(kind);
    this.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drainTask);
    }
  }

  private drain(): void {
    this.scheduled = false;
    const kinds = this.kinds;
    const items = this.items;
    // Entries queued by a sink while we deliver (none today) go to the next batch.
    this.kinds = this.spareKinds;
    this.items = this.spareItems;
    for (let i = 0; i < items.length; i++) {
      const kind = kinds[i];
      if (kind === START) this.deliverStart(items[i] as ExchangeStart);
      else if (kind === OBSERVATION) this.deliverObservation(items[i] as Observation);
      else this.deliverClosed(items[i] as ConnectionClosed);
    }
    kinds.length = 0;
    items.length = 0;
    this.spareKinds = kinds;
    this.spareItems = items;
  }

  private deliverStart(start: ExchangeStart): void {
    for (const sink of this.sinks) {
      if (!sink.onExchangeStart) continue;
      try {
        sink.onExchangeStart(start);
      } catch (err) {
        this.report(err, 'start', sink);
      }
    }
  }

  private deliverObservation(obs: Observation): void {
    for (const sink of this.sinks) {
      try {
        sink.onObservation(obs);
      } catch (err) {
        this.report(err, 'observation', sink);
      }
    }
  }

  private deliverClosed(closed: ConnectionClosed): void {
    for (const sink of this.sinks) {
      if (!sink.onConnectionClosed) continue;
      try {
        sink.onConnectionClosed(closed);
      } catch (err) {
        this.report(err, 'connection', sink);
      }
    }
  }

  private report(err: unknown, phase: 'start' | 'observation' | 'connection', sink: ObservationSink): void {
    try {
      this.onError(err, phase, sink);
    } catch {
      // The error handler itself failed (e.g. a logger on a closed stream): nothing left to tell.
    }
  }
}
