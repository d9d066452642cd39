import type { ExchangeStart, Observation, ObservationSink } from '../observation.js';

export type SinkErrorHandler = (err: unknown, phase: 'start' | 'observation', sink: ObservationSink) => void;

/**
 * Calls every sink in order, each isolated: a throwing sink (a bug in the tracker, a full
 * disk under the recorder) must never break forwarding or starve the other sinks.
 */
export class SinkFanout implements ObservationSink {
  constructor(
    private readonly sinks: readonly ObservationSink[],
    private readonly onError: SinkErrorHandler = () => {},
  ) {}

  onExchangeStart(start: ExchangeStart): void {
    for (const sink of this.sinks) {
      if (!sink.onExchangeStart) continue;
      try {
        sink.onExchangeStart(start);
      } catch (err) {
        this.report(err, 'start', sink);
      }
    }
  }

  onObservation(obs: Observation): void {
    for (const sink of this.sinks) {
      try {
        sink.onObservation(obs);
      } catch (err) {
        this.report(err, 'observation', sink);
      }
    }
  }

  private report(err: unknown, phase: 'start' | 'observation', sink: ObservationSink): void {
    try {
      this.onError(err, phase, sink);
    } catch {
      // The error handler itself failed (e.g. a logger on a closed stream): nothing left to tell.
    }
  }
}
