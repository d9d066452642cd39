/**
 * The steps the case scripts are written in: open a session, send a fragment, close,
 * cancel, probe that a session is gone. Each step sends one packet through the CheckPeer
 * and hands the answer to the case's recorder (src/conformance/server judges it).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SessionRoute } from '../../client/session-route.js';
import { CaseRecorder, type Expectation, type Reading } from '../../conformance/server/index.js';
import type { AnswerJudgement } from '../../conformance/server/index.js';
import { ERROR_CODES, UPLOAD_PROTOCOL_GUID } from '../../protocol/index.js';
import { cancelSessionHeaders, closeSessionHeaders, createSessionHeaders, fragmentHeaders } from '../../protocol/encode.js';
import type { CheckPeer } from './peer.js';

export interface RunContext {
  peer: CheckPeer;
  /** `<URL>/bitsgate-check-<random>/`: every upload goes under it. */
  prefix: URL;
  /** The same prefix under `--reply-url`, when given. */
  replyPrefix?: URL;
  /** Set by fragments-contiguous: the final Ack under URL carried BITS-Reply-URL. */
  urlIsUploadReply?: boolean;
}

export interface OpenSession {
  id: string;
  /** Where its packets go (the Create URL, or the BITS-Host-Id host's). */
  url: URL;
  /** The Create Ack, decoded. */
  create: AnswerJudgement;
  /** False when the Ack's BITS-Host-Id is no host name a client can connect to (ignored, as our client does). */
  hostIdUsable?: boolean;
}

export const SESSION_NOT_FOUND = ERROR_CODES.BG_E_SESSION_NOT_FOUND;
export const E_INVALIDARG = ERROR_CODES.E_INVALIDARG;

/** The URL of a case's upload under the prefix. */
export function fileUrl(base: URL, name: string): URL {
  return new URL(`${name}.bin`, base);
}

/** Bytes of a test file: recognisable, never all zeros. */
export function fileBytes(total: number): Buffer {
  const b = Buffer.alloc(total);
  for (let i = 0; i < total; i++) b[i] = 0x41 + (i % 26);
  return b;
}

/** A session id no server issued: a fresh GUID, braced as Windows writes them. */
export function unknownSessionId(): string {
  return `{${randomUUID().toUpperCase()}}`;
}

/** A protocol GUID no server supports. */
export function unknownProtocol(): string {
  const h = randomBytes(16).toString('hex');
  return `{${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}}`;
}

/**
 * Create-Session, expected to succeed. Follows BITS-Host-Id as our client does (the later
 * packets go to that host). Undefined when no session came of it (already a deviation).
 */
export async function openSession(r: CaseRecorder, ctx: RunContext, url: URL, protocols: string[] = [UPLOAD_PROTOCOL_GUID]): Promise<OpenSession | undefined> {
  const sent = await ctx.peer.send('create-session', `${r.name}: Create-Session`, url, createSessionHeaders(protocols));
  const create = r.expect('create-session', 'Create-Session', sent.seen, { status: [200, 201], createSuccess: true });
  const id = create.ack?.sessionId;
  if (id === undefined || !(create.ack && sent.seen.status !== undefined && sent.seen.status < 300)) return undefined;
  if (create.ack.hostId === undefined) return { id, url, create };
  const route = new SessionRoute(url);
  route.follow(create.ack.hostId, create.ack.hostIdFallbackTimeoutSec);
  // follow() leaves the route on the URL's host when the value is no host name.
  const hostIdUsable = route.current.href !== url.href || create.ack.hostId.toLowerCase() === url.host.toLowerCase();
  ctx.peer.moved(id, route.current);
  return { id, url: route.current, create, hostIdUsable };
}

export interface FragmentStep {
  start: number;
  end: number;
  total: number;
  /** Content-Name on the first fragment, as clients send it. */
  name?: string;
}

function fragmentLabel(f: FragmentStep): string {
  return `Fragment ${f.start}-${f.end}/${f.total}`;
}

