import { MAX_SESSION_ID_LENGTH } from './constants.js';
import { type Decoded, fail, ok } from './decoded.js';

/**
 * `BITS-Session-Id`: the server chooses it and the client echoes it verbatim, so any value
 * legal in an HTTP header is accepted (braced or bare GUIDs, signed decimals, base-64-ish
 * tokens, even a URL path), compared exactly. Allowed: visible ASCII, with spaces/tabs only
 * inside. Non-ASCII (obs-text) is refused: no server we know issues it, and it is a log-
 * injection and display hazard.
 */
export function parseSessionId(value: string): Decoded<string> {
  if (isPlainSessionId(value)) return ok(value);
  const v = value.trim();
  if (v.length === 0) return fail('BITS-Session-Id is empty');
  if (v.length > MAX_SESSION_ID_LENGTH) {
    return fail(`BITS-Session-Id is ${v.length} characters long, more than the ${MAX_SESSION_ID_LENGTH} allowed`);
  }
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x21 || c > 0x7e) && c !== 0x20 && c !== 0x09) {
      return fail(`BITS-Session-Id contains the character U+${c.toString(16).toUpperCase().padStart(4, '0')} at position ${i}`);
    }
  }
  return ok(v);
}

/**
 * The common case without allocating: already trimmed, 1..100 visible ASCII characters.
 * Anything else goes through parseSessionId for the exact reason (or internal spaces).
 */
export function isPlainSessionId(v: string): boolean {
  const n = v.length;
  if (n === 0 || n > MAX_SESSION_ID_LENGTH) return false;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** `BITS-Supported-Protocols`: GUIDs separated by spaces (commas tolerated), empty items dropped. */
export function parseSupportedProtocols(value: string): string[] {
  const out: string[] = [];
  for (const item of value.split(/[\s,]+/)) if (item) out.push(item);
  return out;
}

const GUID_SHAPE = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;

/**
 * Whether two session ids name the same session. GUIDs compare case-insensitively: Windows
 * issues upper-case braced GUIDs and some servers echo them lower-cased (bits-protocol.md §8),
 * and a GUID's hex digits mean the same in either case. Any other token compares exactly.
 */
export function sameSessionId(a: string, b: string): boolean {
  if (a === b) return true;
  return a.length === b.length && GUID_SHAPE.test(a) && GUID_SHAPE.test(b) && a.toLowerCase() === b.toLowerCase();
}

/**
 * The map key of a session id, by the same reading: sameSessionId(a, b) exactly when
 * sessionIdKey(a) === sessionIdKey(b) (a GUID lower-cased, braces kept; any other token as is).
 */
export function sessionIdKey(id: string): string {
  return GUID_SHAPE.test(id) ? id.toLowerCase() : id;
}

/** A GUID, braced or bare, in any letter case. */
export function isGuid(value: string): boolean {
  return GUID_SHAPE.test(value);
}
