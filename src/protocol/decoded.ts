import type { Severity, ViolationCode } from '../sessions/events.js';

/** What every decoder returns: a value, or a reason a human can read. Decoders never throw. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export function ok<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function fail<T = never>(reason: string): Decoded<T> {
  return { ok: false, reason };
}

/** The violation codes a single packet can show without any session context. */
export type ProblemCode = Extract<
  ViolationCode,
  | 'packet-missing-header'
  | 'packet-bad-header'
  | 'packet-unknown-type'
  | 'protocol-unsupported'
  | 'fragment-length-mismatch'
  | 'ack-missing'
>;

/** Something wrong with one packet, found by the decoder; the tracker turns it into a Violation. */
export interface Problem {
  code: ProblemCode;
  /** The header concerned, as the protocol spells it (e.g. `Content-Range`). */
  header?: string;
  reason: string;
  /** How bad it is on its own; defaults to `warning` when absent. */
  severity?: Severity;
}
