import { describe, expect, it } from 'vitest';
import { isToken, TCHAR } from '../../src/protocol/index.js';

// RFC 9110 §5.6.2, spelled out independently of src: "!" / "#" / "$" / "%" / "&" / "'" / "*"
// / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
const RFC_TCHARS = new Set([..."!#$%&'*+-.^_`|~", ...'0123456789', ...'abcdefghijklmnopqrstuvwxyz', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ']);

describe('tokens (RFC 9110 §5.6.2)', () => {
  it('accepts exactly the 77 tchars, one character at a time and per byte', () => {
    for (let c = 0; c < 256; c++) {
      const ch = String.fromCharCode(c);
      expect([c, isToken(ch)]).toEqual([c, RFC_TCHARS.has(ch)]);
      expect([c, TCHAR[c] === 1]).toEqual([c, RFC_TCHARS.has(ch)]);
    }
    expect(RFC_TCHARS.size).toBe(77);
  });

  it('refuses the empty string, separators inside a name and characters past Latin-1', () => {
    expect(isToken('BITS_POST')).toBe(true);
    expect(isToken('BITS-Packet-Type')).toBe(true);
    expect(isToken('')).toBe(false);
    expect(isToken('BITS POST')).toBe(false);
    expect(isToken('Host:')).toBe(false);
    expect(isToken('X-\u0100')).toBe(false);
  });
});
