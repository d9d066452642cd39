import { describe, expect, it } from 'vitest';
import { MAX_LIVE_RULES, registryControl } from '../../src/dashboard/injection-control.js';
import { InjectionRegistry } from '../../src/inject/registry.js';

describe('the control API over the injection registry', () => {
  it(`refuses a rule beyond ${MAX_LIVE_RULES} live ones (every rule is scanned per request), and takes one again after a remove`, () => {
    const registry = new InjectionRegistry({ now: () => 1000 });
    const control = registryControl(registry);
    for (let i = 1; i <= MAX_LIVE_RULES; i++) expect(control.add(`fragment#${i}: status=503`)).toHaveProperty('entry');
    expect(control.add('close: drop-ack')).toEqual({ refused: `at most ${MAX_LIVE_RULES} rules at once: remove one first` });
    expect(registry.list().length).toBe(MAX_LIVE_RULES);
    expect(control.remove('inj-1')).toBe(true);
    expect(control.add('close: drop-ack')).toMatchObject({ entry: { rule: 'close: drop-ack', origin: 'control' } });
  });

  it('gives a rule that does not parse back with the parser\'s message and column, adding nothing', () => {
    const registry = new InjectionRegistry();
    expect(registryControl(registry).add('fragment: status=99')).toEqual({ error: "status must be an HTTP status 200-599, not '99' at column 17", position: 17 });
    expect(registry.list()).toEqual([]);
  });
});
