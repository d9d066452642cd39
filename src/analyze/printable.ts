/**
 * Untrusted text (URLs, session ids, header values from traffic) made safe for a terminal:
 * control characters, DEL/C1 and bidi overrides are shown as \u escapes instead of being
 * interpreted (no escape-sequence or log injection), and long values are cut.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

export function printable(text: string, max = 200): string {
  const cut = text.length > max ? text.slice(0, max) + '...' : text;
  return cut.replace(UNSAFE, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
