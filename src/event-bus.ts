import type { BitsEvent } from './sessions/events.js';

export type EventListener = (event: BitsEvent) => void;

/**
 * Fan-out of core events to sinks. Sinks subscribe; the producer publishes and never
 * knows who listens. A throwing sink is isolated so one bad consumer cannot stop the
 * others or the gateway.
 */
export class EventBus {
  private readonly listeners = new Set<EventListener>();
  private readonly onSinkError: (err: unknown, event: BitsEvent) => void;

  constructor(onSinkError: (err: unknown, event: BitsEvent) => void = () => {}) {
    this.onSinkError = onSinkError;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(events: Iterable<BitsEvent>): void {
    for (const event of events) {
      for (const listener of this.listeners) {
        try {
          listener(event);
        } catch (err) {
          this.onSinkError(err, event);
        }
      }
    }
  }
}
