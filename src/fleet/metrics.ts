import { Counter, Gauge, type Registry } from 'prom-client';
import type { FleetStats } from './fleet-link.js';

/** `/metrics` of a fleet member: connection, backlog, loss (read from FleetLink.stats() at scrape time). */
export function registerFleetMetrics(registry: Registry, stats: () => FleetStats): void {
  const gauge = (name: string, help: string, value: (s: FleetStats) => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(value(stats())); } });
  const counter = (name: string, help: string, value: (s: FleetStats) => number) =>
    new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(value(stats())); } });
  gauge('bitsgate_fleet_connected', '1 while Redis takes this node\'s observations, 0 while tracking locally', (s) => (s.connected ? 1 : 0));
  gauge('bitsgate_fleet_backlog', 'Own observations waiting for Redis', (s) => s.backlog);
  gauge('bitsgate_fleet_backlog_limit', 'Most observations the backlog holds (--fleet-backlog)', (s) => s.backlogLimit);
  counter('bitsgate_fleet_lost_total', 'Own observations never shared with the fleet: the backlog was full', (s) => s.lost);
  counter('bitsgate_fleet_published_total', 'Own observations appended to the stream', (s) => s.published);
  counter('bitsgate_fleet_applied_total', 'Fleet observations (all nodes) applied to this node\'s tracker', (s) => s.applied);
  counter('bitsgate_fleet_hangs_total', 'Times Redis held a connection without answering within the deadline (treated as an outage)', (s) => s.hangs);
  counter('bitsgate_fleet_rebuilds_total', 'Rebuilds of this node\'s view from the stream after an outage', (s) => s.rebuilds);
  counter('bitsgate_fleet_duplicates_total', 'Stream entries dropped as already applied', (s) => s.duplicates);
}
