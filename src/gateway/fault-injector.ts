/**
 * The I/O side of fault injection: applies what an InjectionPolicy (src/inject) decided to
 * one exchange. The forwarder calls it at three points only when a policy is configured:
 * - intercept(), before anything goes upstream: answers in the server's place (the body is
 *   read and discarded so the client connection stays usable), or resets the connection at
 *   once (reset-after with nothing to relay);
 * - sendRequest(), where the forwarder would send the body: delays, throttles, or relays
 *   the first N bytes and then resets the client connection;
 * - dropAnswer(), where the forwarder would relay the response: consumes it and closes the
 *   client connection without a byte of it (the lost Ack).
 *
 * The request head it decodes to ask the policy is the exchange's one decoding: it becomes the
 * observation's `decoded` (Exchange.end()). While the policy has no rule (`idle()`), nothing
 * is decoded or looked up here.
 *
 * The pinned upstream stays consistent: an answered request never reaches the upstream, and
 * every fault that leaves a request half-sent ends the client connection, which destroys its
 * pinned upstream socket (forwarder onConnectionClose); no later request can meet it.
 */
import type http from 'node:http';
import type net from 'node:net';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import type { InjectionPolicy } from '../inject/registry.js';
import type { InjectionAction } from '../inject/rule.js';
import type { HeaderList } from '../observation.js';
import { type AckFields, ackFieldHeaders, ackHeaders } from '../protocol/encode.js';
import { type BitsRequest, decodeRequest } from '../protocol/index.js';
import type { Exchange } from './exchange.js';
import { clientResponseHeaders } from './hop-by-hop.js';
import type { Http1Request, Http1Response } from './http1/types.js';

/** Error reasons observed on injected failures (stable, bounded: they are metric labels). */
const INJECTED_ERRORS = { reset: 'injected-reset', dropAck: 'injected-drop-ack' } as const;

export class FaultInjector {
  constructor(
    private readonly policy: InjectionPolicy,
    private readonly now: () => number,
  ) {}

  /**
   * Asks the policy about a request and marks the exchange. Returns true when the injector
   * took the exchange over (it ends through the response's 'finish' or 'close').
   */
  intercept(ex: Exchange, req: Http1Request, res: Http1Response): boolean {
    // No rule could fire: no decode, no lookup (the exchange is decoded once, by its first reader).
    if (this.policy.idle?.() === true) return false;
    // Decoded once: this head becomes the observation's `decoded` (Exchange.end()).
    const packet = decodeRequest(req.method, req.headerList);
    ex.decodedHead = packet;
    const fault = this.policy.decide({
      exchangeId: ex.start.id, connectionId: ex.start.connectionId, clientAddress: ex.start.client.address,
      url: ex.start.url, packet, now: this.now(),
    });
    if (fault === undefined) return false;
    ex.fault = fault;
    const action = fault.action;
    if (action.kind === 'answer') {
      this.answer(ex, req, res, action, packet);
      return true;
    }
    if (action.kind === 'reset-after' && resetLimit(action, req) === 0) {
      // Nothing to relay first: the server never sees the request.
      resetClient(ex, req.socket);
      return true;
    }
    return false;
  }

  /** Sends the request body for delay / bandwidth / reset-after; false leaves it to the forwarder. */
  sendRequest(ex: Exchange, req: Http1Request, proxyReq: http.ClientRequest, onBodyError: (err: Error) => void): boolean {
    const action = ex.fault?.action;
    if (action === undefined) return false;
    switch (action.kind) {
      case 'delay': {
        // The sweep must not count the wait as the upstream's silence.
        ex.lastActivity = this.now() + action.ms;
        setTimeout(() => {
          if (ex.isEnded) return;
          ex.lastActivity = this.now();
          this.relayBody(ex, req, proxyReq, onBodyError, undefined);
        }, action.ms).unref();
        return true;
      }
      case 'bandwidth':
        this.relayBody(ex, req, proxyReq, onBodyError, new Throttle(action.bytesPerSecond, this.now, (now) => (ex.lastActivity = now)));
        return true;
      case 'reset-after':
        this.relayThenReset(ex, req, proxyReq, resetLimit(action, req));
        return true;
      default:
        return false;
    }
  }

  /** drop-ack: the upstream answered; consume its answer and close the client connection without it. */
  dropAnswer(ex: Exchange, res: Http1Response, proxyRes: http.IncomingMessage): void {
    // Recorded as the server's answer (it was given: the server's state moved), never relayed.
    ex.responded(proxyRes.statusCode ?? 502, clientResponseHeaders(proxyRes.rawHeaders), 'upstream', this.now());
    ex.fail(INJECTED_ERRORS.dropAck);
    const drop = () => res.destroy();
    if (proxyRes.complete) {
      drop();
    } else {
      proxyRes.once('end', drop);
      proxyRes.once('close', drop);
    }
    proxyRes.resume();
  }

  private answer(ex: Exchange, req: Http1Request, res: Http1Response, action: InjectionAction & { kind: 'answer' }, packet: BitsRequest | null): void {
    const reply = () => {
      if (ex.isEnded || res.headersSent) return;
      const headers = injectedAnswerHeaders(action, packet);
      const now = this.now();
      ex.responded(action.status, headers, 'gateway', now);
      res.writeHead(action.status, headers);
      ex.endResponse(res, now);
    };
    if (req.complete) {
      reply();
      return;
    }
    // Read the whole body first: the client then reads the answer on a connection still in step.
    // Counted by the listener's total (ex.request): every byte read here is consumed.
    if (req.expectContinue) res.writeContinue();
    req.once('end', reply);
    req.resume();
  }

