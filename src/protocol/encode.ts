/**
 * Encoders: the header lists of BITS request packets (client side) and Ack packets
 * (server side). The decoder in this folder reads what these write; the server and the
 * client build every BITS header through here so the spelling lives in one place.
 *
 * Pure: returns HeaderList values, touches no socket. Framing headers (Content-Length,
 * Connection) are the caller's, except where a packet's definition includes them.
 */
import type { HeaderList } from '../observation.js';
import { formatHex } from './error-codes.js';

type Header = readonly [string, string];

/** `BITS-Error-Context` values (bits-protocol.md §6): the BITS server extension failed. */
export const ERROR_CONTEXT_SERVER = 0x5;
/** BG_ERROR_CONTEXT_REMOTE_APPLICATION: the server application (not the BITS extension) failed. */
export const ERROR_CONTEXT_REMOTE_APPLICATION = 0x7;

/** An HRESULT as IIS writes it: `0x` + eight upper-case hex digits. */
export const formatHresult = formatHex;

/** A context value as IIS writes it: `0x5`. */
export function formatErrorContext(context: number): string {
  return '0x' + (context >>> 0).toString(16).toUpperCase();
}

export interface AckFields {
  sessionId?: string;
  /** Chosen protocol GUID (Create-Session Ack). */
  protocol?: string;
  /** `Accept-Encoding: Identity` (Create-Session Ack). */
  acceptIdentity?: boolean;
  hostId?: string;
  /** Seconds; only meaningful with hostId. */
  hostIdFallbackTimeout?: number;
  /** Next expected offset: `BITS-Received-Content-Range`. */
  receivedOffset?: number;
  replyUrl?: string;
  errorCode?: number;
  /** Defaults to ERROR_CONTEXT_SERVER when errorCode is set; alone, it is sent alone. */
  errorContext?: number;
}

/** Headers of an Ack packet, in the order IIS sends them. */
export function ackHeaders(fields: AckFields = {}): HeaderList {
  return pushAckFields([['BITS-Packet-Type', 'Ack']], fields);
}

/**
 * The same fields without BITS-Packet-Type, in the same order: what an injected answer to a
 * request that is no BITS packet carries (the gateway answers it, but not as an Ack).
 */
export function ackFieldHeaders(fields: AckFields): HeaderList {
  return pushAckFields([], fields);
}

function pushAckFields(h: Header[], fields: AckFields): HeaderList {
  if (fields.protocol !== undefined) h.push(['BITS-Protocol', fields.protocol]);
  if (fields.sessionId !== undefined) h.push(['BITS-Session-Id', fields.sessionId]);
  if (fields.acceptIdentity) h.push(['Accept-Encoding', 'Identity']);
  if (fields.hostId !== undefined) {
    h.push(['BITS-Host-Id', fields.hostId]);
    if (fields.hostIdFallbackTimeout !== undefined) {
      h.push(['BITS-Host-Id-Fallback-Timeout', String(fields.hostIdFallbackTimeout)]);
    }
  }
  if (fields.receivedOffset !== undefined) h.push(['BITS-Received-Content-Range', String(fields.receivedOffset)]);
  if (fields.replyUrl !== undefined) h.push(['BITS-Reply-URL', fields.replyUrl]);
  if (fields.errorCode !== undefined) {
    h.push(['BITS-Error-Code', formatHresult(fields.errorCode)]);
    h.push(['BITS-Error-Context', formatErrorContext(fields.errorContext ?? ERROR_CONTEXT_SERVER)]);
  } else if (fields.errorContext !== undefined) {
    h.push(['BITS-Error-Context', formatErrorContext(fields.errorContext)]);
  }
  return h;
}

export function pingHeaders(): HeaderList {
  return [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']];
}

export function createSessionHeaders(protocols: readonly string[]): HeaderList {
  return [
    ['BITS-Packet-Type', 'Create-Session'],
    ['BITS-Supported-Protocols', protocols.join(' ')],
    ['Content-Length', '0'],
  ];
}

export interface FragmentFields {
  sessionId: string;
  /** Inclusive first offset. */
  start: number;
  /** Inclusive last offset. */
  end: number;
  total: number;
  /** Sent on the first fragment only. */
  contentName?: string;
}

/** `bytes S-E/T`. */
export function formatContentRange(start: number, end: number, total: number): string {
  return `bytes ${start}-${end}/${total}`;
}

/** Fragment headers including its Content-Length (E-S+1). */
export function fragmentHeaders(f: FragmentFields): HeaderList {
  const h: Header[] = [
    ['BITS-Packet-Type', 'Fragment'],
    ['BITS-Session-Id', f.sessionId],
  ];
  if (f.contentName !== undefined) h.push(['Content-Name', f.contentName]);
  h.push(['Content-Range', formatContentRange(f.start, f.end, f.total)]);
  h.push(['Content-Length', String(f.end - f.start + 1)]);
  return h;
}

export function closeSessionHeaders(sessionId: string): HeaderList {
  return [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', sessionId], ['Content-Length', '0']];
}

export function cancelSessionHeaders(sessionId: string): HeaderList {
  return [['BITS-Packet-Type', 'Cancel-Session'], ['BITS-Session-Id', sessionId], ['Content-Length', '0']];
}
