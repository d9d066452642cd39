import { describe, expect, it } from 'vitest';
import { parseInjectionRule } from '../../src/inject/rule-syntax.js';
import { isGuid, SESSION_FAULTS } from '../../web/src/session-faults.js';

describe('the session view\'s fault buttons', () => {
  const id = '{0f1e2d3c-4b5a-4697-8877-665544332211}';

  it('add rules the one grammar parses, scoped to that session, as the README names them', () => {
    const parsed = Object.fromEntries(SESSION_FAULTS.map((f) => [f.label, parseInjectionRule(f.rule(id))]));
    expect(Object.keys(parsed)).toEqual(['drop the next Ack', 'answer the next fragment 503', 'forget this session']);
    expect(parsed['drop the next Ack']).toMatchObject({ packet: 'any', action: { kind: 'drop-ack' }, session: id, times: 1 });
    expect(parsed['answer the next fragment 503']).toMatchObject({ packet: 'fragment', action: { kind: 'answer', status: 503 }, session: id, times: 1 });
    expect(parsed['forget this session']).toMatchObject({ packet: 'any', action: { kind: 'forget-session' }, session: id });
    expect(parsed['forget this session']!.times).toBeUndefined();
  });

  it('are offered only for GUID session ids: an id from traffic never adds words to a rule', () => {
    expect(isGuid(id)).toBe(true);
    expect(isGuid(id.slice(1, -1).toUpperCase())).toBe(true);
    for (const hostile of [`${id} times=1000`, '{x} p=1', `${id}\n`, 'fragment: status=500', '']) expect(isGuid(hostile)).toBe(false);
  });
});
