/**
 * Typed events: the only output of the protocol core. The gateway publishes them on the
 * event bus, the sinks (log, metrics, recorder, dashboard hub) subscribe, and `analyze`
 * consumes the same events from a replay. One definition for all of them.
 *
 * Fields may be added; none may be renamed or removed without updating every sink.
 */

import type { InjectedFault } from '../observation.js';
import type { ProblemCode, Severity } from '../protocol/decoded.js';

export type { Severity };

/** The lifecycle and its transitions: src/sessions/lifecycle.ts. */
export type SessionState =
  | 'open'
  | 'uploaded'
  | 'closing'
  | 'closed'
  | 'cancelled'
  | 'failed'
  | 'expired'
  | 'evicted';

/** States after which the session accepts no further packets. */
export const TERMINAL_STATES: ReadonlySet<SessionState> = new Set([
  'closed',
  'cancelled',
  'failed',
  'expired',
  'evicted',
]);

export const VIOLATION_CODES = [
  // Invalid closes: the centre of the product.
  'close-incomplete',
  'close-before-reply',
  'close-unknown-session',
  'close-after-end',
  'close-while-busy',
  'close-no-data',
  'close-other-url',
  'close-wrong-host',
  'close-rejected',
  'close-after-expiry',
  // Fragments.
  'fragment-gap',
  'fragment-overlap',
  'fragment-total-changed',
  'fragment-length-mismatch',
  'fragment-after-end',
  'fragment-unknown-session',
  // Packets and Acks.
  'packet-missing-header',
  'packet-bad-header',
  'packet-unknown-type',
  'protocol-unsupported',
  'ack-missing',
  'ack-session-mismatch',
  'ack-range-regressed',
  'server-error',
  'host-id-ignored',
  // The connection, not a session.
  'auth-channel-binding',
] as const;

export type ViolationCode = (typeof VIOLATION_CODES)[number];

/** Compile-time check: every problem the decoder reports is a violation code. */
type AssertSubset<T extends ViolationCode> = T;
export type DecoderProblemCodes = AssertSubset<ProblemCode>;

export interface Violation {
  code: ViolationCode;
  severity: Severity;
  /** The session it concerns, when one is known (the id as the client sent it). */
  sessionId?: string;
  /** One line: what happened, with the numbers that prove it. */
  message: string;
  /** What goes wrong because of it and what the client or server should do. */
  explain: string;
  /** Observation ids of the exchanges that prove it. */
  exchanges: number[];
  /** Epoch ms of the observation that triggered it. */
  time: number;
}

/** Normalised BITS packet type, or `http` for an ordinary request (e.g. the reply GET). */
export type PacketKind =
  | 'ping'
  | 'create-session'
  | 'fragment'
  | 'close-session'
  | 'cancel-session'
  | 'unknown'
  | 'http';

/** One exchange as the dashboard timeline and the log show it. */
export interface PacketRecord {
  /** Observation id. */
  exchange: number;
  connectionId: number;
  kind: PacketKind;
  method: string;
  url: string;
  /** Response status; absent when the exchange got no response. */
  status?: number;
  /** Fragment range as sent: inclusive offsets and total. */
  range?: { start: number; end: number; total: number };
  /** `BITS-Received-Content-Range` of the Ack, when present and valid. */
  ackedOffset?: number;
  requestBytes: number;
  responseBytes: number;
  /** Decoded `BITS-Error-Code` of the Ack, e.g. `0x8020001F BG_E_SESSION_NOT_FOUND`. */
  errorCode?: string;
  startedAt: number;
  /** Milliseconds from request head to end of exchange. */
  ms: number;
  error?: string;
  requestHeaders: ReadonlyArray<readonly [string, string]>;
  responseHeaders?: ReadonlyArray<readonly [string, string]>;
  /**
   * True on an older timeline entry whose raw header lists were released to bound memory
   * (the tracker keeps them for the most recent `maxRetainedHeaders` exchanges); the decoded
   * fields above remain. `requestHeaders` is then empty.
   */
  headersDropped?: boolean;
  /**
   * True when the header lists are a capped copy: each value cut to 1 KiB, at most 8 KiB of
   * headers per exchange (src/sessions/retention.ts). The decoded fields come from the full headers.
   */
  headersTruncated?: boolean;
  /** True when `url` is cut to its first 2 048 characters. */
  urlTruncated?: boolean;
  /** The fleet member that relayed the exchange (src/fleet); absent outside a fleet. */
  node?: string;
  /** The gateway injected a fault into this exchange (`--inject`): it is never held against client or server. */
  injected?: boolean;
}

export interface SessionSummary {
  id: string;
  state: SessionState;
  /** Path of the Create-Session request. */
  url: string;
  /** Host header of the Create-Session request. */
  host?: string;
  contentName?: string;
  /** Client address of the connection that created (or first showed) the session. */
  client: string;
  protocol?: string;
  hostId?: string;
  /** Total length from Content-Range; null until a fragment (or T = 0) tells it. */
  totalLength: number | null;
  /** Bytes the server acknowledged (`BITS-Received-Content-Range`). */
  ackedBytes: number;
  /** Fragment body bytes relayed to the server. */
  relayedBytes: number;
  fragments: number;
  retransmittedBytes: number;
  replyUrl?: string;
  replyFetched: boolean;
  /** Decoded error codes seen on this session's Acks. */
  errorCodes: string[];
  firstSeen: number;
  lastSeen: number;
  /** First seen mid-upload (the gateway started late): some fields are unknown. */
  adopted: boolean;
  /** The request of this session in flight now, if any. */
  outstanding?: { exchange: number; kind: PacketKind; since: number };
  /** Codes of the warnings and errors recorded against the session, in order (info findings are events only). */
  violations: ViolationCode[];
}

export interface SessionDetail extends SessionSummary {
  /** Bounded packet timeline, oldest first. */
  timeline: PacketRecord[];
}

interface EventBase {
  /** Monotonically increasing across all events of one tracker. */
  seq: number;
  /** Epoch ms (the time of the observation that caused it). */
  time: number;
}

export type BitsEvent =
  | (EventBase & { type: 'session-created'; session: SessionSummary })
  | (EventBase & { type: 'session-updated'; session: SessionSummary })
  | (EventBase & { type: 'session-ended'; session: SessionSummary })
  | (EventBase & { type: 'session-evicted'; session: SessionSummary; reason: 'capacity' })
  | (EventBase & { type: 'packet'; sessionId?: string; packet: PacketRecord })
  | (EventBase & { type: 'violation'; violation: Violation })
  /** The gateway injected a fault (Observation.injected): one per injected exchange. */
  | (EventBase & { type: 'fault-injected'; sessionId?: string; exchange: number; injectionId: string; rule: string; action: InjectedFault['action'] })
  /**
   * A violation given earlier (event `retractedSeq`) no longer stands: a fleet node judged a
   * session on half of its packets during a Redis outage, then rebuilt its view from the
   * merged stream, which does not confirm it (src/fleet).
   */
  | (EventBase & { type: 'violation-retracted'; retractedSeq: number; violation: Violation; reason: 'fleet-rebuild' });

export type BitsEventType = BitsEvent['type'];
