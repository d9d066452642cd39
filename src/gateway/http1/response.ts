/**
 * The response object handed to handlers. It writes straight to the client socket with
 * the framing chosen by response-writer.ts, and tells the connection when it has ended
 * so the next pipelined request can be parsed. Once the connection is gone (or the
 * listener itself answered, e.g. a bad chunk), every method becomes a no-op and 'close'
 * is emitted once, so a consumer can abort its upstream request.
 *
 * The head is held back until the end of the current turn (a nextTick): a handler that
 * calls writeHead() then end() or write() in the same turn (every bodiless Ack) sends the
 * whole response in one write, and 'finish' never needs an empty write of its own.
 */
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import type { HeaderList } from '../../observation.js';
import type { Http1RequestImpl } from './request.js';
import {
  CONTINUE_HEAD, CRLF, LAST_CHUNK, chunkHeader, interimHead, planResponse, type ResponseFraming,
} from './response-writer.js';
import type { Http1Response } from './types.js';

/** The connection side of a response: one object per connection, shared by its responses. */
export interface ResponseBinding {
  readonly socket: net.Socket;
  /** `res` has ended; `close` = the connection must close after it. */
  onResponseEnd(res: Http1ResponseImpl, close: boolean): void;
  /** Abort: close the client connection now (if `res` is still its current response). */
  onResponseDestroy(res: Http1ResponseImpl): void;
}

const EMPTY = Buffer.alloc(0);
/** Bodies up to this size are copied next to their head and written once (see end()). */
const ONE_WRITE_MAX_BODY = 16 * 1024;

export class Http1ResponseImpl extends EventEmitter implements Http1Response {
  readonly req: Http1RequestImpl;
  headersSent = false;
  finished = false;
  private readonly binding: ResponseBinding;
  /** The client allows persistence (request's Connection / version). */
  private readonly keepAlive: boolean;
  private framing: ResponseFraming = 'none';
  private remaining = 0;
  private closeAfterThis = false;
  private continueSent = false;
  private detached = false;
  private closed = false;
  /** Final head written by writeHead() but not yet handed to the socket. */
  private pendingHead = '';
  private readonly flushHeadTask = (): void => this.flushHead();
  private readonly afterLastWrite = (err?: Error | null): void => {
    // A response that never reached the kernel (peer reset) ends with 'close' instead of 'finish'.
    if (err) this.emitClose();
    else if (!this.detached) this.emit('finish');
  };

  constructor(req: Http1RequestImpl, binding: ResponseBinding, keepAlive: boolean) {
    super();
    this.req = req;
    this.binding = binding;
    this.keepAlive = keepAlive;
  }

  writeHead(status: number, headers: HeaderList, reason?: string): void {
    if (this.headersSent || this.finished || this.detached) return;
    if (status < 200) {
      // Interim responses never go to a 1.0 client (RFC 9110 §15.2); a final one must follow.
      if (this.req.httpVersion === '1.0' || status === 101) return;
      if (status === 100) return this.writeContinue();
      this.binding.socket.write(interimHead(status, headers, reason), 'latin1');
      return;
    }
    // A final answer to `Expect: 100-continue` without a 100 leaves the client free to send the
    // body or not (RFC 9110 §10.1.1): the framing of what follows is unknowable, so close.
    const unsentBody = this.req.expectContinue && !this.continueSent && !this.req.complete;
    const plan = planResponse(status, headers, {
      requestMethod: this.req.method,
      clientVersion: this.req.httpVersion,
      keepAlive: this.keepAlive && !this.closeAfterThis && !unsentBody,
    }, reason);
    this.headersSent = true;
    this.framing = plan.framing;
    this.remaining = plan.length;
    if (plan.close) this.closeAfterThis = true;
    this.pendingHead = plan.head;
    // nextTick rather than queueMicrotask, which allocates an AsyncResource per call.
    process.nextTick(this.flushHeadTask);
  }

  writeContinue(): void {
    if (this.continueSent || this.headersSent || this.detached || this.req.httpVersion === '1.0') return;
    this.continueSent = true;
    this.binding.socket.write(CONTINUE_HEAD, 'latin1');
  }

