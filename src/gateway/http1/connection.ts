/**
 * One client connection: turns socket bytes into requests, one at a time.
 *
 * Theory of operation. The connection is always in one phase:
 *   head    - parsing the next request head (RequestHeadParser); idle = keep-alive timer,
 *             first byte starts the headers timer (not reset per byte: slowloris);
 *   body    - the current request's body is being received and pushed into its Readable
 *             (Content-Length countdown or ChunkedDecoder); push() returning false pauses
 *             the socket until the consumer reads (`_read` -> onBodyRead); the body timer
 *             runs only while we are reading (client silence, not our backpressure). It is
 *             not re-armed per chunk: it ticks every bodyTimeoutMs/8 and compares the body
 *             byte count with its previous tick (see onBodyTick);
 *   wait    - body complete, response not ended yet. The socket keeps flowing so a client
 *             disconnect is seen, but any pipelined bytes are stashed and the socket
 *             paused: the next head is parsed only after the response ended;
 *   closing - we answered and sent FIN; input is read and discarded until the client
 *             closes or the linger timer fires (so the client reads our response, not a RST);
 *   closed  - the socket is gone.
 * A response that ends before its body was read either drains the rest (up to
 * maxDrainBytes, keeping the connection) or closes the connection: a big unread body
 * (e.g. after an early 413) is never read just to keep a connection alive.
 * Anything the parser rejects closes the connection; it never resynchronises.
 */
import type * as net from 'node:net';
import { ChunkedDecoder } from './chunked-decoder.js';
import type { Http1Limits } from './limits.js';
import { decideRequestFraming } from './request-framing.js';
import { RequestHeadParser, type RequestHead } from './request-head.js';
import { Http1RequestImpl, type RequestBinding } from './request.js';
import { Http1ResponseImpl, type ResponseBinding } from './response.js';
import { errorResponse } from './response-writer.js';
import type { ConnectionInfo, Http1Handler, Http1ServerOptions, RejectInfo } from './types.js';

type Phase = 'head' | 'body' | 'wait' | 'closing' | 'closed';
type TimerKind = 'headers' | 'keep-alive' | 'body' | 'linger';

let lastConnectionId = 0;

/** Error given to a request body stream that can never complete. `code` mirrors Node's IncomingMessage. */
export class RequestBodyError extends Error {
  readonly code: string;
  readonly reason: string;
  constructor(reason: string, code: string, message: string) {
    super(message);
    this.name = 'RequestBodyError';
    this.reason = reason;
    this.code = code;
  }
}

export type ConnectionHooks = Pick<Http1ServerOptions, 'onReject' | 'onConnection' | 'onConnectionClose'>;

export class Http1Connection {
  readonly info: ConnectionInfo;
  private readonly socket: net.Socket;
  private readonly handler: Http1Handler;
  private readonly limits: Http1Limits;
  private readonly hooks: ConnectionHooks;
  private readonly parser: RequestHeadParser;
  private phase: Phase = 'head';
  private req: Http1RequestImpl | null = null;
  private res: Http1ResponseImpl | null = null;
  private bodyRemaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private responseEnded = false;
  private discarding = false;
  private discardBudget = 0;
  private backpressure = false;
  /** Received bytes that may only be parsed after the current response ended. */
  private pending: Buffer | null = null;
  private processing = false;
  /** A response ended inside the parse loop: the rest of the input waits for a later turn. */
  private deferred = false;
  private clientEnded = false;
  /** One Timeout per kind, re-armed with refresh(); only `timerKind` is live (see setTimer). */
  private readonly timers: { [K in TimerKind]?: NodeJS.Timeout } = {};
  private timerKind: TimerKind | null = null;
  private readonly onTimerTask = (kind: TimerKind): void => this.onTimer(kind);
  /** Body bytes seen at the body timer's last tick, and when they last changed (Date.now()). */
  private bodyTickBytes = 0;
  private bodyActiveAt = 0;
  private readonly onBodyData = (data: Buffer): void => this.deliver(data);
  /** What each request and response of this connection calls back: built once, not per request. */
  private readonly binding: RequestBinding & ResponseBinding;

