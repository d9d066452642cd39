import type { HeaderList } from '../observation.js';

/**
 * Header lookup on a wire-order list. Names compare case-insensitively (peers send
 * `Bits-Packet-Type`, `BITS-PACKET-TYPE`...). Linear scans: a BITS head has a dozen fields,
 * so this beats building a map per exchange on the hot path.
 */

/** Value of the first field named `name` (any case), trimmed; undefined when absent. */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const len = wanted.length;
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!;
    const n = field[0];
    if (n.length === len && (n === wanted || n.toLowerCase() === wanted)) return field[1].trim();
  }
  return undefined;
}

/** Values of every field named `name` (any case), trimmed, in wire order. */
export function headerValues(headers: HeaderList, name: string): string[] {
  const wanted = name.toLowerCase();
  const len = wanted.length;
  const out: string[] = [];
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!;
    const n = field[0];
    if (n.length === len && (n === wanted || n.toLowerCase() === wanted)) out.push(field[1].trim());
  }
  return out;
}

/**
 * tchar (RFC 9110 §5.6.2) by character code: 1 where the character may stand in a token (a
 * method, a field name). The one spelling of the set: the gateway's head parser reads it per
 * byte, isToken per string.
 */
export const TCHAR: Uint8Array = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/** token = 1*tchar */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  return true;
}