async function sendFragment(r: CaseRecorder, ctx: RunContext, s: OpenSession, f: FragmentStep) {
  const body = fileBytes(f.total).subarray(f.start, f.end + 1);
  const headers = fragmentHeaders({ sessionId: s.id, start: f.start, end: f.end, total: f.total, ...(f.name !== undefined && { contentName: f.name }) });
  return ctx.peer.send('fragment', `${r.name}: ${fragmentLabel(f)}`, s.url, headers, body, s.id);
}

export async function fragment(r: CaseRecorder, ctx: RunContext, s: OpenSession, f: FragmentStep, expected: Expectation): Promise<AnswerJudgement> {
  const sent = await sendFragment(r, ctx, s, f);
  return r.expect('fragment', fragmentLabel(f), sent.seen, { sessionId: s.id, ...expected });
}

export async function fragmentOneOf(r: CaseRecorder, ctx: RunContext, s: OpenSession, f: FragmentStep, readings: Reading[], conflict: string): Promise<AnswerJudgement> {
  const sent = await sendFragment(r, ctx, s, f);
  return r.expectOneOf('fragment', fragmentLabel(f), sent.seen, readings.map((x) => ({ ...x, expect: { sessionId: s.id, ...x.expect } })), conflict);
}

/** Fragments of `chunk` bytes from 0 to total, each expected 200 + E+1. */
export async function uploadAll(r: CaseRecorder, ctx: RunContext, s: OpenSession, total: number, chunk: number, last: Partial<Expectation> = {}): Promise<AnswerJudgement | undefined> {
  let j: AnswerJudgement | undefined;
  for (let start = 0; start < total; start += chunk) {
    const end = Math.min(total, start + chunk) - 1;
    const isLast = end === total - 1;
    j = await fragment(r, ctx, s, { start, end, total, ...(start === 0 && { name: 'check.bin' }) }, { status: [200], received: end + 1, ...(isLast ? last : {}) });
    if (j.deviations.length > 0) return undefined;
  }
  return j;
}

export async function closeSession(r: CaseRecorder, ctx: RunContext, s: OpenSession, expected: Expectation, label = 'Close-Session'): Promise<AnswerJudgement> {
  const sent = await ctx.peer.send('close-session', `${r.name}: ${label}`, s.url, closeSessionHeaders(s.id), undefined, s.id);
  return r.expect('close-session', label, sent.seen, { sessionId: s.id, ...expected });
}

export async function cancelSession(r: CaseRecorder, ctx: RunContext, s: OpenSession, expected: Expectation, label = 'Cancel-Session'): Promise<AnswerJudgement> {
  const sent = await ctx.peer.send('cancel-session', `${r.name}: ${label}`, s.url, cancelSessionHeaders(s.id), undefined, s.id);
  return r.expect('cancel-session', label, sent.seen, { sessionId: s.id, ...expected });
}

/** A session ended after the case's point: Cancel, unjudged (the case judged what it was about). */
export async function tidy(ctx: RunContext, s: Pick<OpenSession, 'id' | 'url'> | undefined): Promise<void> {
  if (!s) return;
  await ctx.peer.send('cancel-session', 'cleanup: Cancel-Session', s.url, cancelSessionHeaders(s.id), undefined, s.id);
}

export async function cancelOneOf(r: CaseRecorder, ctx: RunContext, s: OpenSession, readings: Reading[], conflict: string, label = 'Cancel-Session'): Promise<void> {
  const sent = await ctx.peer.send('cancel-session', `${r.name}: ${label}`, s.url, cancelSessionHeaders(s.id), undefined, s.id);
  r.expectOneOf('cancel-session', label, sent.seen, readings.map((x) => ({ ...x, expect: { sessionId: s.id, ...x.expect } })), conflict);
}

/** The session must be gone: a Fragment for it is answered 500 + 0x8020001F (§3, §5). */
export async function expectGone(r: CaseRecorder, ctx: RunContext, s: OpenSession, f: FragmentStep, after: string): Promise<void> {
  const sent = await sendFragment(r, ctx, s, f);
  r.expect('fragment', `${fragmentLabel(f)} after ${after}`, sent.seen, { status: [500], code: SESSION_NOT_FOUND, sessionId: s.id });
}
