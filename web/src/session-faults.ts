/**
 * The session view's one-click faults (`--control`), as rules of the one grammar
 * (src/inject/rule-syntax.ts). No DOM here: the tests parse these rules directly.
 */
/** Only GUID session ids go into a rule: a session id from traffic must never add rule keys. */
const GUID = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;

/** The session detail's one-click faults: button label and the rule it adds. */
export const SESSION_FAULTS: ReadonlyArray<{ action: string; label: string; rule: (id: string) => string }> = [
  { action: 'drop-ack', label: 'drop the next Ack', rule: (id) => `any: drop-ack session=${id} times=1` },
  { action: 'fragment-503', label: 'answer the next fragment 503', rule: (id) => `fragment: status=503 session=${id} times=1` },
  { action: 'forget-session', label: 'forget this session', rule: (id) => `any: forget-session session=${id}` },
];

export function isGuid(sessionId: string): boolean {
  return GUID.test(sessionId);
}
