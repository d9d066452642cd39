import type { HeaderList } from '../observation.js';

/**
 * Reads a fixed set of headers in ONE pass over a wire-order list, without allocating:
 * the decoders run on every exchange of the gateway's hot path, and a lookup per header
 * (a dozen scans, each lower-casing names) cost more than the rest of the tracker together.
 * Names compare case-insensitively; the first occurrence wins, trimmed, as headerValue does.
 *
 * Not reentrant: `values` is reused by the next pick(); copy what you keep. The decoders
 * are synchronous, so one picker per decoder is safe.
 */
const MAX_NAME = 48;

export class HeaderPicker {
  /** Indexed by name length: indices of wanted names of that length. */
  private readonly byLength: (number[] | null)[] = new Array<number[] | null>(MAX_NAME).fill(null);
  /** First value of each wanted name, trimmed; undefined when absent. */
  readonly values: (string | undefined)[];
  /** Bit i set when name i occurred again with a different value (e.g. two Content-Lengths). */
  conflicts = 0;

  constructor(private readonly names: readonly string[]) {
    if (names.length > 30) throw new RangeError('HeaderPicker handles at most 30 names');
    names.forEach((n, i) => {
      if (n !== n.toLowerCase()) throw new Error(`HeaderPicker names must be lower case: ${n}`);
      if (n.length >= MAX_NAME) throw new RangeError(`header name too long for HeaderPicker: ${n}`);
      (this.byLength[n.length] ??= []).push(i);
    });
    this.values = new Array<string | undefined>(names.length).fill(undefined);
    this.canonical = names.map(canonicalCase);
  }

  /** The documented spelling of each name (`BITS-Packet-Type`), the common case on the wire. */
  private readonly canonical: readonly string[];

  pick(headers: HeaderList): this {
    const values = this.values;
    for (let i = 0; i < values.length; i++) values[i] = undefined;
    this.conflicts = 0;
    for (let h = 0; h < headers.length; h++) {
      const field = headers[h]!;
      const name = field[0];
      const len = name.length;
      // Reading past an array's end is slow in V8: longer names are never wanted anyway.
      if (len >= MAX_NAME) continue;
      const candidates = this.byLength[len]!;
      if (candidates === null) continue;
      for (let c = 0; c < candidates.length; c++) {
        const i = candidates[c]!;
        // Whole-string equality (a memcmp) for the usual spellings; the char loop only for odd case.
        if (name !== this.canonical[i] && name !== this.names[i] && !equalsLower(name, this.names[i]!)) continue;
        // Inline trim check: String.prototype.trim costs ~25 ns even with nothing to trim.
        let v = field[1];
        const n = v.length;
        if (n > 0) {
          const a = v.charCodeAt(0);
          const b = v.charCodeAt(n - 1);
          if (a <= 32 || b <= 32 || a === 160 || b === 160 || a > 0x1fff || b > 0x1fff) v = v.trim();
        }
        if (values[i] === undefined) values[i] = v;
        else if (values[i] !== v) this.conflicts |= 1 << i;
        break;
      }
    }
    return this;
  }
}

function canonicalCase(lower: string): string {
  return lower.split('-').map((w) => (w === 'bits' || w === 'url' ? w.toUpperCase() : w.charAt(0).toUpperCase() + w.slice(1))).join('-');
}

/** `name` equals the lower-case `lower`, ASCII case-insensitively. Same length assumed. */
function equalsLower(name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}
