/**
 * Decides how a request body is delimited and whether the connection persists, applying
 * RFC 9112 §6 strictly, as a proxy must: any ambiguity a downstream parser could read
 * differently (request smuggling) is a 400 and the connection closes. Pure function of
 * the parsed head.
 */
import type { RequestHead } from './request-head.js';
import { trimOws } from './syntax.js';

export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

const NO_BODY: BodyFraming = { kind: 'none' };
const CHUNKED: BodyFraming = { kind: 'chunked' };

export interface RequestMeta {
  framing: BodyFraming;
  /** The client allows the connection to persist after this exchange. */
  keepAlive: boolean;
  expectContinue: boolean;
  /** A Content-Length field was sent (`Content-Length: 0` too, which frames no body). */
  contentLengthSent: boolean;
}

export type FramingResult = { ok: true; value: RequestMeta } | { ok: false; status: number; reason: string };

/** RFC 9110 §7.2 Host = uri-host [ ":" port ]: an IP-literal or reg-name (may be empty), optional port. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::[0-9]*)?$/;

/** Digits only, no sign, no leading zero (mitmproxy's rule; llhttp accepts `003`, we do not). */
const CONTENT_LENGTH = /^(?:0|[1-9][0-9]*)$/;

function bad(reason: string): FramingResult {
  return { ok: false, status: 400, reason };
}

/** Comma-separated list members (RFC 9110 §5.6.1), lower-cased, empty members dropped. */
export function listMembers(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const part of v.split(',')) {
      const t = trimOws(part).toLowerCase();
      if (t) out.push(t);
    }
  }
  return out;
}

const NONE: readonly string[] = [];

export function decideRequestFraming(head: RequestHead): FramingResult {
  // Allocated only when such a field is present: a Ping has none of the three lists' fields
  // but Content-Length, and only names of the right length are lower-cased.
  let cl: string[] | undefined;
  let te: string[] | undefined;
  let connection: string[] | undefined;
  let hosts = 0;
  let expectContinue = false;
  for (const [name, value] of head.fields) {
    const n = name.length;
    if (n !== 4 && n !== 6 && n !== 10 && n !== 14 && n !== 17) continue;
    switch (name.toLowerCase()) {
      case 'content-length': (cl ??= []).push(value); break;
      case 'transfer-encoding': (te ??= []).push(value); break;
      case 'connection': (connection ??= []).push(value); break;
      case 'host':
        hosts++;
        if (!HOST.test(value)) return bad('bad-host');
        break;
      case 'expect': if (value.toLowerCase() === '100-continue') expectContinue = true; break;
    }
  }
  // RFC 9112 §3.2: a server MUST answer 400 to a 1.1 request without Host or with several.
  if (hosts > 1) return bad('duplicate-host');
  if (hosts === 0 && head.httpVersion === '1.1') return bad('missing-host');

  let framing: BodyFraming = NO_BODY;
  if (te !== undefined) {
    if (head.httpVersion === '1.0') return bad('te-in-http10');
    if (cl !== undefined) return bad('cl-and-te');
    if (te.length > 1) return bad('duplicate-te');
    const codings = listMembers(te);
    if (codings.length === 0 || codings[codings.length - 1] !== 'chunked') return bad('te-not-chunked');
    // `gzip, chunked` is legal HTTP but a gateway that forwards the decoded body cannot relay it faithfully; BITS never sends it.
    if (codings.length > 1) return bad('te-unsupported');
    framing = CHUNKED;
  } else if (cl !== undefined) {
    if (cl.length > 1) return bad('duplicate-content-length');
    const v = cl[0]!;
    if (!CONTENT_LENGTH.test(v)) return bad('bad-content-length');
    const n = Number(v);
    if (!Number.isSafeInteger(n)) return bad('content-length-too-large');
    if (n > 0) framing = { kind: 'length', length: n };
  }

  const tokens = connection === undefined ? NONE : listMembers(connection);
  const keepAlive = head.httpVersion === '1.1' ? !tokens.includes('close') : tokens.includes('keep-alive') && !tokens.includes('close');
  return { ok: true, value: { framing, keepAlive, expectContinue, contentLengthSent: cl !== undefined } };
}
