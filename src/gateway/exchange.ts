import type http from 'node:http';
import type { InjectionDecision } from '../inject/registry.js';
import type { ExchangeStart, HeaderList, Observation } from '../observation.js';
import { type BitsRequest, decodeExchangeWithHead } from '../protocol/index.js';
import type { Http1Response } from './http1/types.js';

/** The request body as the listener counts it (see Http1Request.bodyBytesPushed). */
export interface RequestBodyCount {
  readonly bodyBytesPushed: number;
  readonly readableLength: number;
}

/**
 * Mutable bookkeeping of one request/response while it is in flight, turned into exactly
 * one immutable Observation when it ends. `end()` is idempotent: the many ways an exchange
 * can finish (response done, client gone, upstream failed, timeout) may race, and only
 * the first one counts.
 */
export class Exchange {
  requestBodyBytes = 0;
  responseBodyBytes = 0;
  status: number | undefined;
  responseHeaders: HeaderList | undefined;
  respondedAt: number | undefined;
  responder: 'upstream' | 'gateway' | undefined;
  upstreamConnectionId: number | undefined;
  error: string | undefined;
  proxyReq: http.ClientRequest | undefined;
  proxyRes: http.IncomingMessage | undefined;
  /**
   * Epoch ms of the last progress the inactivity sweep saw (or of the dispatch and the
   * response head): the sweep samples byte counts instead of a clock read per chunk.
   */
  lastActivity: number;
  /** Body bytes (both directions) at the sweep's last look. */
  progressSeen = 0;
  /** When set, `requestBodyBytes` is taken from it at the end: the bytes the forwarder read. */
  request: RequestBodyCount | undefined;
  continueSent = false;
  /** The fault the injection policy chose for this exchange (src/gateway/fault-injector.ts). */
  fault: InjectionDecision | undefined;
  /**
   * The request head as the fault injector decoded it to ask its policy (undefined when it
   * did not look): it becomes the observation's `decoded`, so no reader decodes it again.
   */
  decodedHead: BitsRequest | null | undefined;
  /**
   * Epoch ms taken just BEFORE the response's last bytes went to the client socket with nothing
   * queued ahead of them (endResponse): the exchange's end time. Not the time of 'finish', which
   * comes after the write: a client on another connection may already have read the answer and
   * sent its next packet to another worker or fleet member, which dates that packet earlier than
   * this one's 'finish' when this process was preempted in between (a false close-while-busy
   * across processes). Undefined: the end is dated when the exchange ends.
   */
  private lastByteAt: number | undefined;
  private ended = false;

  constructor(readonly start: ExchangeStart) {
    this.lastActivity = start.startedAt;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Records the first failure only: later ones are consequences of it. */
  fail(error: string): void {
    if (this.error === undefined) this.error = error;
  }

  responded(status: number, headers: HeaderList, responder: 'upstream' | 'gateway', now: number): void {
    this.status = status;
    this.responseHeaders = headers;
    this.responder = responder;
    this.respondedAt = now;
  }

  /**
   * Ends `res` (with `body`, if any), dating the exchange's end first when the socket has nothing
   * queued, so the date precedes any byte the client can read (see lastByteAt).
   */
  endResponse(res: Http1Response, now: number, body?: Buffer): void {
    if (res.req.socket.writableLength === 0) this.lastByteAt = now;
    res.end(body);
  }

  /** Returns the observation the first time, undefined afterwards; dated lastByteAt when endResponse set it, else `now`. */
  end(now: number): Observation | undefined {
    if (this.ended) return undefined;
    this.ended = true;
    const start = this.start;
    // Pushed minus still buffered = what went on upstream (counted once, not per chunk).
    if (this.request !== undefined) this.requestBodyBytes = this.request.bodyBytesPushed - this.request.readableLength;
    // Spelled out rather than spread: this runs once per exchange on the hot path.
    const obs: Observation = {
      id: start.id,
      connectionId: start.connectionId,
      client: start.client,
      method: start.method,
      url: start.url,
      httpVersion: start.httpVersion,
      requestHeaders: start.requestHeaders,
      startedAt: start.startedAt,
      requestBodyBytes: this.requestBodyBytes,
      responseBodyBytes: this.responseBodyBytes,
      endedAt: this.lastByteAt ?? now,
    };
    if (start.scheme !== undefined) obs.scheme = start.scheme;
    if (this.status !== undefined) obs.status = this.status;
    if (this.responseHeaders !== undefined) obs.responseHeaders = this.responseHeaders;
    if (this.respondedAt !== undefined) obs.respondedAt = this.respondedAt;
    if (this.responder !== undefined) obs.responder = this.responder;
    if (this.upstreamConnectionId !== undefined) obs.upstreamConnectionId = this.upstreamConnectionId;
    if (this.error !== undefined) obs.error = this.error;
    if (this.fault !== undefined) obs.injected = { id: this.fault.injectionId, rule: this.fault.rule.text, action: this.fault.rule.action.kind };
    if (this.decodedHead !== undefined) decodeExchangeWithHead(obs, this.decodedHead);
    return obs;
  }
}