  constructor(socket: net.Socket, handler: Http1Handler, limits: Http1Limits, hooks: ConnectionHooks) {
    this.socket = socket;
    this.handler = handler;
    this.limits = limits;
    this.hooks = hooks;
    this.parser = new RequestHeadParser(limits.maxHeadBytes);
    this.info = {
      id: ++lastConnectionId,
      socket,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
    };
    this.binding = {
      socket,
      connectionId: this.info.id,
      onBodyRead: (req) => this.onBodyRead(req),
      onResponseEnd: (res, close) => this.onResponseEnd(res, close),
      onResponseDestroy: (res) => this.onResponseDestroy(res),
    };
    socket.on('error', () => {}); // 'close' follows and does the cleanup
    socket.on('close', () => this.onSocketClose());
    socket.on('end', () => this.onClientEnd());
    socket.on('drain', () => this.res?.emit('drain'));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // The first request gets the headers timer from accept: a connection that never sends is a slowloris too.
    this.setTimer('headers');
    hooks.onConnection?.(this.info);
  }

  // ---- input ------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.phase === 'closing' || this.phase === 'closed') return;
    if (this.phase === 'wait' || this.pending !== null) {
      this.stash(chunk);
      return;
    }
    this.process(chunk, 0);
  }

  private process(chunk: Buffer, start: number): void {
    this.processing = true;
    try {
      while (start < chunk.length) {
        if (this.deferred) {
          this.stash(chunk.subarray(start));
          return;
        }
        if (this.phase === 'head') {
          if (this.parser.bytesSeen === 0 && this.timerKind !== 'headers') this.setTimer('headers');
          const step = this.parser.push(chunk, start);
          if (step.kind === 'need-more') return;
          if (step.kind === 'error') {
            this.reject(step.status, step.reason, step.method, step.url);
            return;
          }
          start = step.consumed;
          this.beginRequest(step.head);
        } else if (this.phase === 'body') {
          start = this.feedBody(chunk, start);
        } else if (this.phase === 'wait') {
          this.stash(chunk.subarray(start));
          return;
        } else {
          return;
        }
      }
    } finally {
      this.processing = false;
      if (this.deferred) {
        this.deferred = false;
        this.continueInput();
      }
    }
  }

  private stash(bytes: Buffer): void {
    this.pending = this.pending === null ? bytes : Buffer.concat([this.pending, bytes]);
    this.updateFlow();
  }

  private beginRequest(head: RequestHead): void {
    const meta = decideRequestFraming(head);
    if (!meta.ok) {
      this.reject(meta.status, meta.reason, head.method, head.url);
      return;
    }
    this.clearTimer();
    const req = new Http1RequestImpl(head, meta.value, this.binding, Date.now());
    const res = new Http1ResponseImpl(req, this.binding, meta.value.keepAlive);
    this.req = req;
    this.res = res;
    this.responseEnded = false;
    this.discarding = false;
    this.backpressure = false;
    const framing = meta.value.framing;
    if (framing.kind !== 'none') this.setTimer('body');
    if (framing.kind === 'none') {
      this.phase = 'wait';
      req.complete = true;
      req.endWhenRead();
    } else if (framing.kind === 'length') {
      this.phase = 'body';
      this.bodyRemaining = framing.length;
    } else {
      this.phase = 'body';
      this.decoder = new ChunkedDecoder(this.limits);
    }
    try {
      this.handler(req, res);
    } catch {
      this.onHandlerError(res);
    }
  }

  /** Feeds body bytes from `chunk[start..]`; returns the index after what the body used. */
  private feedBody(chunk: Buffer, start: number): number {
    if (this.decoder !== null) {
      const decoder = this.decoder;
      const r = decoder.decode(chunk, start, this.onBodyData);
      if (this.phase !== 'body') return chunk.length;
      if (!r.ok) {
        this.bodyError(r.reason);
        return chunk.length;
      }
      if (r.value.done) {
        this.req!.rawTrailers = decoder.trailers.flat();
        this.bodyComplete();
      }
      return r.value.consumed;
    }
    const take = Math.min(this.bodyRemaining, chunk.length - start);
    this.deliver(take === chunk.length ? chunk : chunk.subarray(start, start + take));
    this.bodyRemaining -= take;
    if (this.phase !== 'body') return chunk.length;
    if (this.bodyRemaining === 0) this.bodyComplete();
    return start + take;
  }

  private deliver(data: Buffer): void {
    const req = this.req!;
    req.bodyBytesRead += data.length;
    if (this.discarding) {
      this.discardBudget -= data.length;
      if (this.discardBudget < 0) this.closeGracefully();
      return;
    }
    if (req.destroyed) return; // the consumer gave up on the body: drop it
    req.bodyBytesPushed += data.length;
    if (!req.push(data)) {
      this.backpressure = true;
      this.updateFlow();
    }
  }

  private bodyComplete(): void {
    const req = this.req!;
    req.complete = true;
    if (this.timerKind === 'body') this.clearTimer();
    if (!this.discarding && !req.destroyed) req.push(null);
    this.decoder = null;
    this.backpressure = false;
    if (this.responseEnded) {
      this.nextRequest();
    } else {
      this.phase = 'wait';
      this.updateFlow();
    }
  }

  private bodyError(reason: string): void {
    const res = this.res!;
    const err = new RequestBodyError(reason, 'HTTP1_BAD_BODY', `malformed request body: ${reason}`);
    // A head already on the wire cannot be followed by our 400: just close.
    this.reject(res.headersSent ? null : 400, reason, this.req!.method, this.req!.url, err);
  }

  private onBodyRead(req: Http1RequestImpl): void {
    if (req !== this.req || !this.backpressure) return;
    this.backpressure = false;
    this.updateFlow();
  }

  private updateFlow(): void {
    if (this.phase === 'closing' || this.phase === 'closed') return;
    const pause = this.pending !== null || (this.phase === 'body' && this.backpressure && !this.discarding);
    if (pause) {
      if (!this.socket.isPaused()) this.socket.pause();
    } else if (this.socket.isPaused()) {
      this.socket.resume();
    }
    // The body timer measures the client's silence, not our consumer's backpressure.
    if (this.phase === 'body') {
      if (pause) {
        if (this.timerKind === 'body') this.clearTimer();
      } else if (this.timerKind !== 'body') {
        this.setTimer('body');
      }
    }
  }

  private onClientEnd(): void {
    this.clientEnded = true;
    if (this.phase === 'head') {
      this.endOfInputInHead();
    } else if (this.phase === 'body') {
      this.endOfInputInBody();
    }
    // wait: the client may still read our response; the connection closes after it.
  }

  /**
   * The client shut down its sending side before the body was complete: the body can never
   * arrive. Answer 400 now (the client may still read) rather than let the handler wait for
   * bytes that will not come; a gateway would otherwise hold the request until its upstream
   * timeout and blame the upstream.
   */
  private endOfInputInBody(): void {
    if (this.responseEnded) {
      this.closeGracefully(); // already answered; only the rest of the body was being drained
      return;
    }
    const req = this.req!;
    const err = new RequestBodyError('truncated-body', 'HTTP1_TRUNCATED_BODY', 'request body truncated by the client');
    this.reject(this.res!.headersSent ? null : 400, 'truncated-body', req.method, req.url, err);
  }

  private endOfInputInHead(): void {
    if (this.parser.bytesSeen > 0) this.reject(null, 'truncated-head');
    else this.closeGracefully();
  }

  // ---- response side ----------------------------------------------------------------

  private onResponseEnd(res: Http1ResponseImpl, close: boolean): void {
    if (res !== this.res || this.phase === 'closing' || this.phase === 'closed') return;
    this.responseEnded = true;
    const req = this.req!;
    if (!req.complete) {
      const tooBig = this.decoder === null && this.bodyRemaining > this.limits.maxDrainBytes;
      if (!req.destroyed) req.destroy(); // the handler is done with the body
      if (close || tooBig) {
        this.closeGracefully();
        return;
      }
      this.discarding = true;
      this.discardBudget = this.limits.maxDrainBytes;
      this.backpressure = false;
      this.updateFlow();
      return;
    }
    if (close) {
      this.closeGracefully();
      return;
    }
    this.nextRequest();
  }

  private nextRequest(): void {
    this.req = null;
    this.res = null;
    this.decoder = null;
    this.bodyRemaining = 0;
    this.responseEnded = false;
    this.discarding = false;
    this.backpressure = false;
    this.parser.reset();
    this.phase = 'head';
    this.setTimer('keep-alive');
    if (this.processing) {
      this.deferred = true; // process() stashes the rest and calls continueInput() on its way out
      return;
    }
    this.continueInput();
  }

  /**
   * Parses what arrived during the previous exchange, on a later turn of the event loop:
   * never re-entrantly from inside a handler's res.end(), and after that response's
   * 'finish' (a nextTick), so consumers see exchange N end before exchange N+1 starts.
   */
  private continueInput(): void {
    if (this.pending !== null) {
      setImmediate(() => this.parsePending());
      return;
    }
    if (this.clientEnded) this.endOfInputInHead();
    else this.updateFlow();
  }

  private parsePending(): void {
    if (this.phase !== 'head' || this.pending === null) return;
    const bytes = this.pending;
    this.pending = null;
    this.process(bytes, 0);
    if (this.pending !== null) return; // stashed again: a later response end resumes
    // The FIN came while these bytes waited: what they began cannot be completed now.
    const phase = this.phase as Phase; // process() moved it on
    if (this.clientEnded && phase === 'head') this.endOfInputInHead();
    else if (this.clientEnded && phase === 'body') this.endOfInputInBody();
    else this.updateFlow();
  }

  private onResponseDestroy(res: Http1ResponseImpl): void {
    if (res === this.res) this.socket.destroy();
  }

  private onHandlerError(res: Http1ResponseImpl): void {
    if (res === this.res && !res.headersSent && this.phase !== 'closing' && this.phase !== 'closed') {
      this.reject(500, 'handler-error', res.req.method, res.req.url);
    } else {
      this.socket.destroy();
    }
  }

  // ---- rejection and closing --------------------------------------------------------

  /** The listener answers (or just closes, status null) and the connection closes. */
  private reject(status: number | null, reason: string, method?: string, url?: string, bodyErr?: Error): void {
    if (this.phase === 'closing' || this.phase === 'closed') return;
    // Reported first: a consumer with an exchange in flight (a bad chunk mid-body) can attach
    // the reason to it before the body error and res 'close' below reach it.
    this.report(status, reason, method, url);
    const req = this.req;
    const res = this.res;
    res?.detach();
    if (req && !req.complete && !req.destroyed) {
      req.aborted = true;
      req.emit('aborted');
      req.destroy(bodyErr ?? new RequestBodyError(reason, 'HTTP1_BAD_BODY', `request rejected: ${reason}`));
    }
    if (res?.headersSent && !this.responseEnded) {
      // A half-written response cannot be completed.
      this.phase = 'closing';
      this.socket.destroy();
    } else {
      if (status !== null) this.socket.write(errorResponse(status, reason));
      this.closeGracefully();
    }
    res?.emitClose();
  }

  private report(status: number | null, reason: string, method?: string, url?: string): void {
    const info: RejectInfo = {
      connectionId: this.info.id,
      remoteAddress: this.info.remoteAddress,
      remotePort: this.info.remotePort,
      status,
      reason,
      at: Date.now(),
    };
    if (method !== undefined) info.method = method;
    if (url !== undefined) info.url = url;
    try {
      this.hooks.onReject?.(info);
    } catch {
      // a logging hook must not break the connection state machine
    }
  }

  /** FIN after what is queued; keep reading (and discarding) so the client sees the response, not a RST. */
  private closeGracefully(): void {
    if (this.phase === 'closing' || this.phase === 'closed') return;
    this.phase = 'closing';
    this.pending = null;
    this.setTimer('linger');
    this.socket.end();
    this.socket.resume();
  }

  private onSocketClose(): void {
    // The client vanished in the middle of a head: worth a log line, nothing to answer.
    if (this.phase === 'head' && this.parser.bytesSeen > 0) this.report(null, 'truncated-head');
    this.phase = 'closed';
    this.dropTimers();
    this.pending = null;
    const req = this.req;
    if (req && !req.complete && !req.destroyed) {
      req.aborted = true;
      req.emit('aborted');
      req.destroy(new RequestBodyError('client-aborted', 'ECONNRESET', 'aborted'));
    }
    this.res?.emitClose();
    this.hooks.onConnectionClose?.(this.info);
  }

  // ---- timers -----------------------------------------------------------------------

  /**
   * At most one timer is live: `timerKind`. Each kind keeps its own Timeout, re-armed with
   * refresh() instead of a clearTimeout + setTimeout pair per request (a Timeout object and
   * timer-list churn on every Ping showed up in bench/gateway.bench.ts profiles). Clearing
   * only disarms: a stale Timeout that fires for a kind that is not live does nothing.
   * The body timer is a periodic tick (bodyTickMs), not a deadline: see onBodyTick.
   */
  private setTimer(kind: TimerKind): void {
    this.timerKind = null;
    const ms = kind === 'headers' ? this.limits.headersTimeoutMs
      : kind === 'keep-alive' ? this.limits.keepAliveTimeoutMs
        : kind === 'body' ? bodyTickMs(this.limits.bodyTimeoutMs)
          : this.limits.lingerMs;
    if (ms <= 0) return; // 0 disables a timeout
    if (kind === 'body') {
      this.bodyTickBytes = this.req!.bodyBytesRead;
      this.bodyActiveAt = Date.now();
    }
    this.timerKind = kind;
    const timer = this.timers[kind];
    if (timer !== undefined) timer.refresh();
    else this.timers[kind] = setTimeout(this.onTimerTask, ms, kind);
  }

  private clearTimer(): void {
    this.timerKind = null;
  }

  /** The socket is gone: no timer may keep the process alive or fire later. */
  private dropTimers(): void {
    this.timerKind = null;
    for (const kind of Object.keys(this.timers) as TimerKind[]) {
      clearTimeout(this.timers[kind]);
      delete this.timers[kind];
    }
  }

  /**
   * Body inactivity, sampled: every tick compares the body byte count with the previous
   * tick's, so receiving a chunk costs neither a clock read nor a timer refresh. Progress is
   * dated when a tick sees it (never earlier than it happened), so a body times out no
   * sooner than bodyTimeoutMs after its last byte, and at most two ticks (bodyTimeoutMs/4) later.
   */
  private onBodyTick(): void {
    const req = this.req!;
    const now = Date.now();
    if (req.bodyBytesRead !== this.bodyTickBytes) {
      this.bodyTickBytes = req.bodyBytesRead;
      this.bodyActiveAt = now;
    } else if (now - this.bodyActiveAt >= this.limits.bodyTimeoutMs) {
      const err = new RequestBodyError('body-timeout', 'HTTP1_BODY_TIMEOUT', 'request body timed out');
      this.reject(this.res!.headersSent ? null : 408, 'body-timeout', req.method, req.url, err);
      return;
    }
    this.timerKind = 'body';
    this.timers.body!.refresh();
  }

  private onTimer(kind: TimerKind): void {
    if (this.timerKind !== kind) return; // disarmed (or superseded) since it was armed
    this.timerKind = null;
    if (kind === 'linger') {
      this.socket.destroy();
    } else if (kind === 'body') {
      if (this.phase === 'body') this.onBodyTick();
    } else if (this.phase === 'head') {
      // Nothing of a request arrived (fresh or kept-alive connection): an idle close, not a rejection.
      if (this.parser.bytesSeen === 0) this.closeGracefully();
      else this.reject(408, 'headers-timeout');
    }
  }
}

/** Period of the body inactivity tick: an eighth of the timeout (see onBodyTick). */
function bodyTickMs(bodyTimeoutMs: number): number {
  return bodyTimeoutMs <= 0 ? 0 : Math.max(1, Math.floor(bodyTimeoutMs / 8));
}
