/**
 * A tracker timeline entry back to the observation it was made from, for
 * `GET /api/sessions/:id/har`: the dashboard holds timelines, not observations.
 * What the timeline does not keep is filled neutrally (client address unknown, HTTP/1.1,
 * response time = end of exchange); an entry whose headers were released to bound memory
 * comes back with none, and its HAR entry says so.
 */
import type { Observation } from '../observation.js';
import type { PacketRecord } from '../sessions/events.js';

export function observationOfPacket(p: PacketRecord, client: string): Observation {
  const obs: Observation = {
    id: p.exchange,
    connectionId: p.connectionId,
    client: { address: client, port: 0 },
    method: p.method,
    url: p.url,
    httpVersion: '1.1',
    requestHeaders: p.requestHeaders,
    startedAt: p.startedAt,
    requestBodyBytes: p.requestBytes,
    responseBodyBytes: p.responseBytes,
    endedAt: p.startedAt + p.ms,
  };
  if (p.status !== undefined) {
    obs.status = p.status;
    obs.responseHeaders = p.responseHeaders ?? [];
  }
  if (p.error !== undefined) obs.error = p.error;
  return obs;
}

export const HEADERS_DROPPED_COMMENT = 'headers released by the gateway to bound memory (older exchange); record with --record to keep them';
