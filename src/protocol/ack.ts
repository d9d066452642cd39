import type { HeaderList } from '../observation.js';
import { H } from './constants.js';
import { decimalAt, parseDecimal, parseReceivedContentRange } from './content-range.js';
import type { Problem } from './decoded.js';
import { type ErrorCode, parseErrorCode, parseErrorContext } from './error-codes.js';
import { HeaderPicker } from './header-picker.js';
import { isPlainSessionId, parseSessionId } from './session-id.js';

/** A decoded Ack (the response to every BITS request). */
export interface BitsAck {
  /** `BITS-Packet-Type: Ack` present (any case). */
  isAck: boolean;
  sessionId?: string;
  protocol?: string;
  /** Next offset the server expects (`BITS-Received-Content-Range`). */
  receivedOffset?: number;
  replyUrl?: string;
  hostId?: string;
  hostIdFallbackTimeoutSec?: number;
  errorCode?: ErrorCode;
  errorContext?: number;
  problems: Problem[];
}

const TYPE = 0, SESSION = 1, PROTOCOL = 2, RECEIVED = 3, RECIEVED = 4, REPLY = 5, HOST_ID = 6, FALLBACK = 7, ERROR_CODE = 8,
  ERROR = 9, CONTEXT = 10;
const picker = new HeaderPicker([
  H.packetType, H.sessionId, H.protocol, H.receivedContentRange, H.recievedContentRange, H.replyUrl, H.hostId,
  H.hostIdFallbackTimeout, H.errorCode, H.error, H.errorContext,
]);

/**
 * Decodes the BITS fields of a response. Tolerant of what servers send (`ACK`, `BITS-Error`
 * instead of `BITS-Error-Code`, the misspelt `BITS-Recieved-Content-Range`), and reports
 * each deviation as a problem. The status is used only to word problems; the tracker judges it.
 */
export function decodeAck(status: number, headers: HeaderList): BitsAck {
  const problems: Problem[] = [];
  const ack: BitsAck = { isAck: false, problems };
  const v = picker.pick(headers).values;

  const type = v[TYPE];
  if (type === undefined) {
    problems.push({ code: 'ack-missing', header: 'BITS-Packet-Type', reason: `response ${status} without BITS-Packet-Type: Ack`, severity: 'error' });
  } else if (type === 'Ack' || type === 'ACK' || type.toLowerCase() === 'ack') {
    ack.isAck = true;
  } else {
    problems.push({ code: 'ack-missing', header: 'BITS-Packet-Type', reason: `response ${status} with BITS-Packet-Type ${JSON.stringify(truncate(type))} instead of Ack`, severity: 'error' });
  }

  const sid = v[SESSION];
  if (sid !== undefined && isPlainSessionId(sid)) {
    ack.sessionId = sid;
  } else if (sid !== undefined) {
    const r = parseSessionId(sid);
    if (r.ok) ack.sessionId = r.value;
    else problems.push({ code: 'packet-bad-header', header: 'BITS-Session-Id', reason: r.reason, severity: 'error' });
  }

  const protocol = v[PROTOCOL];
  if (protocol !== undefined) ack.protocol = protocol;

  let received = v[RECEIVED];
  if (received === undefined) {
    received = v[RECIEVED];
    if (received !== undefined) {
      problems.push({ code: 'packet-bad-header', header: 'BITS-Recieved-Content-Range', reason: 'misspelt BITS-Recieved-Content-Range (accepted as BITS-Received-Content-Range)', severity: 'info' });
    }
  }
  const count = received === undefined ? -1 : decimalAt(received, 0, received.length);
  if (count >= 0) {
    ack.receivedOffset = count;
  } else if (received !== undefined) {
    const r = parseReceivedContentRange(received);
    if (r.ok) ack.receivedOffset = r.value;
    else problems.push({ code: 'packet-bad-header', header: 'BITS-Received-Content-Range', reason: r.reason, severity: 'error' });
  }

  const reply = v[REPLY];
  if (reply !== undefined && reply !== '') ack.replyUrl = reply;

  const hostId = v[HOST_ID];
  if (hostId !== undefined && hostId !== '') ack.hostId = hostId;

  const fallback = v[FALLBACK];
  if (fallback !== undefined) {
    const r = parseDecimal(fallback, 'BITS-Host-Id-Fallback-Timeout');
    if (r.ok) ack.hostIdFallbackTimeoutSec = r.value;
    else problems.push({ code: 'packet-bad-header', header: 'BITS-Host-Id-Fallback-Timeout', reason: r.reason, severity: 'warning' });
  }

  const errHeader = v[ERROR_CODE] !== undefined ? 'BITS-Error-Code' : 'BITS-Error';
  const err = v[ERROR_CODE] ?? v[ERROR];
  if (err !== undefined) {
    const r = parseErrorCode(err);
    if (r.ok) ack.errorCode = r.value;
    else problems.push({ code: 'packet-bad-header', header: errHeader, reason: r.reason, severity: 'warning' });
  }

  const ctx = v[CONTEXT];
  if (ctx !== undefined) {
    const r = parseErrorContext(ctx);
    if (r.ok) ack.errorContext = r.value;
    else problems.push({ code: 'packet-bad-header', header: 'BITS-Error-Context', reason: r.reason, severity: 'warning' });
  }
  return ack;
}

function truncate(text: string, max = 60): string {
  return text.length > max ? text.slice(0, max) + '...' : text;
}
