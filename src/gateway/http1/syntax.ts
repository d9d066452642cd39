/** Character classes of RFC 9110 §5.6 / RFC 9112 used by the head and trailer parsers (tokens: src/protocol's isToken). */
import { isToken } from '../../protocol/index.js';

/** Anything but VCHAR / obs-text / SP / HTAB is forbidden in a field value or a reason phrase (CR, LF, NUL, other CTLs, DEL). */
export const FIELD_VALUE_FORBIDDEN = /[\x00-\x08\x0a-\x1f\x7f]/;

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;

/** Strips optional whitespace (SP / HTAB) at both ends. */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === SP || s.charCodeAt(a) === HTAB)) a++;
  while (b > a && (s.charCodeAt(b - 1) === SP || s.charCodeAt(b - 1) === HTAB)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Parses one `name: value` field line (header or trailer). Returns a reason code on failure. */
export function parseFieldLine(line: string): { ok: true; value: [string, string] } | { ok: false; reason: string } {
  const first = line.charCodeAt(0);
  if (first === SP || first === HTAB) return { ok: false, reason: 'obs-fold' };
  const colon = line.indexOf(':');
  if (colon < 0) return { ok: false, reason: 'bad-header-line' };
  const name = line.slice(0, colon);
  if (!isToken(name)) {
    const last = name.charCodeAt(name.length - 1);
    if (name.length > 0 && (last === SP || last === HTAB)) return { ok: false, reason: 'space-before-colon' };
    return { ok: false, reason: 'bad-header-name' };
  }
  const value = trimOws(line.slice(colon + 1));
  if (FIELD_VALUE_FORBIDDEN.test(value)) return { ok: false, reason: 'bad-header-value' };
  return { ok: true, value: [name, value] };
}
