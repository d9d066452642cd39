/** The session core: observations in, typed events out. Pure; see tracker.ts for the theory. */
export * from './events.js';
export { VIOLATION_CATALOG, type ViolationInfo } from './catalog.js';
export { SessionTracker, TRACKER_DEFAULTS, type SessionTrackerOptions, type TrackerStats, type RecentViolation } from './tracker.js';
export type { Rule, Finding, ExchangeContext } from './rules/types.js';
export { CLOSE_RULES } from './rules/close-rules.js';
export { FRAGMENT_RULES } from './rules/fragment-rules.js';
export { EXCHANGE_RULES, CREATE_ACK_RULES } from './rules/exchange-rules.js';
export { LIFECYCLE, transition, isLive, type Row as LifecycleRow, type LifecycleState, type LifecyclePacket } from './lifecycle.js';
export { replay, parseRecordingLine, RECORDING_FORMAT, type ReplayResult, type ReplayOptions, type ReplayNotice, type RecordingLine } from './replay.js';
