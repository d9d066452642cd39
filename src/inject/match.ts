/** Scope matching for injection rules: URL globs, client addresses, session ids. Pure. */
import { isGuid, sessionIdKey } from '../protocol/index.js';

/** `*` matches within one path segment, `**` across segments; the query string is ignored. */
export function compileUrlGlob(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') {
      re += '[^/]*';
    } else {
      re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(re + '$');
}

export function requestPath(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** An IPv4 client seen through a dual-stack socket arrives as `::ffff:10.0.0.5`. */
export function normalizeAddress(address: string): string {
  const a = address.trim().toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/**
 * The session keys (the protocol's sessionIdKey) a rule's `session=ID` matches. Request ids
 * meet as the protocol compares them (sameSessionId: a GUID in any letter case); the rule may
 * write a GUID with or without braces (README), so it names both spellings.
 */
export function ruleSessionKeys(id: string): readonly string[] {
  if (!isGuid(id)) return [id];
  const bare = id.replace(/^\{|\}$/g, '');
  return [sessionIdKey(bare), sessionIdKey(`{${bare}}`)];
}