  private relayBody(ex: Exchange, req: Http1Request, proxyReq: http.ClientRequest, onBodyError: (err: Error) => void, throttle: Throttle | undefined): void {
    if (req.expectContinue) proxyReq.flushHeaders();
    if (req.contentLength === 0 || (req.contentLength === null && !req.chunked)) {
      proxyReq.end();
      return;
    }
    // No per-chunk work: the listener's total (ex.request) counts what the pipeline took, and
    // the sweep sees the client's bytes arrive (bodyBytesRead). A throttle holding a chunk
    // stops both, so it marks the activity itself (Throttle).
    const done = (err: NodeJS.ErrnoException | null) => {
      if (err) onBodyError(err);
    };
    if (throttle) pipeline(req, throttle, proxyReq, done);
    else pipeline(req, proxyReq, done);
  }

  /** Relays exactly `limit` body bytes (fewer if the body is shorter), waits until they are written, then resets the client. */
  private relayThenReset(ex: Exchange, req: Http1Request, proxyReq: http.ClientRequest, limit: number): void {
    if (req.expectContinue) proxyReq.flushHeaders();
    // Counted here: the listener's total would include the bytes read but never relayed.
    ex.request = undefined;
    let sent = 0;
    let pendingWrites = 0;
    let resetting = false;
    // The reset waits for every relayed byte to reach the upstream socket: destroying the
    // request (which the client's close does) would discard bytes still queued.
    const resetWhenFlushed = () => {
      if (resetting && pendingWrites === 0) resetClient(ex, req.socket);
    };
    const written = () => {
      pendingWrites--;
      resetWhenFlushed();
    };
    const reset = () => {
      if (resetting) return;
      resetting = true;
      req.pause();
      resetWhenFlushed();
    };
    req.on('data', (chunk: Buffer) => {
      if (resetting) return;
      const take = Math.min(chunk.length, limit - sent);
      sent += take;
      // Counted (not read from a clock): the sweep sees the client's bytes arrive by itself.
      ex.requestBodyBytes += take;
      pendingWrites++;
      const ok = proxyReq.write(take === chunk.length ? chunk : chunk.subarray(0, take), written);
      if (sent >= limit) reset();
      else if (!ok) {
        req.pause();
        proxyReq.once('drain', () => req.resume());
      }
    });
    req.once('end', reset);
    req.resume();
  }
}

/** Bytes to relay before a reset-after fires; a percentage needs Content-Length (none: 0). */
function resetLimit(action: InjectionAction & { kind: 'reset-after' }, req: { contentLength: number | null; chunked: boolean }): number {
  const length = req.contentLength ?? 0;
  const wanted = action.percent !== undefined ? Math.floor((length * action.percent) / 100) : action.bytes ?? 0;
  return req.chunked ? wanted : Math.min(wanted, length);
}

/**
 * The Ack a BITS server would send, built by the one encoder (src/protocol/encode.ts, so in
 * its order): the echoed session id, BITS-Received-Content-Range, the error fields. A request
 * that is no BITS packet gets the same fields without BITS-Packet-Type.
 */
export function injectedAnswerHeaders(action: InjectionAction & { kind: 'answer' }, packet: BitsRequest | null): HeaderList {
  const fields: AckFields = {};
  if (packet?.sessionId !== undefined) fields.sessionId = packet.sessionId;
  if (action.range !== undefined && action.range !== 'server') fields.receivedOffset = action.range.end + 1;
  if (action.code !== undefined) fields.errorCode = action.code;
  if (action.context !== undefined) fields.errorContext = action.context;
  return [...(packet !== null ? ackHeaders(fields) : ackFieldHeaders(fields)), ['Content-Length', '0']];
}

/** A TCP reset (RST), not a FIN: what a crashed or cut-off path looks like to the client. */
function resetClient(ex: Exchange, socket: net.Socket): void {
  ex.fail(INJECTED_ERRORS.reset);
  const s = socket as net.Socket & { resetAndDestroy?: () => void };
  try {
    if (typeof s.resetAndDestroy === 'function' && (s as { _handle?: unknown })._handle) s.resetAndDestroy();
    else s.destroy();
  } catch {
    s.destroy();
  }
}

/**
 * Passes bytes on no faster than `bytesPerSecond`, in slices of a tenth of a second; the
 * transform callback waits for the last slice, so backpressure reaches the client socket.
 *
 * Reads the clock once per slice: the schedule is computed from the start time so timer
 * lateness does not lower the rate (a slice per timer tick would drift below it). That same
 * reading marks the exchange active (`onSlice`): while a slice waits, no client byte arrives
 * for the inactivity sweep to see. Only a bandwidth rule builds one.
 */
class Throttle extends Transform {
  private sent = 0;
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly slice: number;

  constructor(private readonly bytesPerSecond: number, private readonly now: () => number, private readonly onSlice: (now: number) => void) {
    super();
    this.slice = Math.max(1, Math.floor(bytesPerSecond / 10));
    this.startedAt = now();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sendFrom(chunk, 0, callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    callback(err);
  }

  private sendFrom(chunk: Buffer, offset: number, callback: TransformCallback): void {
    while (offset < chunk.length) {
      const now = this.now();
      const wait = this.startedAt + (this.sent / this.bytesPerSecond) * 1000 - now;
      if (wait > 0) {
        this.timer = setTimeout(() => this.sendFrom(chunk, offset, callback), wait);
        return;
      }
      const piece = chunk.subarray(offset, offset + this.slice);
      offset += piece.length;
      this.sent += piece.length;
      this.push(piece);
      this.onSlice(now);
    }
    callback();
  }
}
