/**
 * Incremental, sans-I/O parser of an HTTP/1.1 request head (RFC 9112 §2-§5).
 *
 * Bytes go in as they arrive (split anywhere); out comes `need-more`, the parsed head
 * plus how many bytes of the last chunk it used, or a rejection with status and a stable
 * reason code. Each head byte is looked at once: line ends must be CRLF (bare CR or LF and
 * NUL are rejected wherever they appear), complete lines are decoded as latin1 (byte
 * exact) and only a line split across reads is copied. Framing rules (CL/TE) are checked
 * afterwards by request-framing.ts, on the whole head.
 */
import { CR, LF, TOKEN, parseFieldLine } from './syntax.js';

export interface RequestHead {
  method: string;
  /** Request target exactly as sent. */
  url: string;
  httpVersion: '1.0' | '1.1';
  versionMinor: 0 | 1;
  /** Field lines in wire order, original case, values without surrounding OWS. */
  fields: [name: string, value: string][];
  /** Bytes of the head including leading empty lines and the final CRLF. */
  headBytes: number;
}

export type HeadStep =
  | { kind: 'need-more' }
  | { kind: 'done'; head: RequestHead; consumed: number }
  | { kind: 'error'; status: number; reason: string; method?: string; url?: string };

/** RFC 9112 §2.2 asks servers to ignore at least one empty line before a request line; we take two. */
export const MAX_LEADING_EMPTY_LINES = 2;

const REQUEST_LINE = /^([^ ]+) ([^ ]+) ([^ ]+)$/;
const VERSION = /^HTTP\/(\d)\.(\d)$/;
/** Request-target bytes: no CTL, no SP, no DEL; obs-text (raw UTF-8 file names) passes through byte-exact. */
const TARGET_CHARS = /^[\x21-\x7e\x80-\xff]+$/;
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

type LineResult = { kind: 'continue' } | { kind: 'done' } | { kind: 'error'; status: number; reason: string };

export class RequestHeadParser {
  private readonly maxHeadBytes: number;
  private total = 0;
  private sawCR = false;
  private partial: Buffer[] = [];
  private emptyLines = 0;
  private method: string | undefined;
  private url: string | undefined;
  private version: '1.0' | '1.1' = '1.1';
  private fields: [string, string][] = [];

  constructor(maxHeadBytes: number) {
    this.maxHeadBytes = maxHeadBytes;
  }

  /** Bytes of the current head seen so far (0 = nothing of a next request arrived yet). */
  get bytesSeen(): number {
    return this.total;
  }

  /** Feeds `chunk[start..]`. After `done` or `error` the parser must be reset before reuse. */
  push(chunk: Buffer, start = 0): HeadStep {
    let lineFrom = start;
    for (let i = start; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (++this.total > this.maxHeadBytes) return this.fail(431, 'head-too-large');
      if (this.sawCR) {
        if (b !== LF) return this.fail(400, 'bare-cr');
        this.sawCR = false;
        const end = Math.max(lineFrom, i - 1);
        const line = this.takeLine(chunk, lineFrom, end);
        lineFrom = i + 1;
        const r = this.onLine(line);
        if (r.kind === 'error') return this.fail(r.status, r.reason);
        if (r.kind === 'done') return { kind: 'done', head: this.head(), consumed: i + 1 };
        continue;
      }
      if (b === CR) this.sawCR = true;
      else if (b === LF) return this.fail(400, 'bare-lf');
      else if (b === 0) return this.fail(400, 'nul-in-head');
    }
    const keepTo = this.sawCR ? chunk.length - 1 : chunk.length;
    // Copy: a partial line is rare (head split across reads) and must not pin the socket's chunk.
    if (keepTo > lineFrom) this.partial.push(Buffer.from(chunk.subarray(lineFrom, keepTo)));
    return { kind: 'need-more' };
  }

  reset(): void {
    this.total = 0;
    this.sawCR = false;
    this.partial = [];
    this.emptyLines = 0;
    this.method = undefined;
    this.url = undefined;
    this.version = '1.1';
    this.fields = [];
  }

  private takeLine(chunk: Buffer, from: number, to: number): string {
    if (this.partial.length === 0) return chunk.toString('latin1', from, to);
    this.partial.push(chunk.subarray(from, to));
    const line = Buffer.concat(this.partial).toString('latin1');
    this.partial = [];
    return line;
  }

  private onLine(line: string): LineResult {
    if (this.method === undefined) {
      if (line.length === 0) {
        return ++this.emptyLines > MAX_LEADING_EMPTY_LINES
          ? { kind: 'error', status: 400, reason: 'too-many-empty-lines' }
          : { kind: 'continue' };
      }
      return this.onRequestLine(line);
    }
    if (line.length === 0) return { kind: 'done' };
    const field = parseFieldLine(line);
    if (!field.ok) return { kind: 'error', status: 400, reason: field.reason };
    this.fields.push(field.value);
    return { kind: 'continue' };
  }

  private onRequestLine(line: string): LineResult {
    const m = REQUEST_LINE.exec(line);
    if (!m) return { kind: 'error', status: 400, reason: 'bad-request-line' };
    const [, method, target, version] = m as unknown as [string, string, string, string];
    if (!TOKEN.test(method)) return { kind: 'error', status: 400, reason: 'bad-method' };
    const v = VERSION.exec(version);
    if (!v) return { kind: 'error', status: 400, reason: 'bad-request-line' };
    this.method = method;
    if (!TARGET_CHARS.test(target)) return { kind: 'error', status: 400, reason: 'bad-request-target' };
    this.url = target;
    if (v[1] !== '1' || (v[2] !== '0' && v[2] !== '1')) {
      return { kind: 'error', status: 505, reason: 'http-version-not-supported' };
    }
    this.version = v[2] === '0' ? '1.0' : '1.1';
    if (!(target.charCodeAt(0) === 0x2f || target === '*' || ABSOLUTE_FORM.test(target))) {
      return { kind: 'error', status: 400, reason: 'bad-request-target' };
    }
    return { kind: 'continue' };
  }

  private head(): RequestHead {
    return {
      method: this.method!,
      url: this.url!,
      httpVersion: this.version,
      versionMinor: this.version === '1.0' ? 0 : 1,
      fields: this.fields,
      headBytes: this.total,
    };
  }

  private fail(status: number, reason: string): HeadStep {
    const step: HeadStep = { kind: 'error', status, reason };
    if (this.method !== undefined) step.method = this.method;
    if (this.url !== undefined) step.url = this.url;
    return step;
  }
}
