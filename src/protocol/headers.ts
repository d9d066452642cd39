import type { HeaderList } from '../observation.js';

/**
 * Header lookup on a wire-order list. Names compare case-insensitively (peers send
 * `Bits-Packet-Type`, `BITS-PACKET-TYPE`...). Linear scans: a BITS head has a dozen fields,
 * so this beats building a map per exchange on the hot path.
 */

/** Value of the first field named `name` (any case), trimmed; undefined when absent. */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const len = wanted.length;
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!;
    const n = field[0];
    if (n.length === len && (n === wanted || n.toLowerCase() === wanted)) return field[1].trim();
  }
  return undefined;
}

/** Values of every field named `name` (any case), trimmed, in wire order. */
export function headerValues(headers: HeaderList, name: string): string[] {
  const wanted = name.toLowerCase();
  const len = wanted.length;
  const out: string[] = [];
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!;
    const n = field[0];
    if (n.length === len && (n === wanted || n.toLowerCase() === wanted)) out.push(field[1].trim());
  }
  return out;
}
