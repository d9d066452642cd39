/**
 * Estimated bytes an event costs the hub while it holds it: the event object and the JSON
 * string the hub caches for it once a client is sent it (roughly as large as its strings).
 * Used to bound the ring, each client's queue and the snapshot in bytes: a count alone is
 * no bound when one event may carry a 60 KB Host or 8 KiB of headers. On the high side of
 * V8's real cost, like src/sessions/retention.ts, whose estimates it reuses for records.
 */
import type { BitsEvent, SessionSummary, Violation } from '../sessions/events.js';
import { recordBaseBytes, retainedHeaderBytes } from '../sessions/retention.js';

const EVENT_OVERHEAD = 96;
const SUMMARY_OVERHEAD = 320;
const VIOLATION_OVERHEAD = 160;

function str(s: string | undefined): number {
  return s === undefined ? 0 : 16 + s.length;
}

/** A session summary, as an object and as JSON. */
export function summaryBytes(s: SessionSummary): number {
  const strings = str(s.id) + str(s.url) + str(s.host) + str(s.contentName) + str(s.client) + str(s.protocol) +
    str(s.hostId) + str(s.replyUrl) + 48 * s.errorCodes.length + 32 * s.violations.length;
  return SUMMARY_OVERHEAD + 2 * strings;
}

function violationBytes(v: Violation): number {
  // `explain` is the catalog's shared string in the object, a copy in the JSON.
  return VIOLATION_OVERHEAD + 2 * (str(v.message) + str(v.sessionId)) + str(v.explain) + 16 * v.exchanges.length;
}

export function eventBytes(e: BitsEvent): number {
  switch (e.type) {
    case 'packet':
      return EVENT_OVERHEAD + str(e.sessionId) + 2 * (recordBaseBytes(e.packet) + retainedHeaderBytes(e.packet));
    case 'violation':
    case 'violation-retracted':
      return EVENT_OVERHEAD + violationBytes(e.violation);
    case 'fault-injected':
      return EVENT_OVERHEAD + 2 * (str(e.sessionId) + str(e.rule) + str(e.injectionId) + str(e.action));
    default:
      return EVENT_OVERHEAD + summaryBytes(e.session);
  }
}
