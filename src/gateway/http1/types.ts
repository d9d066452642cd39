/**
 * The contract of the HTTP/1.1 listener shared by the gateway forwarder and the BITS
 * upload server. Shapes mirror Node's IncomingMessage/ServerResponse where `http-proxy`
 * reads them (method, url, headers, httpVersion*, socket/connection, pipe, 'aborted').
 */
import type { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import type { Readable } from 'node:stream';
import type { HeaderList } from '../../observation.js';

export interface Http1ServerOptions {
  /** Head not complete in time -> 408 (or silent close when nothing arrived) + close. Default 30 000. */
  headersTimeoutMs?: number;
  /** Larger head -> 431 + close. Default 65 536. */
  maxHeadBytes?: number;
  /** Idle connection between requests -> close. Default 120 000. */
  keepAliveTimeoutMs?: number;
  /** Request body idle (no bytes while we read) this long -> 408 or close, body stream errors. Default 120 000. */
  bodyTimeoutMs?: number;
  /** Longer chunk extension -> 400. Default 1024. */
  maxChunkExtensionBytes?: number;
  /** Called for each request the listener itself rejects (400/431/505/timeout). */
  onReject?(info: RejectInfo): void;
  /** Called when a connection is accepted / closed. */
  onConnection?(conn: ConnectionInfo): void;
  onConnectionClose?(conn: ConnectionInfo): void;
}

export interface ConnectionInfo {
  id: number;
  socket: net.Socket;
  remoteAddress: string;
  remotePort: number;
}

export interface RejectInfo {
  connectionId: number;
  remoteAddress: string;
  remotePort: number;
  /** null = closed without response. */
  status: number | null;
  /** Stable kebab code, e.g. 'cl-and-te', 'bad-chunk-size', 'head-too-large', 'headers-timeout'. */
  reason: string;
  method?: string;
  url?: string;
  at: number;
}

/** The request body stream (chunked framing already removed), plus the parsed head. */
export interface Http1Request extends Readable {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: '1.0' | '1.1';
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  /** Lower-cased names, like Node's IncomingMessage. */
  readonly headers: Record<string, string | string[]>;
  /** Flat [name, value, name, value...] in original case and order. */
  readonly rawHeaders: string[];
  readonly headerList: HeaderList;
  readonly socket: net.Socket;
  readonly connection: net.Socket;
  readonly connectionId: number;
  /** null when chunked or no body. */
  readonly contentLength: number | null;
  readonly chunked: boolean;
  /** `Expect: 100-continue` present. */
  readonly expectContinue: boolean;
  /** Date.now() when the head completed. */
  readonly receivedAt: number;
  /** Decoded body bytes received from the client so far (pushed into the stream or, after an early response, discarded). */
  readonly bodyBytesRead: number;
  /**
   * Of those, the bytes pushed into this stream (not the ones dropped after the consumer
   * destroyed it or the response ended). Pushed minus `readableLength` = bytes the consumer took.
   */
  readonly bodyBytesPushed: number;
  /** Whole body received. */
  readonly complete: boolean;
}

/**
 * Emits 'drain', 'finish' (last byte handed to the socket), 'close' (the connection went away
 * while this was the current response, or its last write failed; a response finished on a
 * kept-alive connection emits no 'close'). Never emits 'error'.
 */
export interface Http1Response extends EventEmitter {
  writeHead(status: number, headers: HeaderList, reason?: string): void;
  writeContinue(): void;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): void;
  closeAfter(): void;
  destroy(err?: Error): void;
  readonly headersSent: boolean;
  readonly finished: boolean;
  readonly req: Http1Request;
}

export type Http1Handler = (req: Http1Request, res: Http1Response) => void;
