/**
 * Incremental, sans-I/O parser of an HTTP/1.1 request head (RFC 9112 §2-§5).
 *
 * Bytes go in as they arrive (split anywhere); out comes `need-more`, the parsed head
 * plus how many bytes of the last chunk it used, or a rejection with status and a stable
 * reason code. Each head byte is looked at once, in one loop: line ends must be CRLF (bare CR
 * or LF and NUL are rejected wherever they appear), and a small state machine classifies the
 * bytes of each field line as it goes (name, OWS, value), remembering only offsets; at the
 * line's CRLF the name and the trimmed value are cut from the buffer as latin1 strings (byte
 * exact). No string per line, no regular expression per field; the request line is checked
 * byte by byte too, and only its method and target become strings. Only a line split across
 * reads is copied.
 * Framing rules (CL/TE) are checked afterwards by request-framing.ts, on the whole head.
 *
 * Field errors keep the reason codes (and precedence) of `parseFieldLine` in syntax.ts, which
 * still parses trailer lines: a field error is reported at its line's CRLF, so a bare LF, NUL
 * or size overflow later on the same line wins, as it did when lines were parsed whole.
 */
import { TCHAR } from '../../protocol/index.js';
import { CR, HTAB, LF, SP } from './syntax.js';

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

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

type LineResult = { kind: 'continue' } | { kind: 'done' } | { kind: 'error'; status: number; reason: string };
/** Shared results: a line that parsed allocates nothing. */
const CONTINUE: LineResult = { kind: 'continue' };
const DONE: LineResult = { kind: 'done' };
const BAD_REQUEST_LINE: LineResult = { kind: 'error', status: 400, reason: 'bad-request-line' };
const BAD_TARGET: LineResult = { kind: 'error', status: 400, reason: 'bad-request-target' };

const COLON = 0x3a;
/** Bytes a field value may not hold (CR, LF and NUL are refused earlier, anywhere in the head). */
const VALUE_FORBIDDEN = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) if (b !== HTAB) VALUE_FORBIDDEN[b] = 1;
VALUE_FORBIDDEN[0x7f] = 1;
/** Request-target bytes: no CTL, no SP, no DEL; obs-text (raw UTF-8 file names) passes through byte-exact. */
const TARGET_BYTE = new Uint8Array(256);
for (let b = 0x21; b <= 0xff; b++) if (b !== 0x7f) TARGET_BYTE[b] = 1;
const SLASH = 0x2f, STAR = 0x2a, DOT = 0x2e, DIGIT_0 = 0x30, DIGIT_1 = 0x31, DIGIT_9 = 0x39;
/** `HTTP/` */
const VERSION_PREFIX = [0x48, 0x54, 0x54, 0x50, 0x2f];

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
          ? this.onFirstLines(chunk, lineFrom, end)
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
      return DONE;
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
    return CONTINUE;
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

  /** Lines before the fields: leading empty lines, then the request line (`line[from..to)`, after any partial pieces). */
  private onFirstLines(chunk: Buffer, from: number, to: number): LineResult {
    let line = chunk;
    if (this.partial.length > 0) {
      this.partial.push(chunk.subarray(from, to));
      line = Buffer.concat(this.partial);
      this.partial = [];
      from = 0;
      to = line.length;
    }
    if (to === from) {
      return ++this.emptyLines > MAX_LEADING_EMPTY_LINES
        ? { kind: 'error', status: 400, reason: 'too-many-empty-lines' }
        : CONTINUE;
    }
    return this.onRequestLine(line, from, to);
  }

  /**
   * request-line = method SP request-target SP HTTP-version (RFC 9112 §3): exactly two SPs,
   * three non-empty parts. Checked in the order (and with the codes) the whole-line regular
   * expressions had: shape, method, version syntax, target bytes, version number, target form.
   */
  private onRequestLine(line: Buffer, from: number, to: number): LineResult {
    let sp1 = -1;
    let sp2 = -1;
    for (let i = from; i < to; i++) {
      if (line[i] !== SP) continue;
      if (sp1 < 0) sp1 = i;
      else if (sp2 < 0) sp2 = i;
      else return BAD_REQUEST_LINE;
    }
    if (sp1 <= from || sp2 <= sp1 + 1 || sp2 >= to - 1) return BAD_REQUEST_LINE;
    for (let i = from; i < sp1; i++) if (TCHAR[line[i]!] !== 1) return { kind: 'error', status: 400, reason: 'bad-method' };
    // HTTP-version = "HTTP/" DIGIT "." DIGIT
    const v = sp2 + 1;
    if (to - v !== 8 || line[v + 6] !== DOT || !isDigit(line[v + 5]!) || !isDigit(line[v + 7]!)) return BAD_REQUEST_LINE;
    for (let k = 0; k < 5; k++) if (line[v + k] !== VERSION_PREFIX[k]) return BAD_REQUEST_LINE;
    this.method = line.toString('latin1', from, sp1);
    for (let i = sp1 + 1; i < sp2; i++) if (TARGET_BYTE[line[i]!] !== 1) return BAD_TARGET;
    const target = line.toString('latin1', sp1 + 1, sp2);
    this.url = target;
    const minor = line[v + 7]!;
    if (line[v + 5] !== DIGIT_1 || (minor !== DIGIT_0 && minor !== DIGIT_1)) {
      return { kind: 'error', status: 505, reason: 'http-version-not-supported' };
    }
    this.version = minor === DIGIT_0 ? '1.0' : '1.1';
    const first = line[sp1 + 1]!;
    if (!(first === SLASH || (first === STAR && sp2 === sp1 + 2) || ABSOLUTE_FORM.test(target))) return BAD_TARGET;
    return CONTINUE;
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

function isDigit(b: number): boolean {
  return b >= DIGIT_0 && b <= DIGIT_9;
}
