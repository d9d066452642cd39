/**
 * The one classifier of answers: what a Windows BITS client does on each Ack status and
 * error code (bits-protocol.md §6). The session tracker, our client and our server all read
 * it, so the gateway's verdicts, the client's recovery and the server's choice of status
 * cannot drift apart.
 *
 * Readings chosen where the reference is silent or in conflict (also in the README):
 * - §6's transient/fatal table is documented for server-application errors (context 0x7)
 *   only. With context 0x7 it alone decides (on any packet but Close/Cancel): the status is
 *   the application's, so a 413 or 416 from it is the application failing, not a fragment
 *   size or offset signal, and E_INVALIDARG/BG_E_TOO_LARGE name nothing about the upload.
 *   For a bare HTTP status on Ping, Create-Session or Fragment with no code that §6
 *   names, we apply the same table: it is the only documented split, and it agrees with the
 *   named cases (413 shrink, 416 resync, 403 fatal).
 * - Close/Cancel follow their own documented rule: 5xx resend unless 0x8020001F; 1xx–4xx never.
 * - 0x8020001F on Cancel-Session: the session is already gone, which is what Cancel wanted.
 * - A 2xx carrying an HRESULT failure code is still a 2xx (some servers put codes on success,
 *   §8); callers that care read the code themselves.
 */
import { ERROR_CONTEXT_REMOTE_APPLICATION } from './encode.js';
import { ERROR_CODES } from './error-codes.js';
import type { PacketType } from './packet-type.js';

export type AnswerClass =
  /** 2xx: the packet did what it was sent for. */
  | 'ok'
  /** 401/407: an authentication round; the client resends with credentials. */
  | 'auth'
  /** 416 on a Fragment: resume at BITS-Received-Content-Range. */
  | 'resync'
  /** 413 on a Fragment: send smaller fragments. */
  | 'shrink'
  /** Resend the same packet later (5xx retryable, 408/409, an app's transient error). */
  | 'retry'
  /** 0x8020001F on any packet but Cancel: the server lost the session; start again at Create-Session. */
  | 'session-lost'
  /** The client gives up on the job and reports the error (4xx final, 403, 501, E_INVALIDARG, BG_E_TOO_LARGE). */
  | 'fatal'
  /** No answer at all (connection lost, timeout): reconnect and resend the same packet. */
  | 'no-answer';

export interface Answer {
  class: AnswerClass;
  /** One short phrase a log line can quote: why this class. */
  why: string;
}

/** The packet kinds an answer can be for (`unknown`: no or unrecognised BITS-Packet-Type). */
export type AnsweredPacket = PacketType | 'unknown';

const SESSION_NOT_FOUND = ERROR_CODES.BG_E_SESSION_NOT_FOUND;
/** Codes §6 says the client hands to the application, whatever the status. */
const FATAL_CODES: ReadonlySet<number> = new Set([ERROR_CODES.E_INVALIDARG, ERROR_CODES.BG_E_TOO_LARGE]);

/**
 * Classifies one answer. `status` undefined means none arrived. `errorCode` is the unsigned
 * HRESULT from BITS-Error-Code (absent when none), `errorContext` the BITS-Error-Context.
 */
export function classifyAnswer(packet: AnsweredPacket, status: number | undefined, errorCode?: number, errorContext?: number): Answer {
  if (status === undefined) return { class: 'no-answer', why: 'no answer (connection lost)' };
  if (status >= 200 && status < 300) return { class: 'ok', why: `${status}` };
  const code = errorCode === undefined ? undefined : errorCode >>> 0;

  if (code === SESSION_NOT_FOUND) {
    return packet === 'cancel-session'
      ? { class: 'fatal', why: 'Cancel answered 0x8020001F: the session is already gone' }
      : { class: 'session-lost', why: 'session lost (0x8020001F): restart at Create-Session' };
  }
  const closing = packet === 'close-session' || packet === 'cancel-session';
  if (errorContext === ERROR_CONTEXT_REMOTE_APPLICATION && !closing) return statusTable(status, 'server application error');
  if (status === 401 || status === 407) return { class: 'auth', why: `${status}: authentication round` };
  if (closing) {
    if (status >= 500 && status < 600) return { class: 'retry', why: `${status} on ${packet}: resend` };
    return { class: 'fatal', why: `${status} on ${packet}: never resent` };
  }
  if (packet === 'fragment') {
    if (status === 416) return { class: 'resync', why: '416: resume at BITS-Received-Content-Range' };
    if (status === 413) return { class: 'shrink', why: '413: send smaller fragments' };
  }
  if (code !== undefined && FATAL_CODES.has(code)) return { class: 'fatal', why: `${status} with a code the client hands to the application` };
  if (status === 403) return { class: 'fatal', why: '403: not allowed' };
  if (status === 501 && code === ERROR_CODES.E_ACCESSDENIED) return { class: 'fatal', why: '501 + 0x80070005: uploads disabled' };
  return statusTable(status, 'HTTP status');
}

/** §6 "Handling Server Application Errors": the only documented transient/fatal split. */
function statusTable(status: number, what: string): Answer {
  let fatal: boolean;
  if (status >= 300 && status < 400) fatal = status <= 305 || status === 307;
  else if (status >= 400 && status < 500) fatal = status !== 408 && status !== 409;
  else if (status >= 500 && status < 600) fatal = status === 501 || status === 505;
  else fatal = false;
  return fatal ? { class: 'fatal', why: `${what} ${status} is fatal` } : { class: 'retry', why: `${what} ${status} is transient` };
}

/** True for the classes after which the session is over for good on the server (no later packet can revive it). */
export function endsSession(a: AnswerClass): boolean {
  return a === 'fatal' || a === 'session-lost';
}
