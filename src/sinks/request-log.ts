import type pino from 'pino';
import type { Observation, ObservationSink } from '../observation.js';
import { headerValue } from '../protocol/headers.js';
import { parsePacketType } from '../protocol/packet-type.js';
import { cleanHeaders, cleanText } from './logger.js';

/**
 * One log line per exchange: info when it went through, warn when the client side failed
 * (listener reject, client gone), error when the upstream failed (502/504, broken
 * response). `msg` stays a short constant so logs group well; the facts are fields.
 */

/** Upstream or gateway faults (error level); everything else (client gone, request refused) is a warning. */
export function isUpstreamFault(error: string): boolean {
  return error.startsWith('upstream-') || error === 'bad-upstream-response' || error === 'gateway-error';
}

export interface RequestLogLine {
  ex: number;
  conn: number;
  client: string;
  method: string;
  url: string;
  packet?: string;
  session?: string;
  status?: number;
  reqBytes: number;
  resBytes: number;
  ms: number;
  upstreamConn?: number;
  responder?: string;
  error?: string;
}

export function requestLogLine(obs: Observation): RequestLogLine {
  const line: RequestLogLine = {
    ex: obs.id,
    conn: obs.connectionId,
    client: cleanText(`${obs.client.address}:${obs.client.port}`, 64),
    method: cleanText(obs.method, 32),
    url: cleanText(obs.url),
    reqBytes: obs.requestBodyBytes,
    resBytes: obs.responseBodyBytes,
    ms: Math.max(0, obs.endedAt - obs.startedAt),
  };
  const rawType = headerValue(obs.requestHeaders, 'BITS-Packet-Type');
  if (rawType !== undefined) line.packet = parsePacketType(rawType) ?? cleanText(rawType, 32);
  const session = headerValue(obs.requestHeaders, 'BITS-Session-Id') ??
    (obs.responseHeaders ? headerValue(obs.responseHeaders, 'BITS-Session-Id') : undefined);
  if (session !== undefined) line.session = cleanText(session, 100);
  if (obs.status !== undefined) line.status = obs.status;
  if (obs.upstreamConnectionId !== undefined) line.upstreamConn = obs.upstreamConnectionId;
  if (obs.responder !== undefined) line.responder = obs.responder;
  if (obs.error !== undefined) line.error = cleanText(obs.error, 64);
  return line;
}

export class RequestLog implements ObservationSink {
  constructor(private readonly logger: pino.Logger) {}

  onObservation(obs: Observation): void {
    const line = requestLogLine(obs);
    if (this.logger.isLevelEnabled('debug')) {
      // Headers only at debug: the redact paths in logger.ts hide credentials.
      const detail = {
        ...line,
        req: { headers: cleanHeaders(obs.requestHeaders) },
        ...(obs.responseHeaders ? { res: { headers: cleanHeaders(obs.responseHeaders) } } : {}),
      };
      this.write(obs, detail);
      return;
    }
    this.write(obs, line);
  }

  private write(obs: Observation, fields: object): void {
    if (obs.error === undefined) this.logger.info(fields, 'exchange');
    else if (isUpstreamFault(obs.error)) this.logger.error(fields, 'exchange failed');
    else this.logger.warn(fields, 'exchange failed');
  }
}
