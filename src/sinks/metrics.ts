/**
 * Prometheus metrics (prom-client), a sink of the event bus and of observations.
 * Names follow field-notes §5: `bitsgate_*`, base units, `_total` on counters, and only
 * bounded labels (packet type, status class, state, violation code): never a session id,
 * URL or client address.
 *
 * Cost (field-notes-2 §6): a prom-client `inc(labels)` re-validates and re-hashes its labels
 * on every call (~200 ns, cached children included). So events and observations are counted
 * in plain fields here, and each counter copies them into prom-client in its `collect()`,
 * which runs only when `/metrics` is scraped. The one histogram is counted the same way
 * (`PlainHistogram`), from observations that arrive in the gateway's per-turn sink batch,
 * never inside a response's 'finish'.
 * Packet types come from the exchange's one decoding (`decodeExchange`), not from headers.
 */
import { createRequire } from 'node:module';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { logBytesDropped } from './logger.js';
import type { EventBus } from '../event-bus.js';
import type { Observation, ObservationSink } from '../observation.js';
import { decodeExchange } from '../protocol/index.js';
import type { BitsEvent, SessionState } from '../sessions/events.js';
import { packetKind } from '../sessions/packet-record.js';

export interface MetricsOptions {
  registry?: Registry;
  /** Add prom-client's process_* / nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
  version?: string;
  /** Authoritative session counts at scrape time (the tracker); else derived from events. */
  stats?: () => { sessionsByState: Partial<Record<SessionState, number>> };
}

/**
 * Bounded label for an exchange's failure: the gateway's and listener's stable reason codes
 * (`upstream-closed`, `body-timeout`, ...), a few dozen in all. Anything else (a replayed
 * recording could carry any text) is `other`.
 */
export function errorLabel(error: string): string {
  return /^[a-z][a-z0-9-]{0,39}$/.test(error) ? error : 'other';
}

/** Status class labels by hundreds digit; index 0 stands for "no (valid) status". */
const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

function statusClassIndex(status: number | undefined): number {
  return status !== undefined && status >= 100 && status <= 599 ? Math.floor(status / 100) : 0;
}

export function statusClass(status: number | undefined): string {
  return STATUS_CLASSES[statusClassIndex(status)]!;
}

/** Counts by one bounded label, then by status class: plain numbers, no allocation per count. */
class ByStatusClass {
  private readonly counts = new Map<string, Float64Array>();

  add(label: string, status: number | undefined, n = 1): void {
    let row = this.counts.get(label);
    if (row === undefined) this.counts.set(label, (row = new Float64Array(STATUS_CLASSES.length)));
    row[statusClassIndex(status)]! += n;
  }

  forEach(fn: (label: string, statusClass: string, value: number) => void): void {
    for (const [label, row] of this.counts) {
      for (let i = 0; i < row.length; i++) if (row[i]! > 0) fn(label, STATUS_CLASSES[i]!, row[i]!);
    }
  }
}

/** Upper bounds (seconds) of `bitsgate_request_duration_seconds`. */
const DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** One label value's row, in the shape prom-client's Histogram keeps per label set. */
interface HistogramRow {
  labels: Record<string, string>;
  /** Count per upper bound, not cumulative (prom-client accumulates when it writes). */
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * A histogram by one bounded label, counted in plain fields as prom-client's `observe` would
 * (first bound >= value; past the last one only `count` grows; `sum` added in arrival order,
 * so even its float rounding is the same) and handed to a prom-client Histogram at scrape.
 */
class PlainHistogram {
  private readonly rows = new Map<string, { buckets: Float64Array; row: HistogramRow }>();

  constructor(private readonly labelName: string, private readonly bounds: readonly number[]) {}

  observe(label: string, value: number): void {
    let entry = this.rows.get(label);
    if (entry === undefined) {
      entry = { buckets: new Float64Array(this.bounds.length), row: { labels: { [this.labelName]: label }, bucketValues: {}, sum: 0, count: 0 } };
      this.rows.set(label, entry);
    }
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        entry.buckets[i]!++;
        break;
      }
    }
    entry.row.sum += value;
    entry.row.count++;
  }

  /**
   * The rows as prom-client's Histogram stores them, first-seen label first. prom-client has
   * no public setter for a histogram's values, so `collect()` swaps these in for its own map
   * (`hashMap`, the store its `observe` fills and its `get` reads, keyed `name:value`). That
   * is prom-client internals: package.json pins prom-client exactly, and a test pins the bytes.
   */
  promClientValues(): Record<string, HistogramRow> {
    const out: Record<string, HistogramRow> = {};
    for (const [label, { buckets, row }] of this.rows) {
      for (let i = 0; i < buckets.length; i++) row.bucketValues[this.bounds[i]!] = buckets[i]!;
      out[`${this.labelName}:${label}`] = row;
    }
    return out;
  }
}

/**
 * Registers counters whose values live in plain fields (see the header comment): at each
 * scrape the counter is reset and `fill` adds the running totals.
 */
function scrapedCounter(registry: Registry) {
  return (name: string, help: string, labelNames: string[], fill: (add: (labels: Record<string, string>, n: number) => void) => void): void => {
    new Counter({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset();
        fill((labels, n) => this.inc(labels, n));
      },
    });
  };
}

