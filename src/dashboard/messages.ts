/**
 * The dashboard wire format: every message the server sends on `/events`, one JSON text
 * frame each. Shared by the server (src/dashboard) and the browser UI (web/src), which
 * imports these types at build time, so both sides change together.
 *
 * Stream contract: after a `snapshot` with `seq = S`, the client receives every event with
 * seq > S in increasing seq order, except `session-updated` events superseded by a later
 * update of the same session (coalesced when the client is behind). A `snapshot` may arrive
 * again at any time (after `resync`, or with reason `rebuilt` when a fleet node rebuilt its
 * view from the stream after a Redis outage); it replaces all state.
 */
import type { BitsEvent } from '../sessions/events.js';
import type { SeqViolation, TrackerStats } from './snapshot-source.js';
import type { SessionSummary } from '../sessions/events.js';

export const DASHBOARD_PROTOCOL = 1;

/** Why a snapshot was sent instead of (or before) the next events. */
export type SnapshotReason = 'connect' | 'since-unavailable' | 'resync' | 'rebuilt';

export interface SnapshotMessage {
  type: 'snapshot';
  protocol: typeof DASHBOARD_PROTOCOL;
  reason: SnapshotReason;
  /**
   * Identifies this server process's seq space. The client sends it back with `since`
   * (`?since=SEQ&instance=ID`): after a restart seqs start again, and a resume point of
   * the old process must get a snapshot, not the new process's events.
   */
  instance: string;
  /** Seq of the last event reflected in this state. */
  seq: number;
  /** The most recently active sessions, at most the server's snapshot limit. */
  sessions: SessionSummary[];
  /** Sessions the tracker holds (more than `sessions.length` when the snapshot was capped). */
  sessionsTotal: number;
  /** Newest first. */
  violations: SeqViolation[];
  stats: TrackerStats;
  /** Server time, epoch ms (lets the UI show ages without trusting the browser clock). */
  serverTime: number;
  /** Present only with `--control`: the live injection rules (the UI shows its control panel). */
  control?: { injections: InjectionView[] };
}

/** One live fault-injection rule as the dashboard shows it (`GET /api/injections` returns a list of these). */
export interface InjectionView {
  id: string;
  /** Canonical rule text (`fragment#2: status=503`). */
  rule: string;
  origin: string;
  fired: number;
  spent: boolean;
  addedAt: number;
}

/**
 * With `--control`: the whole current list of injection rules, sent after every add, remove
 * or fire. Outside the event seq space: each one replaces the previous list.
 */
export interface InjectionsMessage {
  type: 'injections';
  injections: InjectionView[];
}

/** A batch of events in increasing seq order. */
export interface EventsMessage {
  type: 'events';
  events: BitsEvent[];
}

/** The client fell too far behind; its queue was dropped and a fresh snapshot follows. */
export interface ResyncMessage {
  type: 'resync';
  reason: 'too-far-behind';
  /** Seq of the last event delivered before the drop. */
  lastDelivered: number;
}

/** Sent when the stream is idle so the browser can tell a quiet server from a dead link. */
export interface HeartbeatMessage {
  type: 'heartbeat';
  seq: number;
  serverTime: number;
}

/** One case of a conformance suite as the dashboard's Conformance panel shows it. */
export interface ConformanceCaseView {
  id: string;
  /** `waiting`, `running`, `pass`, `fail` or `incomplete`. */
  state: string;
  fault: string;
  expected: string;
  reference: string;
  /** The judge's one line (untrusted text from traffic may appear in it: render as text). */
  reason?: string;
  sessions: string[];
  url?: string;
}

/**
 * The live state of a conformance suite (`bitsgate check-client`): the whole table each time
 * (a handful of cases), sent after every snapshot and whenever it changes. Not an event:
 * it has no seq and is not replayed by `?since`.
 */
export interface ConformanceMessage {
  type: 'conformance';
  suite: 'client';
  cases: ConformanceCaseView[];
  /** Every case has its verdict. */
  done: boolean;
}

export type ServerMessage = SnapshotMessage | EventsMessage | ResyncMessage | HeartbeatMessage | InjectionsMessage | ConformanceMessage;

/** Response of `GET /api/violations`. */
export type ViolationsResponse = SeqViolation[];

/** JSON error body of the API. */
export interface ApiError {
  error: string;
}

/** JSON body of `POST /api/injections` answered 400 for a rule that does not parse. */
export interface RuleErrorBody extends ApiError {
  rule: string;
  /** Where the parser stopped in `rule`: its 0-based column, as its message says it. */
  column: number;
}
