/**
 * Judges one Ack against what the reference expects. Pure: the Ack comes in as status +
 * header list; decoding is src/protocol's (decodeAck, the one decoder) and the class of an
 * answer is src/protocol/answer.ts's (classifyAnswer, the one classifier), so an expectation
 * here is "this status, this code, hence this class", never a second status table.
 */
import type { HeaderList } from '../../observation.js';
import {
  classifyAnswer,
  decodeAck,
  describeErrorCode,
  formatErrorCode,
  headerValue,
  sameSessionId,
  type AnsweredPacket,
  type BitsAck,
} from '../../protocol/index.js';
import { MAX_SESSION_ID_LENGTH, UPLOAD_PROTOCOL_GUID } from '../../protocol/constants.js';
import { ERROR_CONTEXT_SERVER } from '../../protocol/encode.js';

/** What came back for one packet: an answer, or why none came. */
export type SeenAnswer =
  | { status: number; headers: HeaderList }
  | { status?: undefined; noAnswer: string };

export interface Expectation {
  /** Statuses the reference allows, e.g. [200, 201]. */
  status: readonly number[];
  /** The HRESULT the Ack must carry (any notation the decoder reads). Absent: not checked. */
  code?: number;
  /** `BITS-Received-Content-Range` the Ack must carry. */
  received?: number;
  /** The request's session id: an echoed `BITS-Session-Id` must name the same session ([M] 2.2.1.2). */
  sessionId?: string;
  /** Create-Session success: BITS-Protocol, a session id of at most 100 characters, Accept-Encoding: Identity (§3). */
  createSuccess?: boolean;
  /** `BITS-Reply-URL` must be present / absent (§3). */
  replyUrl?: 'required' | 'absent';
}

/** One packet's answer judged: what deviated (empty: as expected) and the decoded Ack. */
export interface AnswerJudgement {
  deviations: string[];
  ack?: BitsAck;
  /** `200 + range 20`, `500 + 0x8020001F`: for notes and reports. */
  seen: string;
}

/** `500 + 0x8020001F BG_E_SESSION_NOT_FOUND + range 10`. */
export function describeExpected(e: Expectation): string {
  let s = e.status.join('/');
  if (e.code !== undefined) s += ` + ${formatErrorCode(describeErrorCode(e.code))}`;
  if (e.received !== undefined) s += ` + BITS-Received-Content-Range ${e.received}`;
  return s;
}

function describeSeen(status: number, ack: BitsAck): string {
  let s = String(status);
  if (ack.errorCode) s += ` + ${formatErrorCode(ack.errorCode)}`;
  if (ack.receivedOffset !== undefined) s += ` + BITS-Received-Content-Range ${ack.receivedOffset}`;
  return s;
}

/** `what` names the packet in messages, e.g. `Fragment 20-29/30`. */
export function judgeAnswer(packet: AnsweredPacket, what: string, seen: SeenAnswer, expected: Expectation): AnswerJudgement {
  const expectedClass = classifyAnswer(packet, expected.status[0], expected.code, expected.code === undefined ? undefined : ERROR_CONTEXT_SERVER).class;
  if (seen.status === undefined) {
    return {
      deviations: [`${what}: expected ${describeExpected(expected)} [${expectedClass}], seen no answer (${seen.noAnswer})`],
      seen: `no answer (${seen.noAnswer})`,
    };
  }
  const ack = decodeAck(seen.status, seen.headers);
  const seenClass = classifyAnswer(packet, seen.status, ack.errorCode?.value, ack.errorContext).class;
  const seenText = describeSeen(seen.status, ack);
  const deviations: string[] = [];
  const statusOk = expected.status.includes(seen.status);
  const codeOk = expected.code === undefined || (ack.errorCode !== undefined && ack.errorCode.value === expected.code >>> 0);
  if (!statusOk || !codeOk || seenClass !== expectedClass) {
    deviations.push(`${what}: expected ${describeExpected(expected)} [${expectedClass}], seen ${seenText} [${seenClass}]`);
  } else if (expected.received !== undefined && ack.receivedOffset !== expected.received) {
    deviations.push(`${what}: expected ${describeExpected(expected)}, seen ${seen.status} ${ack.receivedOffset === undefined ? 'without BITS-Received-Content-Range' : `+ BITS-Received-Content-Range ${ack.receivedOffset}`}`);
  }
  // §3: every Ack carries BITS-Packet-Type: Ack and Content-Length, even 0.
  if (!ack.isAck) {
    const type = headerValue(seen.headers, 'BITS-Packet-Type');
    deviations.push(`${what}: answer ${seen.status} ${type === undefined ? 'without BITS-Packet-Type' : `with BITS-Packet-Type ${JSON.stringify(type.slice(0, 40))}`} (expected Ack)`);
  }
  if (headerValue(seen.headers, 'Content-Length') === undefined) {
    deviations.push(`${what}: Ack ${seen.status} without Content-Length`);
  }
  if (expected.sessionId !== undefined && ack.sessionId !== undefined && !sameSessionId(ack.sessionId, expected.sessionId)) {
    deviations.push(`${what}: Ack names session ${JSON.stringify(ack.sessionId.slice(0, 100))}, the request ${JSON.stringify(expected.sessionId)}`);
  }
  if (statusOk && expected.createSuccess) deviations.push(...createAckDeviations(what, seen.headers, ack));
  if (statusOk && expected.replyUrl === 'required' && ack.replyUrl === undefined) {
    deviations.push(`${what}: final Ack of an upload-reply job without BITS-Reply-URL`);
  }
  if (statusOk && expected.replyUrl === 'absent' && ack.replyUrl !== undefined) {
    deviations.push(`${what}: BITS-Reply-URL on an Ack that must not carry one`);
  }
  return { deviations, ack, seen: seenText };
}

function createAckDeviations(what: string, headers: HeaderList, ack: BitsAck): string[] {
  const out: string[] = [];
  if (ack.protocol === undefined) out.push(`${what}: Create-Session Ack without BITS-Protocol`);
  else if (ack.protocol.toLowerCase() !== UPLOAD_PROTOCOL_GUID) {
    out.push(`${what}: BITS-Protocol ${JSON.stringify(ack.protocol.slice(0, 60))}, expected the offered ${UPLOAD_PROTOCOL_GUID}`);
  }
  const rawId = headerValue(headers, 'BITS-Session-Id');
  if (rawId === undefined || rawId === '') out.push(`${what}: Create-Session Ack without BITS-Session-Id`);
  // §3 Conflict: [W] any token <= 100 characters, [M] a GUID; we accept both and flag only what neither allows.
  else if (rawId.length > MAX_SESSION_ID_LENGTH) out.push(`${what}: BITS-Session-Id of ${rawId.length} characters (at most ${MAX_SESSION_ID_LENGTH})`);
  else if (ack.sessionId === undefined) out.push(`${what}: BITS-Session-Id is not a legal token`);
  const encoding = headerValue(headers, 'Accept-Encoding');
  if (encoding === undefined || encoding.toLowerCase() !== 'identity') {
    out.push(`${what}: Create-Session Ack ${encoding === undefined ? 'without Accept-Encoding' : `with Accept-Encoding ${JSON.stringify(encoding.slice(0, 40))}`} (expected Identity)`);
  }
  return out;
}