/** Adds one to `key`'s count. */
function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
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
  // The counts; prom-client reads them in collect() (see the header comment).
  private sessionsCreatedCount = 0;
  private readonly outcomes = new Map<string, number>();
  /** code -> severity -> count */
  private readonly violationCounts = new Map<string, Map<string, number>>();
  private readonly retractedCounts = new Map<string, number>();
  private readonly packetCounts = new ByStatusClass();
  private readonly exchangeCounts = new ByStatusClass();
  /** Failed exchanges by errorLabel(). */
  private readonly errorCounts = new Map<string, number>();
  private requestBytes = 0;
  private responseBytes = 0;
  /** Injected faults by action (six kinds: a bounded label). */
  private readonly injectedCounts = new Map<string, number>();
  private readonly durations = new PlainHistogram('packet', DURATION_BUCKETS);

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
    // Counters below: reset, then the running totals, at every scrape. Totals only grow, so
    // what Prometheus sees is a normal monotonic counter.
    const counter = scrapedCounter(registry);
    counter('bitsgate_sessions_created_total', 'Upload sessions seen starting', [], (add) => add({}, self.sessionsCreatedCount));
    counter('bitsgate_sessions_total', 'Upload sessions ended, by final state', ['outcome'], (add) => {
      for (const [outcome, n] of self.outcomes) add({ outcome }, n);
    });
    counter('bitsgate_violations_total', 'Protocol violations detected, by rule', ['code', 'severity'], (add) => {
      for (const [code, bySeverity] of self.violationCounts) {
        for (const [severity, n] of bySeverity) add({ code, severity }, n);
      }
    });
    counter('bitsgate_violations_retracted_total', 'Violations withdrawn after a fleet node rebuilt its view from the stream, by rule', ['code'], (add) => {
      for (const [code, n] of self.retractedCounts) add({ code }, n);
    });
    counter('bitsgate_packets_total', 'BITS packets decoded, by type and response status class', ['type', 'status_class'], (add) => {
      self.packetCounts.forEach((type, status_class, n) => add({ type, status_class }, n));
    });
    counter('bitsgate_bytes_total', 'Body bytes relayed, by direction', ['direction'], (add) => {
      add({ direction: 'request' }, self.requestBytes);
      add({ direction: 'response' }, self.responseBytes);
    });
    counter('bitsgate_exchanges_total', 'HTTP exchanges relayed, by responder and status class', ['responder', 'status_class'], (add) => {
      self.exchangeCounts.forEach((responder, status_class, n) => add({ responder, status_class }, n));
    });
    counter('bitsgate_exchange_errors_total',
      'Exchanges that failed, by reason (e.g. upstream-closed: the upstream closed the connection without answering)', ['error'], (add) => {
        for (const [error, n] of self.errorCounts) add({ error }, n);
      });
    counter('bitsgate_injected_faults_total', 'Faults the gateway injected (--inject), by action', ['action'], (add) => {
      for (const [action, n] of self.injectedCounts) add({ action }, n);
    });
    new Histogram({
      name: 'bitsgate_request_duration_seconds',
      help: 'Time from request head to end of exchange, by packet type',
      labelNames: ['packet'],
      buckets: [...DURATION_BUCKETS],
      registers: [registry],
      collect() {
        (this as unknown as { hashMap: Record<string, HistogramRow> }).hashMap = self.durations.promClientValues();
      },
    });
    counter('bitsgate_log_dropped_bytes_total', 'Log bytes dropped because stdout could not keep up', [], (add) => add({}, logBytesDropped()));
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
        this.sessionsCreatedCount++;
        this.states.set(event.session.id, event.session.state);
        if (this.states.size > MAX_TRACKED_SESSIONS) this.states.delete(this.states.keys().next().value!);
        break;
      case 'session-updated':
        this.states.set(event.session.id, event.session.state);
        break;
      case 'session-ended':
        bump(this.outcomes, event.session.state);
        this.states.set(event.session.id, event.session.state);
        break;
      case 'session-evicted':
        bump(this.outcomes, 'evicted');
        this.states.delete(event.session.id);
        break;
      case 'packet':
        this.packetCounts.add(event.packet.kind, event.packet.status);
        break;
      case 'fault-injected':
        bump(this.injectedCounts, event.action);
        break;
      case 'violation': {
        const { code, severity } = event.violation;
        let bySeverity = this.violationCounts.get(code);
        if (bySeverity === undefined) this.violationCounts.set(code, (bySeverity = new Map()));
        bump(bySeverity, severity);
        break;
      }
      case 'violation-retracted':
        bump(this.retractedCounts, event.violation.code);
        break;
    }
  }

  onObservation(obs: Observation): void {
    this.requestBytes += obs.requestBodyBytes;
    this.responseBytes += obs.responseBodyBytes;
    this.exchangeCounts.add(obs.responder ?? 'none', obs.status);
    if (obs.error !== undefined) {
      bump(this.errorCounts, errorLabel(obs.error));
    }
    const packet = packetKind(decodeExchange(obs).request);
    this.durations.observe(packet, Math.max(0, obs.endedAt - obs.startedAt) / 1000);
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
