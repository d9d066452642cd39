/**
 * The part of the gateway's HTTP/1.1 listener (src/gateway/http1) that the BITS server
 * uses, as structural types: the handlers depend on these few members only, so they can
 * be driven by the real listener or by a test double.
 */
import type { Readable } from 'node:stream';
import type { HeaderList } from '../observation.js';

export interface ServerRequest extends Readable {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  headerList: HeaderList;
  contentLength: number | null;
  chunked: boolean;
  expectContinue: boolean;
  complete: boolean;
  /** The client's address: a "user" for the per-user session limit (we have no auth); `encrypted` on TLS. */
  socket?: { remoteAddress?: string; encrypted?: boolean };
}

export interface ServerResponse {
  writeHead(status: number, headers: HeaderList, reason?: string): void;
  writeContinue(): void;
  write(buf: Buffer): boolean;
  end(buf?: Buffer): void;
  closeAfter(): void;
  destroy(): void;
  readonly headersSent: boolean;
  readonly finished: boolean;
}
