/**
 * The exchanges of a conformance case as the CLIENT saw them. The gateway's observation says
 * what the server answered; the client may have received nothing (the gateway dropped the Ack
 * on purpose) or the gateway's own injected answer. The judge reasons on this view only.
 * Decoding is the one decoder's (decodeExchange), the meaning of an answer the one
 * classifier's (classifyAnswer): nothing here re-decides what a status means.
 */
import type { Observation } from '../../observation.js';
import { classifyAnswer, decodeExchange, formatHex, PACKET_TYPE_NAMES, sessionIdKey, type AnswerClass, type ByteRange, type PacketType } from '../../protocol/index.js';

export interface ClientStep {
  obs: Observation;
  /** The BITS packet type, or `http` for an ordinary request (the reply GET). */
  kind: PacketType | 'unknown' | 'http';
  /** Session key (the protocol's sessionIdKey): from the request, or a Create Ack's id. */
  session?: string;
  range?: ByteRange;
  /** Fragment body bytes as sent (Content-Range length). */
  bytes: number;
  /** The answer the client received, classified; `no-answer` when none reached it. */
  answer: AnswerClass;
  status?: number;
  errorCode?: number;
  receivedOffset?: number;
  replyUrl?: string;
  /** The injected fault's action kind, when the gateway injected one here. */
  injected?: string;
}

/** Faults after which no answer reaches the client, whatever the upstream said. */
const UNANSWERED_FAULTS: ReadonlySet<string> = new Set(['drop-ack', 'reset-after']);

export function clientStep(obs: Observation): ClientStep {
  const { request, ack } = decodeExchange(obs);
  const injected = obs.injected?.action;
  const delivered = obs.status !== undefined && !(injected !== undefined && UNANSWERED_FAULTS.has(injected));
  const kind = request === null ? 'http' : request.type;
  const sid = request?.sessionId ?? (kind === 'create-session' ? ack?.sessionId : undefined);
  const step: ClientStep = {
    obs,
    kind,
    bytes: request?.range ? request.range.end - request.range.start + 1 : 0,
    answer: 'no-answer',
  };
  if (sid !== undefined) step.session = sessionIdKey(sid);
  if (request?.range) step.range = request.range;
  if (injected !== undefined) step.injected = injected;
  if (!delivered) return step;
  step.status = obs.status;
  if (request === null) {
    step.answer = obs.status! >= 200 && obs.status! < 300 ? 'ok' : 'fatal';
    return step;
  }
  const packet = kind === 'http' || kind === 'ack' ? 'unknown' : kind;
  step.answer = classifyAnswer(packet, obs.status, ack?.errorCode?.value, ack?.errorContext).class;
  if (ack?.errorCode) step.errorCode = ack.errorCode.value;
  if (ack?.receivedOffset !== undefined) step.receivedOffset = ack.receivedOffset;
  if (ack?.replyUrl !== undefined) step.replyUrl = ack.replyUrl;
  return step;
}

const NAMES: Readonly<Record<string, string>> = { ...PACKET_TYPE_NAMES, unknown: 'an unknown packet', ack: 'an Ack' };

/** `Fragment 0-4095/10000`, `Close-Session`, `GET /reply/x`: for reasons. */
export function describeStep(step: ClientStep): string {
  if (step.kind === 'http') return `${step.obs.method} ${pathOf(step.obs.url).slice(0, 120)}`;
  const name = NAMES[step.kind] ?? step.kind;
  return step.range ? `${name} ${step.range.start}-${step.range.end}/${step.range.total}` : name;
}

/** How the answer reached the client: `no answer`, `200`, `416 (BITS-Received-Content-Range 4096)`. */
export function describeAnswer(step: ClientStep): string {
  if (step.status === undefined) return 'no answer';
  const code = step.errorCode !== undefined && step.errorCode !== 0 ? ` ${formatHex(step.errorCode)}` : '';
  return `${step.status}${code}`;
}

/** Path and query of a request target or an absolute URL (the reply URL may be either). */
export function pathOf(url: string): string {
  try {
    const u = new URL(url, 'http://placeholder.invalid');
    return u.pathname + u.search;
  } catch {
    return url;
  }
}
