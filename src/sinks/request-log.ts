import type pino from 'pino';
import type { Observation, ObservationSink } from '../observation.js';
import { decodeExchange, headerValue, parsePacketType } from '../protocol/index.js';
import { cleanHeaders, cleanText } from './logger.js';

/**
 * The per-exchange log. What operators need at the default level (info) is what went
 * wrong, not every Ping: so a failed exchange is always logged (error when the upstream
 * failed: 502/504, broken response; warn when the client side failed: listener reject,
 * client gone), while exchanges that went through are
 *   - at debug (and trace): every one, with its cleaned, redacted header lists;
 *   - at info: sampled, at most one line per `sampleIntervalMs` (default 1 s), carrying
 *     `sampled: true` and `skipped`, how many went through unlogged since the last line:
 *     a heartbeat of the traffic that costs nothing per exchange at 20 000 exchanges/s.
 * Session lifecycle and violations are logged by the event log (event-log.ts) at info and
 * above. `msg` stays a short constant so logs group well; the facts are fields.
 */

export const REQUEST_LOG_DEFAULTS = {
  /** At info, at most one line per this many ms for exchanges that went through. */
  sampleIntervalMs: 1_000,
} as const;

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
  /** Info-level sampling: this line stands for itself and `skipped` unlogged exchanges. */
  sampled?: true;
  skipped?: number;
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
  // The exchange's one decoding (shared with the tracker and the metrics); only a request
  // that is no BITS packet at all (the reply GET) is searched for a session id by name.
  const { request, ack } = decodeExchange(obs);
  if (request !== null && request.rawType !== '') {
    line.packet = request.type !== 'unknown' ? request.type : parsePacketType(request.rawType) ?? cleanText(request.rawType, 32);
  }
  const session = request !== null
    ? request.sessionId ?? ack?.sessionId
    : headerValue(obs.requestHeaders, 'BITS-Session-Id') ?? (obs.responseHeaders ? headerValue(obs.responseHeaders, 'BITS-Session-Id') : undefined);
  if (session !== undefined) line.session = cleanText(session, 100);
  if (obs.status !== undefined) line.status = obs.status;
  if (obs.upstreamConnectionId !== undefined) line.upstreamConn = obs.upstreamConnectionId;
  if (obs.responder !== undefined) line.responder = obs.responder;
  if (obs.error !== undefined) line.error = cleanText(obs.error, 64);
  return line;
}

export interface RequestLogOptions {
  /** At info, at most one line per this many ms for exchanges that went through; 0 logs every one. */
  sampleIntervalMs?: number;
}

export class RequestLog implements ObservationSink {
  private readonly sampleIntervalMs: number;
  private nextSampleAt = -Infinity;
  private skipped = 0;

  constructor(private readonly logger: pino.Logger, options: RequestLogOptions = {}) {
    this.sampleIntervalMs = options.sampleIntervalMs ?? REQUEST_LOG_DEFAULTS.sampleIntervalMs;
  }

  onObservation(obs: Observation): void {
    if (obs.error !== undefined) {
      this.write(obs, this.logger.isLevelEnabled('debug') ? this.detail(obs) : requestLogLine(obs));
      return;
    }
    if (this.logger.isLevelEnabled('debug')) {
      this.logger.debug(this.detail(obs), 'exchange');
      return;
    }
    if (!this.logger.isLevelEnabled('info')) return;
    // The observation's own end time is the clock: no Date.now() per exchange.
    if (obs.endedAt < this.nextSampleAt) {
      this.skipped++;
      return;
    }
    this.nextSampleAt = obs.endedAt + this.sampleIntervalMs;
    const line = requestLogLine(obs);
    if (this.sampleIntervalMs > 0) {
      line.sampled = true;
      line.skipped = this.skipped;
    }
    this.skipped = 0;
    this.logger.info(line, 'exchange');
  }

  /** Headers only at debug: the redact paths in logger.ts hide credentials. */
  private detail(obs: Observation): object {
    return {
      ...requestLogLine(obs),
      req: { headers: cleanHeaders(obs.requestHeaders) },
      ...(obs.responseHeaders ? { res: { headers: cleanHeaders(obs.responseHeaders) } } : {}),
    };
  }

  private write(obs: Observation, fields: object): void {
    if (isUpstreamFault(obs.error!)) this.logger.error(fields, 'exchange failed');
    else this.logger.warn(fields, 'exchange failed');
  }
}
