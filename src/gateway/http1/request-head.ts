/**
 * Incremental, sans-I/O parser of an HTTP/1.1 request head (RFC 9112 §2-§5).
 *
 * Bytes go in as they arrive (split anywhere); out comes `need-more`, the parsed head
 * plus how many bytes of the last chunk it used, or a rejection with status and a stable
 * reason code. Each head byte is looked at once, in one loop: line ends must be CRLF (bare CR
 * or LF and NUL are rejected wherever they appear), and a small state machine classifies the
 * bytes of each field line as it goes (name, OWS, value), remembering only offsets; at the
 * line's CRLF the name and the trimmed value are cut from the buffer as latin1 strings (byte
 * exact). No string per line, no regular expression per field: the request line, once per
 * request, is the only line decoded as a whole. Only a line split across reads is copied.
 * Framing rules (CL/TE) are checked afterwards by request-framing.ts, on the whole head.
 *
 * Field errors keep the reason codes (and precedence) of `parseFieldLine` in syntax.ts, which
 * still parses trailer lines: a field error is reported at its line's CRLF, so a bare LF, NUL
 * or size overflow later on the same line wins, as it did when lines were parsed whole.
 */
import { CR, HTAB, LF, SP, TOKEN } from './syntax.js';

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

const COLON = 0x3a;
/** tchar (RFC 9110 §5.6.2) by byte. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;
/** Bytes a field value may not hold (CR, LF and NUL are refused earlier, anywhere in the head). */
const VALUE_FORBIDDEN = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) if (b !== HTAB) VALUE_FORBIDDEN[b] = 1;
VALUE_FORBIDDEN[0x7f] = 1;

/** Where the field-line state machine is within the current line. */
const NAME = 0, BAD_NAME = 1, OWS = 2, VALUE = 3;

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
  // The current field line, as offsets from its first byte (see the header comment).
  private lineLen = 0;
  private state = NAME;
  private nameLen = 0;
  private valueStart = 0;
  private valueEnd = 0;
  private lastByte = 0;
  private fieldError: string | undefined;

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
        const r = this.method === undefined
          ? this.onFirstLines(this.takeLine(chunk, lineFrom, end))
          : this.onFieldLineEnd(chunk, lineFrom, end);
        lineFrom = i + 1;
        if (r.kind === 'error') return this.fail(r.status, r.reason);
        if (r.kind === 'done') return { kind: 'done', head: this.head(), consumed: i + 1 };
        continue;
      }
      if (b === CR) this.sawCR = true;
      else if (b === LF) return this.fail(400, 'bare-lf');
      else if (b === 0) return this.fail(400, 'nul-in-head');
      else if (this.method !== undefined) this.fieldByte(b);
    }
    const keepTo = this.sawCR ? chunk.length - 1 : chunk.length;
    // Copy: a partial line is rare (head split across reads) and must not pin the socket's chunk.
    if (keepTo > lineFrom) this.partial.push(Buffer.from(chunk.subarray(lineFrom, keepTo)));
    return { kind: 'need-more' };
  }

  /** One byte (not CR, LF or NUL) of a field line: advances the name / OWS / value machine. */
  private fieldByte(b: number): void {
    const k = this.lineLen++;
    const prev = this.lastByte;
    this.lastByte = b;
    if (this.fieldError !== undefined) return;
    switch (this.state) {
      case NAME:
        if (TCHAR[b] === 1) return;
        if (b === COLON && k > 0) {
          this.nameLen = k;
          this.valueStart = this.valueEnd = k + 1;
          this.state = OWS;
        } else if (k === 0 && (b === SP || b === HTAB)) {
          this.fieldError = 'obs-fold';
        } else if (b === COLON) {
          this.fieldError = 'bad-header-name'; // an empty name
        } else {
          this.state = BAD_NAME;
        }
        return;
      case BAD_NAME:
        // The first colon ends the (invalid) name; a name ending in whitespace gets its own code.
        if (b === COLON) this.fieldError = prev === SP || prev === HTAB ? 'space-before-colon' : 'bad-header-name';
        return;
      case OWS:
        if (b === SP || b === HTAB) {
          this.valueStart = this.valueEnd = k + 1;
          return;
        }
        this.state = VALUE;
        this.valueByte(b, k);
        return;
      case VALUE:
        this.valueByte(b, k);
        return;
    }
  }

  private valueByte(b: number, k: number): void {
    if (b === SP || b === HTAB) return; // trailing OWS unless more value follows
    if (VALUE_FORBIDDEN[b] === 1) this.fieldError = 'bad-header-value';
    this.valueEnd = k + 1;
  }

  /** The CRLF of a field line whose bytes were `chunk[from..to)` (after any partial pieces). */
  private onFieldLineEnd(chunk: Buffer, from: number, to: number): LineResult {
    const length = this.lineLen;
    const state = this.state;
    const error = this.fieldError;
    this.lineLen = 0;
    this.state = NAME;
    this.fieldError = undefined;
    this.lastByte = 0;
    if (length === 0) {
      this.partial = [];
      return { kind: 'done' };
    }
    if (error !== undefined) return { kind: 'error', status: 400, reason: error };
    if (state === NAME || state === BAD_NAME) return { kind: 'error', status: 400, reason: 'bad-header-line' };
    let line = chunk;
    let base = from;
    if (this.partial.length > 0) {
      this.partial.push(chunk.subarray(from, to));
      line = Buffer.concat(this.partial);
      this.partial = [];
      base = 0;
    }
    const name = line.toString('latin1', base, base + this.nameLen);
    const value = state === OWS ? '' : line.toString('latin1', base + this.valueStart, base + this.valueEnd);
    this.fields.push([name, value]);
    return { kind: 'continue' };
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
    this.lineLen = 0;
    this.state = NAME;
    this.lastByte = 0;
    this.fieldError = undefined;
  }

  private takeLine(chunk: Buffer, from: number, to: number): string {
    if (this.partial.length === 0) return chunk.toString('latin1', from, to);
    this.partial.push(chunk.subarray(from, to));
    const line = Buffer.concat(this.partial).toString('latin1');
    this.partial = [];
    return line;
  }

  /** Lines before the fields: leading empty lines, then the request line. */
  private onFirstLines(line: string): LineResult {
    if (line.length === 0) {
      return ++this.emptyLines > MAX_LEADING_EMPTY_LINES
        ? { kind: 'error', status: 400, reason: 'too-many-empty-lines' }
        : { kind: 'continue' };
    }
    return this.onRequestLine(line);
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
