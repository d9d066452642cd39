import type { EventBus } from './event-bus.js';
import type { ConnectionClosed, ExchangeStart, Observation, ObservationSink } from './observation.js';
import type { BitsEvent } from './sessions/events.js';

/** What the inspector needs of the session tracker (src/sessions). */
export interface ObservationTracker {
  begin(start: ExchangeStart): BitsEvent[];
  observe(obs: Observation): BitsEvent[];
  connectionClosed(closed: ConnectionClosed): BitsEvent[];
  expire(now: number): BitsEvent[];
}

/**
 * The bridge from the I/O edge to the protocol core: feeds each observation to the
 * tracker and publishes the events it returns. The gateway only knows it as an
 * ObservationSink; the sinks only know the bus.
 */
export class Inspector implements ObservationSink {
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tracker: ObservationTracker,
    private readonly bus: EventBus,
  ) {}

  onExchangeStart(start: ExchangeStart): void {
    this.bus.publish(this.tracker.begin(start));
  }

  onObservation(obs: Observation): void {
    this.bus.publish(this.tracker.observe(obs));
  }

  onConnectionClosed(closed: ConnectionClosed): void {
    const events = this.tracker.connectionClosed(closed);
    if (events.length > 0) this.bus.publish(events);
  }

  /** Checks for idle sessions every `intervalMs` (sessions expire after the tracker's timeout). */
  startExpiry(intervalMs: number, now: () => number = Date.now): void {
    this.stopExpiry();
    this.expiryTimer = setInterval(() => this.bus.publish(this.tracker.expire(now())), intervalMs);
    this.expiryTimer.unref();
  }

  stopExpiry(): void {
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    this.expiryTimer = undefined;
  }
}
