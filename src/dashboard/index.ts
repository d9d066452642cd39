/** Public surface of the dashboard for src/app.ts and the CLI. */
export { startDashboard, type DashboardHandle, type DashboardOptions } from './server.js';
export type { SnapshotSource, TrackerStats, SeqViolation } from './snapshot-source.js';
export { DashboardHub, HUB_DEFAULTS, type HubOptions, type ClientTransport } from './hub.js';
export type { ServerMessage, SnapshotMessage, EventsMessage, ResyncMessage, HeartbeatMessage } from './messages.js';
