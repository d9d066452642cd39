import { type BitsAck, type BitsRequest, formatErrorCode } from '../protocol/index.js';
import type { Observation } from '../observation.js';
import type { PacketKind, PacketRecord } from './events.js';
import { capRecord } from './retention.js';

export function packetKind(req: BitsRequest | null): PacketKind {
  if (!req) return 'http';
  return req.type === 'ack' ? 'unknown' : req.type;
}

/**
 * The timeline entry of one exchange (also the packet event's). Header lists are shared with
 * the observation, not copied, unless they exceed the retention caps (src/sessions/retention.ts).
 */
export function packetRecord(obs: Observation, req: BitsRequest | null, ack: BitsAck | undefined): PacketRecord {
  const rec: PacketRecord = {
    exchange: obs.id,
    connectionId: obs.connectionId,
    kind: packetKind(req),
    method: obs.method,
    url: obs.url,
    requestBytes: obs.requestBodyBytes,
    responseBytes: obs.responseBodyBytes,
    startedAt: obs.startedAt,
    ms: obs.endedAt - obs.startedAt,
    requestHeaders: obs.requestHeaders,
  };
  if (obs.status !== undefined) rec.status = obs.status;
  if (req?.range) rec.range = req.range;
  if (ack?.receivedOffset !== undefined) rec.ackedOffset = ack.receivedOffset;
  if (ack?.errorCode) rec.errorCode = formatErrorCode(ack.errorCode);
  if (obs.error !== undefined) rec.error = obs.error;
  if (obs.node !== undefined) rec.node = obs.node;
  if (obs.injected !== undefined) rec.injected = true;
  if (obs.responseHeaders !== undefined) rec.responseHeaders = obs.responseHeaders;
  return capRecord(rec);
}
