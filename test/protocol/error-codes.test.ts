import { describe, expect, it } from 'vitest';
import { describeErrorCode, ERROR_CODES, formatErrorCode, parseErrorCode, parseErrorContext } from '../../src/protocol/index.js';

describe('parseErrorCode', () => {
  it.each([
    ['0x80070057', 0x80070057, 'E_INVALIDARG'],
    ['0X8020001f', 0x8020001f, 'BG_E_SESSION_NOT_FOUND'],
    ['0x80200020', 0x80200020, 'BG_E_TOO_LARGE'],
    ['0x80070005', 0x80070005, 'E_ACCESSDENIED'],
    ['x8020001F', 0x8020001f, 'BG_E_SESSION_NOT_FOUND'], // [MC-BUP] 2.2.1.2's notation (§8)
    ['80070057', 0x80070057, 'E_INVALIDARG'], // unprefixed HRESULT
    ['8020001F', 0x8020001f, 'BG_E_SESSION_NOT_FOUND'], // bare hex with a letter
    ['-2147024809', 0x80070057, 'E_INVALIDARG'], // signed 32-bit decimal
    ['0x0', 0, 'S_OK'],
    ['0', 0, 'S_OK'],
    ['1', 1, 'S_FALSE'],
    ['0x80190194', 0x80190194, 'BG_E_HTTP_ERROR_404'],
    ['0x801901A0', 0x801901a0, 'BG_E_HTTP_ERROR_416'],
  ])('%j -> %s', (text, value, name) => {
    const r = parseErrorCode(text);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value.value).toBe(value);
      expect(r.value.name).toBe(name);
    }
  });

  it('reads small unprefixed numbers as decimal and never guesses a name', () => {
    const r = parseErrorCode('5');
    expect(r).toEqual({ ok: true, value: { value: 5, hex: '0x00000005' } });
  });

  it('formats hex as 0x + 8 upper-case digits', () => {
    expect(describeErrorCode(ERROR_CODES.BG_E_SESSION_NOT_FOUND).hex).toBe('0x8020001F');
    expect(formatErrorCode(describeErrorCode(0x8020001f))).toBe('0x8020001F BG_E_SESSION_NOT_FOUND');
    expect(formatErrorCode(describeErrorCode(0x80201234))).toBe('0x80201234');
    expect(describeErrorCode(0x80190001)).toEqual({ value: 0x80190001, hex: '0x80190001' });
  });

  it('knows every code of bits-protocol.md §6', () => {
    expect(ERROR_CODES).toMatchObject({
      E_INVALIDARG: 0x80070057, E_ACCESSDENIED: 0x80070005, BG_E_INVALID_SERVER_RESPONSE: 0x8020001b,
      BG_E_ERROR_CONTEXT_REMOTE_APPLICATION: 0x8020001e, BG_E_SESSION_NOT_FOUND: 0x8020001f,
      BG_E_TOO_LARGE: 0x80200020, BG_E_STRING_TOO_LONG: 0x80200021,
      BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH: 0x80200022, BG_E_SERVER_EXECUTE_ENABLE: 0x80200023,
    });
    for (const [name, value] of Object.entries(ERROR_CODES)) {
      expect(describeErrorCode(value).name).toBe(name);
      expect(describeErrorCode(value).meaning).toBeTruthy();
    }
  });

  it.each(['', 'zz', '0x', '0x123456789', '4294967296', '-2147483649', 'E_FAIL', '0x8007 0057'])('rejects %j', (text) => {
    expect(parseErrorCode(text).ok).toBe(false);
  });

  it('reads the error context', () => {
    expect(parseErrorContext('0x5')).toEqual({ ok: true, value: 5 });
    expect(parseErrorContext('7')).toEqual({ ok: true, value: 7 });
    expect(parseErrorContext('x').ok).toBe(false);
  });
});
