import type { HeaderList } from '../observation.js';
import { BITS_METHOD, H, UPLOAD_PROTOCOL_GUID } from './constants.js';
import { type ByteRange, decimalAt, parseDecimal, rangeOrReason } from './content-range.js';
import type { Problem } from './decoded.js';
import { HeaderPicker } from './header-picker.js';
import { type PacketType, parsePacketType } from './packet-type.js';
import { isPlainSessionId, parseSessionId, parseSupportedProtocols } from './session-id.js';

/** A decoded BITS request packet. Problems are collected, never thrown. */
export interface BitsRequest {
  /** `unknown` when BITS-Packet-Type is missing, unrecognised, or names a response (`Ack`). */
  type: PacketType | 'unknown';
  /** BITS-Packet-Type as sent (trimmed), '' when absent. */
  rawType: string;
  sessionId?: string;
  supportedProtocols?: string[];
  range?: ByteRange;
  contentName?: string;
  contentLength?: number;
  /** Host header (trimmed), for host-id and URL checks. */
  host?: string;
  problems: Problem[];
}

// One pass over the head picks every header a request decoder needs (hot path).
const TYPE = 0, SESSION = 1, PROTOCOLS = 2, RANGE = 3, LENGTH = 4, NAME = 5, ENCODING = 6, HOST = 7;
const picker = new HeaderPicker([
  H.packetType, H.sessionId, H.supportedProtocols, H.contentRange, H.contentLength, H.contentName, H.contentEncoding, H.host,
]);

const NEEDS_SESSION: ReadonlySet<PacketType | 'unknown'> = new Set(['fragment', 'close-session', 'cancel-session']);

/**
 * Decodes a request head. Returns null when it is not a BITS packet at all (no
 * BITS-Packet-Type and the method is not BITS_POST): an ordinary request such as the reply GET.
 * A BITS-Packet-Type on another method, and a BITS_POST without one, are reported as problems.
 * `bodyBytes` is the relayed body length when known; it stands in for a missing Content-Length.
 */
export function decodeRequest(method: string, headers: HeaderList, bodyBytes?: number): BitsRequest | null {
  const req = decodeRequestHead(method, headers);
  return req === null || bodyBytes === undefined ? req : withBodyCount(req, bodyBytes);
}

/**
 * The checks a missing Content-Length leaves to the relayed body count: how a head decoded
 * before its body was read (the fault injector's) is completed once the count is known,
 * without decoding the head again. Returns `req` itself when the count adds nothing.
 */
export function withBodyCount(req: BitsRequest, bodyBytes: number): BitsRequest {
  // A relayed count below Content-Length means the transfer broke off, not that the client lied.
  if (req.contentLength !== undefined) return req;
  let problem: Problem | undefined;
  if (req.type === 'fragment') {
    if (req.range && bodyBytes !== req.range.end - req.range.start + 1) problem = lengthMismatch('relayed body', bodyBytes, req.range);
  } else if (req.type !== 'unknown' && bodyBytes > 0) {
    problem = bodyOnBodylessPacket(req.rawType, bodyBytes);
  }
  return problem === undefined ? req : { ...req, problems: [...req.problems, problem] };
}

function decodeRequestHead(method: string, headers: HeaderList): BitsRequest | null {
  const v = picker.pick(headers).values;
  const rawType = v[TYPE];
  const isBitsMethod = method === BITS_METHOD || method.toUpperCase() === BITS_METHOD;
  if (rawType === undefined && !isBitsMethod) return null;

  const problems: Problem[] = [];
  const req: BitsRequest = { type: 'unknown', rawType: rawType ?? '', problems };
  if (v[HOST] !== undefined) req.host = v[HOST];

  if (!isBitsMethod) {
    problems.push({
      code: 'packet-bad-header',
      header: 'BITS-Packet-Type',
      reason: `BITS-Packet-Type on a ${truncate(method)} request; BITS packets use the method ${BITS_METHOD}`,
      severity: 'warning',
    });
  }
  if (rawType === undefined) {
    problems.push({ code: 'packet-missing-header', header: 'BITS-Packet-Type', reason: `${BITS_METHOD} without BITS-Packet-Type`, severity: 'error' });
  } else {
    const type = parsePacketType(rawType);
    if (type === undefined || type === 'ack') {
      problems.push({
        code: 'packet-unknown-type',
        header: 'BITS-Packet-Type',
        reason: type === 'ack'
          ? 'BITS-Packet-Type Ack on a request; Ack is the response packet'
          : `unknown BITS-Packet-Type ${JSON.stringify(truncate(rawType))}`,
        severity: 'error',
      });
    } else {
      req.type = type;
    }
  }

  const rawSession = v[SESSION];
  if (rawSession !== undefined) {
    const sid = isPlainSessionId(rawSession) ? undefined : parseSessionId(rawSession);
    if (sid === undefined) req.sessionId = rawSession;
    else if (sid.ok) req.sessionId = sid.value;
    else problems.push({ code: 'packet-bad-header', header: 'BITS-Session-Id', reason: sid.reason, severity: 'error' });
  } else if (NEEDS_SESSION.has(req.type)) {
    problems.push({ code: 'packet-missing-header', header: 'BITS-Session-Id', reason: `${rawType} without BITS-Session-Id`, severity: 'error' });
  }

  const length = v[LENGTH];
  if (length !== undefined) {
    const n = decimalAt(length, 0, length.length);
    if (n < 0) {
      const first = parseDecimal(length, 'Content-Length');
      problems.push({ code: 'packet-bad-header', header: 'Content-Length', reason: first.ok ? 'invalid Content-Length' : first.reason, severity: 'error' });
    } else if (picker.conflicts & (1 << LENGTH)) {
      problems.push({ code: 'packet-bad-header', header: 'Content-Length', reason: `conflicting Content-Length values ${conflicting(headers)}`, severity: 'error' });
    } else {
      req.contentLength = n;
    }
  }

  switch (req.type) {
    case 'create-session':
      decodeCreate(v[PROTOCOLS], req, problems);
      break;
    case 'fragment':
      decodeFragment(v, req, problems);
      break;
    default: {
      if (req.contentLength !== undefined && req.contentLength > 0 && req.type !== 'unknown') problems.push(bodyOnBodylessPacket(req.rawType, req.contentLength));
    }
  }
  return req;
}

