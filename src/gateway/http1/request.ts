/**
 * The request object handed to handlers: the parsed head plus a Readable of the decoded
 * body. The connection pushes body slices in; `_read` tells it the consumer wants more,
 * which is how socket backpressure reaches the client (see connection.ts).
 */
import type * as net from 'node:net';
import { Readable } from 'node:stream';
import type { HeaderList } from '../../observation.js';
import type { RequestHead } from './request-head.js';
import type { RequestMeta } from './request-framing.js';
import type { Http1Request } from './types.js';

/** The connection side of a request: one object per connection, shared by its requests. */
export interface RequestBinding {
  readonly socket: net.Socket;
  readonly connectionId: number;
  /** The consumer of `req` wants more body: resume reading the socket. */
  onBodyRead(req: Http1RequestImpl): void;
}

/** Node's IncomingMessage convention: duplicates joined with ', ' (cookie: '; '), set-cookie as an array. */
export function headersObject(fields: readonly (readonly [string, string])[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of fields) {
    const key = name.toLowerCase();
    const prev = out[key];
    if (prev === undefined) out[key] = key === 'set-cookie' ? [value] : value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[key] = prev + (key === 'cookie' ? '; ' : ', ') + value;
  }
  return out;
}

function ignoreError(): void {}

/** Body highWaterMark: one socket read; enough to keep an upstream pipe busy without buffering much. */
const BODY_HIGH_WATER_MARK = 64 * 1024;

export class Http1RequestImpl extends Readable implements Http1Request {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: '1.0' | '1.1';
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  readonly headerList: HeaderList;
  readonly socket: net.Socket;
  readonly connectionId: number;
  readonly contentLength: number | null;
  readonly chunked: boolean;
  readonly expectContinue: boolean;
  readonly receivedAt: number;
  /** Trailer fields of a chunked body (never merged into headers). */
  rawTrailers: string[] = [];
  bodyBytesRead = 0;
  bodyBytesPushed = 0;
  complete = false;
  /** Set when the connection died or the body was malformed before the body completed. */
  aborted = false;
  private readonly binding: RequestBinding;
  private endPending = false;
  // Built on first use: the forwarder reads headerList only, and these two objects were a
  // measurable share of a Ping's cost.
  private headersCache: Record<string, string | string[]> | undefined;
  private rawHeadersCache: string[] | undefined;

  constructor(head: RequestHead, meta: RequestMeta, binding: RequestBinding, receivedAt: number) {
    super({ highWaterMark: BODY_HIGH_WATER_MARK });
    this.method = head.method;
    this.url = head.url;
    this.httpVersion = head.httpVersion;
    this.httpVersionMinor = head.versionMinor;
    this.headerList = head.fields;
    this.socket = binding.socket;
    this.connectionId = binding.connectionId;
    // An explicit `Content-Length: 0` reads as 0; no length field at all (or chunked) as null.
    this.contentLength = meta.framing.kind === 'length' ? meta.framing.length : meta.contentLengthSent ? 0 : null;
    this.chunked = meta.framing.kind === 'chunked';
    this.expectContinue = meta.expectContinue;
    this.receivedAt = receivedAt;
    this.binding = binding;
    // A body error must never crash the process when the handler ignores the body.
    this.on('error', ignoreError);
  }

  /** Lower-cased names, like Node's IncomingMessage. */
  get headers(): Record<string, string | string[]> {
    return (this.headersCache ??= headersObject(this.headerList));
  }

  /** Flat [name, value, name, value...] in original case and order. */
  get rawHeaders(): string[] {
    return (this.rawHeadersCache ??= this.headerList.flat());
  }

  get connection(): net.Socket {
    return this.socket;
  }

  /**
   * A request without a body: its end is pushed when a consumer first reads, not at once.
   * push(null) on a fresh stream schedules an emitReadable tick, a measurable share of a
   * Ping's cost, and the gateway never reads a bodiless request's stream at all.
   */
  endWhenRead(): void {
    this.endPending = true;
  }

  override _read(): void {
    if (this.endPending) {
      this.endPending = false;
      this.push(null);
      return;
    }
    this.binding.onBodyRead(this);
  }
}
