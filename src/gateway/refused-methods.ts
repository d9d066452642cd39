import type { HeaderList } from '../observation.js';

/**
 * Methods the gateway answers itself instead of forwarding.
 *
 * - CONNECT asks for a tunnel, which a reverse proxy in front of one BITS server has no
 *   business opening (and Node's http client would wait for a tunnel that never comes).
 * - TRACE makes the origin echo the request, credentials included (cross-site tracing);
 *   IIS refuses it by default and no BITS client sends it.
 *
 * 501 Not Implemented rather than 405: the gateway supports these methods for no resource
 * at all, and a 405 would need an Allow list the gateway cannot know (it forwards any other
 * token method). The connection closes after the answer: a client may already be sending
 * tunnel bytes behind its CONNECT, and those must never be parsed as a request.
 *
 * Compared case-insensitively although methods are case-sensitive: Node's http client
 * upper-cases the method it sends, so `connect` would reach the upstream as CONNECT.
 */
export const METHODS_NOT_FORWARDED: readonly string[] = ['CONNECT', 'TRACE'];

export interface Refusal {
  status: 501;
  headers: HeaderList;
  body: Buffer;
}

const REFUSALS = new Map<string, Refusal>(METHODS_NOT_FORWARDED.map((method) => {
  const body = Buffer.from(`Not Implemented: bitsgate does not forward ${method} requests\n`, 'latin1');
  const headers: HeaderList = [['Content-Type', 'text/plain; charset=utf-8'], ['Content-Length', String(body.length)]];
  return [method, { status: 501, headers, body }];
}));

/** Lengths of the refused methods: every other method (BITS_POST above all) is passed without a case fold. */
const LENGTHS = new Set(METHODS_NOT_FORWARDED.map((m) => m.length));

/** The gateway's own answer when `method` is never forwarded; undefined for every other method. */
export function refusalFor(method: string): Refusal | undefined {
  if (!LENGTHS.has(method.length)) return undefined;
  return REFUSALS.get(method.toUpperCase());
}
