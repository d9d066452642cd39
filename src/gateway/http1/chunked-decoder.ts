/**
 * Sans-I/O decoder of the chunked transfer coding (RFC 9112 §7.1).
 *
 * Only the framing bytes (chunk-size lines, CRLFs, trailers) are scanned byte by byte;
 * chunk data is handed out as `subarray` slices of the input, never copied. It is strict
 * where parsers disagree (the root of request smuggling): chunk-size lines must end in
 * CRLF, sizes are hex without sign or whitespace and at most 2^53-1, an extension is
 * capped, data must be followed by CRLF, trailer lines follow header syntax. Trailers are
 * parsed and kept but never merged into the head; framing fields in them are rejected.
 */
import { CR, HTAB, LF, SP, parseFieldLine } from './syntax.js';

export type ChunkedResult =
  | { ok: true; value: { consumed: number; done: boolean } }
  | { ok: false; reason: string };

export interface ChunkedLimits {
  maxChunkExtensionBytes: number;
  maxTrailerBytes: number;
}

const enum S {
  Size,
  SizeWs,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  TrailerLf,
  Done,
}

/** Trailer fields that would change framing or routing if a later hop merged them into the head. */
const FORBIDDEN_TRAILERS = new Set(['content-length', 'transfer-encoding', 'host', 'connection', 'trailer', 'expect']);

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

export class ChunkedDecoder {
  private readonly limits: ChunkedLimits;
  private state = S.Size;
  private size = 0;
  private digits = 0;
  private extBytes = 0;
  private remaining = 0;
  private trailerBytes = 0;
  private line: Buffer[] = [];
  /** Trailer fields received after the last chunk, in wire order. */
  readonly trailers: [string, string][] = [];

  constructor(limits: ChunkedLimits) {
    this.limits = limits;
  }

  get done(): boolean {
    return this.state === S.Done;
  }

  /**
   * Decodes `chunk[start..]`, calling `onData` with each slice of chunk data. Stops at the
   * end of the message: `consumed` then points at the first byte after it (a pipelined request).
   */
  decode(chunk: Buffer, start: number, onData: (data: Buffer) => void): ChunkedResult {
    let i = start;
    const n = chunk.length;
    while (i < n) {
      switch (this.state) {
        case S.Data: {
          const take = Math.min(this.remaining, n - i);
          onData(chunk.subarray(i, i + take));
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = S.DataCr;
          continue;
        }
        case S.Size: {
          const b = chunk[i++]!;
          const h = hexValue(b);
          if (h >= 0) {
            this.size = this.size * 16 + h;
            this.digits++;
            if (this.size > Number.MAX_SAFE_INTEGER) return { ok: false, reason: 'chunk-size-overflow' };
            continue;
          }
          if (this.digits === 0) return { ok: false, reason: 'bad-chunk-size' };
          if (b === CR) this.state = S.SizeLf;
          else if (b === 0x3b /* ; */) {
            if (!this.startExt()) return { ok: false, reason: 'chunk-extension-too-large' };
          }
          else if (b === SP || b === HTAB) this.state = S.SizeWs;
          else return { ok: false, reason: 'bad-chunk-size' };
          continue;
        }
        case S.SizeWs: {
          // BWS is only legal before a `;` extension.
          const b = chunk[i++]!;
          if (b === 0x3b) {
            if (!this.startExt()) return { ok: false, reason: 'chunk-extension-too-large' };
          } else if (b !== SP && b !== HTAB) return { ok: false, reason: 'bad-chunk-size' };
          continue;
        }
        case S.Ext: {
          const b = chunk[i++]!;
          if (b === CR) {
            this.state = S.SizeLf;
            continue;
          }
          if ((b < 0x20 && b !== HTAB) || b === 0x7f) return { ok: false, reason: 'bad-chunk-extension' };
          if (++this.extBytes > this.limits.maxChunkExtensionBytes) return { ok: false, reason: 'chunk-extension-too-large' };
          continue;
        }
        case S.SizeLf: {
          if (chunk[i++] !== LF) return { ok: false, reason: 'bad-chunk-size' };
          if (this.size === 0) {
            this.state = S.Trailer;
          } else {
            this.remaining = this.size;
            this.state = S.Data;
          }
          this.size = 0;
          this.digits = 0;
          continue;
        }
        case S.DataCr:
          if (chunk[i++] !== CR) return { ok: false, reason: 'chunk-missing-crlf' };
          this.state = S.DataLf;
          continue;
        case S.DataLf:
          if (chunk[i++] !== LF) return { ok: false, reason: 'chunk-missing-crlf' };
          this.state = S.Size;
          continue;
        case S.Trailer: {
          const cr = chunk.indexOf(CR, i);
          const end = cr < 0 ? n : cr;
          if (chunk.subarray(i, end).includes(LF)) return { ok: false, reason: 'bad-trailer' };
          this.trailerBytes += end - i + (cr < 0 ? 0 : 2);
          if (this.trailerBytes > this.limits.maxTrailerBytes) return { ok: false, reason: 'trailers-too-large' };
          if (end > i) this.line.push(Buffer.from(chunk.subarray(i, end)));
          i = cr < 0 ? n : cr + 1;
          if (cr >= 0) this.state = S.TrailerLf;
          continue;
        }
        case S.TrailerLf: {
          if (chunk[i++] !== LF) return { ok: false, reason: 'bad-trailer' };
          const line = Buffer.concat(this.line).toString('latin1');
          this.line = [];
          if (line.length === 0) {
            this.state = S.Done;
            return { ok: true, value: { consumed: i, done: true } };
          }
          const field = parseFieldLine(line);
          if (!field.ok) return { ok: false, reason: 'bad-trailer' };
          if (FORBIDDEN_TRAILERS.has(field.value[0].toLowerCase())) return { ok: false, reason: 'forbidden-trailer' };
          this.trailers.push(field.value);
          this.state = S.Trailer;
          continue;
        }
        case S.Done:
          return { ok: true, value: { consumed: i, done: true } };
      }
    }
    return { ok: true, value: { consumed: n, done: this.state === S.Done } };
  }

  /** The `;` counts towards the extension cap. */
  private startExt(): boolean {
    this.state = S.Ext;
    this.extBytes = 1;
    return this.extBytes <= this.limits.maxChunkExtensionBytes;
  }
}
