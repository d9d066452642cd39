/**
 * Adapts the gateway's InjectionRegistry (src/inject) to what the dashboard's control API
 * needs: rule text in (parsed by the one grammar), display rows out. Rules added here are
 * marked origin `control`.
 */
import type { ActiveInjection, InjectionRegistry } from '../inject/registry.js';
import { InjectionRuleError, parseInjectionRule } from '../inject/rule-syntax.js';
import type { LiveControl } from './control-api.js';
import type { InjectionView } from './messages.js';

/** Rules the dashboard may have live at once: every rule is scanned per request. */
export const MAX_LIVE_RULES = 100;

function injectionView(a: ActiveInjection): InjectionView {
  return { id: a.id, rule: a.rule.text, origin: a.origin, fired: a.fired, spent: a.spent, addedAt: a.addedAt };
}

export function registryControl(registry: InjectionRegistry): LiveControl {
  return {
    list: () => registry.list().map(injectionView),
    add(ruleText) {
      let rule;
      try {
        rule = parseInjectionRule(ruleText);
      } catch (err) {
        if (err instanceof InjectionRuleError) return { error: err.message, position: err.position };
        throw err;
      }
      if (registry.list().length >= MAX_LIVE_RULES) return { refused: `at most ${MAX_LIVE_RULES} rules at once: remove one first` };
      return { entry: injectionView(registry.add(rule, 'control')) };
    },
    remove: (id) => registry.remove(id),
    onChange: (listener) => registry.onChange(listener),
  };
}
