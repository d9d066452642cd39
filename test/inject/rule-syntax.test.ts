import { describe, expect, it } from 'vitest';
import { InjectionRuleError, parseInjectionRule } from '../../src/inject/rule-syntax.js';

function error(text: string): { message: string; position: number; rule: string } {
  try {
    parseInjectionRule(text);
  } catch (e) {
    expect(e).toBeInstanceOf(InjectionRuleError);
    const err = e as InjectionRuleError;
    return { message: err.message, position: err.position, rule: err.rule };
  }
  throw new Error(`parsed: ${text}`);
}

describe('parseInjectionRule', () => {
  it.each([
    ['fragment#3: status=503 code=0x80004005', { packet: 'fragment', nth: 3, action: { kind: 'answer', status: 503, code: 0x80004005 } }],
    ['close: drop-ack', { packet: 'close-session', action: { kind: 'drop-ack' } }],
    ['fragment: reset-after=50%', { packet: 'fragment', action: { kind: 'reset-after', percent: 50 } }],
    ['fragment: reset-after=1000', { packet: 'fragment', action: { kind: 'reset-after', bytes: 1000 } }],
    ['create: status=500 code=0x8020001F', { packet: 'create-session', action: { kind: 'answer', status: 500, code: 0x8020001f } }],
    ['any: delay=2s', { packet: 'any', action: { kind: 'delay', ms: 2000 } }],
    ['ping: delay=250ms', { packet: 'ping', action: { kind: 'delay', ms: 250 } }],
    ['fragment: bandwidth=64KiB/s', { packet: 'fragment', action: { kind: 'bandwidth', bytesPerSecond: 65536 } }],
    ['fragment#2: status=416 range=server', { packet: 'fragment', nth: 2, action: { kind: 'answer', status: 416, range: 'server' } }],
    ['fragment: status=416 range=1024', { packet: 'fragment', action: { kind: 'answer', status: 416, range: { start: 0, end: 1023 } } }],
    ['cancel: status=500 code=0x80004005 context=0x5', { packet: 'cancel-session', action: { kind: 'answer', status: 500, code: 0x80004005, context: 5 } }],
    ['fragment: forget-session', { packet: 'fragment', action: { kind: 'forget-session' } }],
    // The grammar's own units (README): not the CLI's bare seconds and binary KB.
    ['any: delay=5', { packet: 'any', action: { kind: 'delay', ms: 5 } }],
    ['fragment: bandwidth=2KB/s', { packet: 'fragment', action: { kind: 'bandwidth', bytesPerSecond: 2000 } }],
    ['fragment: bandwidth=1MB/s', { packet: 'fragment', action: { kind: 'bandwidth', bytesPerSecond: 1_000_000 } }],
    ['fragment: bandwidth=1MiB/s', { packet: 'fragment', action: { kind: 'bandwidth', bytesPerSecond: 1_048_576 } }],
  ])('reads %s', (text, expected) => {
    const rule = parseInjectionRule(text);
    expect({ ...rule, text: undefined }).toEqual({ ...expected, text: undefined });
  });

  it('reads every scope key after the action', () => {
    const rule = parseInjectionRule('fragment: status=503 url=/uploads/* client=10.0.0.5 session={5E53C221-F2D6-4BF2-B994-1DC43CEACA8D} times=1 p=25%');
    expect(rule).toEqual({
      text: 'fragment: status=503 url=/uploads/* client=10.0.0.5 session={5E53C221-F2D6-4BF2-B994-1DC43CEACA8D} times=1 p=0.25',
      packet: 'fragment',
      action: { kind: 'answer', status: 503 },
      url: '/uploads/*',
      client: '10.0.0.5',
      session: '{5E53C221-F2D6-4BF2-B994-1DC43CEACA8D}',
      times: 1,
      probability: 0.25,
    });
    expect(parseInjectionRule('any: drop-ack p=0.5').probability).toBe(0.5);
  });

  it.each([
    'fragment#3: status=503 code=0x80004005',
    'close: drop-ack times=2',
    'fragment: reset-after=50%',
    'fragment: reset-after=7',
    'any: delay=1.5s',
    'fragment: bandwidth=1.5MB/s',
    'fragment#2: status=416 range=server',
    'fragment: status=416 range=10-19',
    'fragment: status=416 range=0',
    'cancel: status=500 code=5 context=7 url=/a/** p=10%',
    'fragment: forget-session session=abc',
  ])('gives the same rule back from its canonical text: %s', (text) => {
    const rule = parseInjectionRule(text);
    expect(parseInjectionRule(rule.text)).toEqual(rule);
  });

  it.each([
    ['fragment#3: statu=503', "unknown key 'statu' at column 12", 12],
    ['fragmnt: drop-ack', "unknown selector 'fragmnt' (one of ping, create, fragment, close, cancel, any) at column 0", 0],
    ['fragment drop-ack', "expected 'SELECTOR: ACTION' (missing ':') at column 17", 17],
    ['fragment#0: drop-ack', "#N takes a request number from 1, not '0' at column 9", 9],
    ['fragment:', 'missing action at column 9', 9],
    ['fragment: times=1', 'missing action (one of status, drop-ack, reset-after, delay, bandwidth, forget-session) at column 10', 10],
    ['fragment: drop-ack status=500', "a rule has one action; 'drop-ack' already given at column 19", 19],
    ['fragment: status=99', "status must be an HTTP status 200-599, not '99' at column 17", 17],
    ['fragment: status=503 code=zz', 'error code "zz" is neither hex nor decimal at column 26', 26],
    ['fragment: drop-ack code=0x5', "'code' only goes with status= at column 19", 19],
    ['fragment: reset-after=150%', 'reset-after percentage must be 0-100 at column 22', 22],
    ['any: delay=soon', "delay takes a duration up to 10 minutes like 2s or 500ms, not 'soon' at column 11", 11],
    ['fragment: bandwidth=64KiB', "bandwidth takes a rate like 64KiB/s (units B, KB, KiB, MB, MiB), not '64KiB' at column 20", 20],
    ['fragment: drop-ack p=0', "p takes a probability in (0, 1] or (0%, 100%], not '0' at column 21", 21],
    ['fragment: drop-ack times=0', "times takes a whole number from 1, not '0' at column 25", 25],
    ['fragment: drop-ack=1', "'drop-ack' takes no value at column 10", 10],
    ['fragment: drop-ack url', "'url' needs a value (url=...) at column 19", 19],
    ['fragment: drop-ack url=uploads', "url must be a path glob starting with '/' at column 23", 23],
    ['fragment: drop-ack times=1 times=2', "'times' given twice at column 27", 27],
    ['fragment: status=416 range=5-1', "range takes server, an offset N or S-E, not '5-1' at column 27", 27],
  ])('refuses %s: %s', (text, message, position) => {
    expect(error(text)).toEqual({ message, position, rule: text });
  });

  it('refuses control characters and keeps untrusted text short in messages', () => {
    expect(error('fragment: \u001b[31m=1').message).toBe('character U+001B is not allowed in a rule at column 10');
    expect(error('fragment: drop-ack url=/\u00e9').message).toBe('character U+00E9 is not allowed in a rule at column 24');
    expect(error(`fragment: ${'x'.repeat(100)}`).message).toBe(`unknown key '${'x'.repeat(40)}...' at column 10`);
  });
});
