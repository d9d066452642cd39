/** Scope matching for injection rules: URL globs, client addresses, session ids. Pure. */

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

const GUID_SHAPE = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i;

/** Key under which two spellings of one session id meet: GUIDs without braces, lower-cased; any other token as is. */
export function sessionKey(id: string): string {
  const m = GUID_SHAPE.exec(id.trim());
  return m ? m[1]!.toLowerCase() : id.trim();
}