  write(chunk: Buffer): boolean {
    if (this.finished || this.detached) return false;
    if (!this.headersSent) this.writeHead(200, []);
    return this.writeBody(chunk);
  }

  end(chunk?: Buffer): void {
    if (this.finished || this.detached) return;
    if (!this.headersSent) this.writeHead(200, []);
    if (chunk && chunk.length > 0) {
      // A small response whose head is still held (a gateway 502/504, a server's short
      // answer): head and body leave as ONE buffer, so a client reading one segment gets
      // the whole response, not a head with an empty body.
      if (this.pendingHead !== '' && this.framing === 'length' && chunk.length <= this.remaining &&
        chunk.length <= ONE_WRITE_MAX_BODY) {
        this.remaining -= chunk.length;
        const head = this.pendingHead;
        const whole = Buffer.allocUnsafe(head.length + chunk.length);
        whole.write(head, 0, 'latin1');
        chunk.copy(whole, head.length);
        this.pendingHead = '';
        this.finished = true;
        if (this.remaining > 0) this.closeAfterThis = true;
        this.binding.socket.write(whole, this.afterLastWrite);
        this.binding.onResponseEnd(this, this.closeAfterThis);
        return;
      }
      this.writeBody(chunk);
    }
    this.finished = true;
    const socket = this.binding.socket;
    const last = this.framing === 'chunked' ? this.pendingHead + LAST_CHUNK : this.pendingHead;
    this.pendingHead = '';
    // Fewer bytes than announced: the client would wait forever; only closing tells it.
    if (this.framing === 'length' && this.remaining > 0) this.closeAfterThis = true;
    if (this.framing === 'close') this.closeAfterThis = true;
    if (last !== '') socket.write(last, 'latin1', this.afterLastWrite);
    // Everything already reached the kernel: 'finish' needs no write (nor a syscall).
    else if (socket.writableLength === 0) process.nextTick(this.afterLastWrite, null);
    // Still queued in the socket: an empty write joins the queue and reports when it drained.
    else socket.write(EMPTY, this.afterLastWrite);
    this.binding.onResponseEnd(this, this.closeAfterThis);
  }

  closeAfter(): void {
    this.closeAfterThis = true;
  }

  destroy(): void {
    if (this.detached) return;
    this.binding.onResponseDestroy(this);
  }

  /** The response will close the connection when it ends. */
  get willClose(): boolean {
    return this.closeAfterThis;
  }

  /** Called by the connection: the listener answered itself or the socket closed. */
  detach(): void {
    this.detached = true;
  }

  /** Called by the connection when the socket closed while this response was current. */
  emitClose(): void {
    this.detached = true;
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }

  private flushHead(): void {
    if (this.pendingHead === '' || this.detached) return;
    this.binding.socket.write(this.pendingHead, 'latin1');
    this.pendingHead = '';
  }

  private writeBody(chunk: Buffer): boolean {
    if (chunk.length === 0) return true;
    // Not corked together with the chunk: a corked write reports backpressure (false) even
    // when the kernel takes the whole chunk at once.
    if (this.pendingHead !== '') this.flushHead();
    return this.writeFramed(chunk);
  }

  private writeFramed(chunk: Buffer): boolean {
    const socket = this.binding.socket;
    switch (this.framing) {
      case 'none':
        return true; // HEAD / 204 / 304: the body is not sent
      case 'length': {
        if (chunk.length > this.remaining) {
          // More than announced would be read as the next response: drop it and close.
          this.closeAfterThis = true;
          chunk = chunk.subarray(0, this.remaining);
          if (chunk.length === 0) return true;
        }
        this.remaining -= chunk.length;
        return socket.write(chunk);
      }
      case 'chunked': {
        socket.cork();
        socket.write(chunkHeader(chunk.length), 'latin1');
        socket.write(chunk);
        const ok = socket.write(CRLF, 'latin1');
        socket.uncork();
        return ok;
      }
      case 'close':
        return socket.write(chunk);
    }
  }
}
