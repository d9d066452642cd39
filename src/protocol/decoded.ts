/** What every decoder returns: a value, or a reason a human can read. Decoders never throw. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export function ok<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function fail<T = never>(reason: string): Decoded<T> {
  return { ok: false, reason };
}

/** How bad a finding is. Defined here, below src/sessions, so the decoder can grade its problems. */
export type Severity = 'info' | 'warning' | 'error';

/**
 * The violation codes a single packet can show without any session context. src/sessions
 * lists them among its ViolationCodes (a compile-time check there keeps the two in step);
 * the protocol layer never imports from src/sessions.
 */
export const PROBLEM_CODES = [
  'packet-missing-header',
  'packet-bad-header',
  'packet-unknown-type',
  'protocol-unsupported',
  'fragment-length-mismatch',
  'ack-missing',
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

/** Something wrong with one packet, found by the decoder; the tracker turns it into a Violation. */
export interface Problem {
  code: ProblemCode;
  /** The header concerned, as the protocol spells it (e.g. `Content-Range`). */
  header?: string;
  reason: string;
  /** How bad it is on its own; defaults to `warning` when absent. */
  severity?: Severity;
}
