/**
 * Prometheus metrics (prom-client), a sink of the event bus and of observations.
 * Names follow field-notes §5: `bitsgate_*`, base units, `_total` on counters, and only
 * bounded labels (packet type, status class, state, violation code): never a session id,
 * URL or client address.
 */
import { createRequire } from 'node:module';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventBus } from '../event-bus.js';
import type { Observation, ObservationSink } from '../observation.js';
import { BITS_METHOD, headerValue, parsePacketType } from '../protocol/index.js';
import type { BitsEvent, SessionState } from '../sessions/events.js';

export interface MetricsOptions {
  registry?: Registry;
  /** Add prom-client's process_* / nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
  version?: string;
  /** Authoritative session counts at scrape time (the tracker); else derived from events. */
  stats?: () => { sessionsByState: Partial<Record<SessionState, number>> };
}

/** Bounded label for an exchange: the BITS packet type, `http` for other requests. */
export function packetLabel(obs: Pick<Observation, 'method' | 'requestHeaders'>): string {
  const raw = headerValue(obs.requestHeaders, 'BITS-Packet-Type');
  if (raw === undefined) return obs.method.toUpperCase() === BITS_METHOD ? 'unknown' : 'http';
  const type = parsePacketType(raw);
  return type === undefined || type === 'ack' ? 'unknown' : type;
}

export function statusClass(status: number | undefined): string {
  return status !== undefined && status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : 'none';
}

function packageVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Sessions remembered for the event-derived state gauge (the tracker evicts well before). */
const MAX_TRACKED_SESSIONS = 200_000;

export class BitsgateMetrics implements ObservationSink {
  readonly registry: Registry;
  private readonly states = new Map<string, SessionState>();
  private dashboardClients: () => number = () => 0;
  private readonly sessionsTotal: Counter<'outcome'>;
  private readonly sessionsCreated: Counter;
  private readonly violations: Counter<'code' | 'severity'>;
  private readonly packets: Counter<'type' | 'status_class'>;
  private readonly bytes: Counter<'direction'>;
  private readonly exchanges: Counter<'responder' | 'status_class'>;
  private readonly duration: Histogram<'packet'>;

  constructor(opts: MetricsOptions = {}) {
    const registry = (this.registry = opts.registry ?? new Registry());
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
    const self = this;
    const stats = opts.stats;
    new Gauge({
      name: 'bitsgate_sessions',
      help: 'Tracked upload sessions by state',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        this.reset();
        const counts: Partial<Record<string, number>> = stats ? stats().sessionsByState : self.countStates();
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n ?? 0);
      },
    });
    this.sessionsCreated = new Counter({
      name: 'bitsgate_sessions_created_total', help: 'Upload sessions seen starting', registers: [registry],
    });
    this.sessionsTotal = new Counter({
      name: 'bitsgate_sessions_total', help: 'Upload sessions ended, by final state',
      labelNames: ['outcome'], registers: [registry],
    });
    this.violations = new Counter({
      name: 'bitsgate_violations_total', help: 'Protocol violations detected, by rule',
      labelNames: ['code', 'severity'], registers: [registry],
    });
    this.packets = new Counter({
      name: 'bitsgate_packets_total', help: 'BITS packets decoded, by type and response status class',
      labelNames: ['type', 'status_class'], registers: [registry],
    });
    this.bytes = new Counter({
      name: 'bitsgate_bytes_total', help: 'Body bytes relayed, by direction',
      labelNames: ['direction'], registers: [registry],
    });
    this.exchanges = new Counter({
      name: 'bitsgate_exchanges_total', help: 'HTTP exchanges relayed, by responder and status class',
      labelNames: ['responder', 'status_class'], registers: [registry],
    });
    this.duration = new Histogram({
      name: 'bitsgate_request_duration_seconds',
      help: 'Time from request head to end of exchange, by packet type',
      labelNames: ['packet'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    new Gauge({
      name: 'bitsgate_dashboard_clients', help: 'Connected dashboard WebSocket clients', registers: [registry],
      collect() {
        this.set(self.dashboardClients());
      },
    });
    const info = new Gauge({
      name: 'bitsgate_build_info', help: 'bitsgate version', labelNames: ['version'], registers: [registry],
    });
    info.set({ version: opts.version ?? packageVersion() }, 1);
    for (const [direction] of [['request'], ['response']] as const) this.bytes.inc({ direction }, 0);
  }

  /** Subscribes to the bus; returns the unsubscribe function. */
  attach(bus: EventBus): () => void {
    return bus.subscribe((e) => this.onEvent(e));
  }

  /** The dashboard reports its client count through this. */
  setDashboardClients(count: () => number): void {
    this.dashboardClients = count;
  }

  onEvent(event: BitsEvent): void {
    switch (event.type) {
      case 'session-created':
        this.sessionsCreated.inc();
        this.states.set(event.session.id, event.session.state);
        if (this.states.size > MAX_TRACKED_SESSIONS) this.states.delete(this.states.keys().next().value!);
        break;
      case 'session-updated':
        this.states.set(event.session.id, event.session.state);
        break;
      case 'session-ended':
        this.sessionsTotal.inc({ outcome: event.session.state });
        this.states.set(event.session.id, event.session.state);
        break;
      case 'session-evicted':
        this.sessionsTotal.inc({ outcome: 'evicted' });
        this.states.delete(event.session.id);
        break;
      case 'packet':
        this.packets.inc({ type: event.packet.kind, status_class: statusClass(event.packet.status) });
        break;
      case 'violation':
        this.violations.inc({ code: event.violation.code, severity: event.violation.severity });
        break;
    }
  }

  onObservation(obs: Observation): void {
    this.bytes.inc({ direction: 'request' }, obs.requestBodyBytes);
    this.bytes.inc({ direction: 'response' }, obs.responseBodyBytes);
    this.exchanges.inc({ responder: obs.responder ?? 'none', status_class: statusClass(obs.status) });
    this.duration.observe({ packet: packetLabel(obs) }, Math.max(0, obs.endedAt - obs.startedAt) / 1000);
  }

  private countStates(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of this.states.values()) counts[s] = (counts[s] ?? 0) + 1;
    return counts;
  }
}

/** A metrics sink subscribed to `bus`. */
export function createMetrics(bus: EventBus, opts: MetricsOptions = {}): BitsgateMetrics {
  const m = new BitsgateMetrics(opts);
  m.attach(bus);
  return m;
}
