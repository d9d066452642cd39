/**
 * Request targets as the upstream and the observers see them. A client may send the
 * absolute-form (`BITS_POST http://host/path HTTP/1.1`, RFC 9112 §3.2.2); an origin server
 * behind a reverse proxy expects origin-form, and the session tracker compares paths, so
 * both get the path and query only. The listener has already checked the target's syntax.
 */

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/** `http://h:1/a?b` -> `/a?b`; `http://h?q` -> `/?q`; origin-form and `*` unchanged. */
export function originForm(target: string): string {
  // Fast path: nearly every request is already origin-form.
  if (target.charCodeAt(0) === 0x2f || target === '*') return target;
  const authority = ABSOLUTE_FORM.exec(target);
  if (!authority) return target;
  const rest = target.slice(authority[0].length);
  return rest.charCodeAt(0) === 0x2f ? rest : `/${rest}`;
}