function decodeCreate(raw: string | undefined, req: BitsRequest, problems: Problem[]): void {
  if (raw === undefined) {
    problems.push({ code: 'packet-missing-header', header: 'BITS-Supported-Protocols', reason: 'Create-Session without BITS-Supported-Protocols', severity: 'error' });
    return;
  }
  const list = parseSupportedProtocols(raw);
  req.supportedProtocols = list;
  // Clients differ in the letter case of the GUID.
  if (!list.some((p) => p.toLowerCase() === UPLOAD_PROTOCOL_GUID)) {
    problems.push({
      code: 'protocol-unsupported',
      header: 'BITS-Supported-Protocols',
      reason: list.length === 0
        ? 'Create-Session offers no protocol'
        : `Create-Session offers ${list.map((p) => truncate(p)).join(' ')}, not the BITS 1.5 upload protocol ${UPLOAD_PROTOCOL_GUID}`,
      severity: 'error',
    });
  }
}

// Only Fragments carry a body; anything else is at least odd (the server ignores it).
function bodyOnBodylessPacket(rawType: string, sent: number): Problem {
  return { code: 'packet-bad-header', header: 'Content-Length', reason: `${rawType} with a ${sent}-byte body; only Fragment packets carry data`, severity: 'warning' };
}

function lengthMismatch(source: 'Content-Length' | 'relayed body', declared: number, range: ByteRange): Problem {
  const expected = range.end - range.start + 1;
  return {
    code: 'fragment-length-mismatch',
    header: 'Content-Length',
    reason: `${source} ${declared} but Content-Range bytes ${range.start}-${range.end} is ${expected} bytes`,
    severity: 'error',
  };
}

function decodeFragment(v: readonly (string | undefined)[], req: BitsRequest, problems: Problem[]): void {
  const name = v[NAME];
  if (name !== undefined) req.contentName = name;

  const encoding = v[ENCODING];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    problems.push({ code: 'packet-bad-header', header: 'Content-Encoding', reason: `Content-Encoding ${JSON.stringify(truncate(encoding))} on a Fragment; BITS supports identity only`, severity: 'error' });
  }

  const rawRange = v[RANGE];
  if (rawRange === undefined) {
    problems.push({ code: 'packet-missing-header', header: 'Content-Range', reason: 'Fragment without Content-Range', severity: 'error' });
  } else {
    const range = rangeOrReason(rawRange);
    if (typeof range !== 'string') req.range = range;
    else problems.push({ code: 'packet-bad-header', header: 'Content-Range', reason: range, severity: 'error' });
  }

  if (v[LENGTH] === undefined) {
    problems.push({ code: 'packet-missing-header', header: 'Content-Length', reason: 'Fragment without Content-Length', severity: 'warning' });
  }
  // Without Content-Length the relayed count stands in for it (withBodyCount).
  if (req.range && req.contentLength !== undefined && req.contentLength !== req.range.end - req.range.start + 1) {
    problems.push(lengthMismatch('Content-Length', req.contentLength, req.range));
  }
}

function conflicting(headers: HeaderList): string {
  const out: string[] = [];
  for (const [n, val] of headers) if (n.toLowerCase() === H.contentLength) out.push(truncate(val.trim()));
  return out.join(', ');
}

function truncate(text: string, max = 60): string {
  return text.length > max ? text.slice(0, max) + '...' : text;
}
