import type { AnswerClass, BitsAck, BitsRequest } from '../../protocol/index.js';
import type { Observation } from '../../observation.js';
import type { Severity, ViolationCode } from '../events.js';
import type { LifecycleState } from '../lifecycle.js';
import type { Session } from '../session.js';

/** Everything a rule may look at for one exchange. Rules only read it. */
export interface ExchangeContext {
  obs: Observation;
  req: BitsRequest;
  /** The decoded response; undefined when the exchange got no response. */
  ack: BitsAck | undefined;
  /** The session as it was BEFORE this exchange (undefined: no session with this id is known). */
  session: Session | undefined;
  /** Its state before this exchange (`unknown`: no session with this id is known). */
  state: LifecycleState;
  /** What the answer means to a client (src/protocol/answer.ts). */
  answer: AnswerClass;
  /** Host names known to reach this gateway (Host headers of Create-Sessions seen here). */
  gatewayHosts: ReadonlySet<string>;
  /** The session id the request named, if valid. */
  sessionId: string | undefined;
  /** Host header of the request, trimmed. */
  host: string | undefined;
  sessionTimeoutMs: number;
  /** Other exchanges of this session whose lifetime overlapped this one (Close-Session only). */
  busyWith: readonly number[];
}

/** One rule's verdict: the line a human reads, and optionally a severity other than the catalog's. */
export interface Finding {
  message: string;
  severity?: Severity;
  /** Extra exchange ids that prove it (the current one is always included). */
  exchanges?: number[];
}

/** A protocol rule as data: adding a rule is adding one of these to a list (and one test). */
export interface Rule {
  code: ViolationCode;
  check(ctx: ExchangeContext): Finding | null;
}

export function is2xx(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}

/** Untrusted text (URLs, ids) quoted as data and cut to a readable length. */
export function q(text: string, max = 120): string {
  return JSON.stringify(text.length > max ? text.slice(0, max) + '...' : text);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}
