import { InjectionRuleError } from '../inject/rule-syntax.js';
import { ServerStartError } from '../server/index.js';

/** `--inject "RULE": what is wrong at column N` (the rule quoted as JSON: it is untrusted text). */
export function injectionRuleErrorLine(err: InjectionRuleError): string {
  const rule = err.rule.length > 200 ? err.rule.slice(0, 200) + '...' : err.rule;
  return `--inject ${JSON.stringify(rule)}: ${err.message}`;
}

/**
 * One line for a failure to start that is the user's to fix (an address that cannot be
 * listened on, an upload root that cannot be used), without the stack trace. Anything else is
 * a bug: undefined, and the caller rethrows it with its stack.
 */
export function startupErrorLine(err: unknown): string | undefined {
  if (err instanceof ServerStartError) return err.message;
  const e = err as { code?: string; syscall?: string; address?: string; port?: number; hostname?: string } | null;
  const where = e?.address !== undefined ? `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port ?? '?'}` : undefined;
  switch (e?.code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where ?? '?'}: the address is already in use (EADDRINUSE)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where ?? '?'}: no such address on this machine (EADDRNOTAVAIL)`;
    case 'EACCES':
      return e.syscall === 'listen' ? `cannot listen on ${where ?? '?'}: permission denied (EACCES)` : undefined;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return `cannot listen on ${e.hostname ?? '?'}: host name not found (${e.code})`;
    default:
      return undefined;
  }
}
