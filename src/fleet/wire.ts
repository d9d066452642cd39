/**
 * One stream entry carries a run of a node's records (observations or closed client
 * connections) with consecutive seqs: packing them is what makes the fleet fast (one XADD,
 * one stream entry and one XREAD item for up to PACK_MAX records instead of one each).
 * Fields: `n` node id, `b`
 * boot id (one per process start, so a restarted node's seq starting again at 1 is not
 * taken for a duplicate), `s` seq of the first record (1, 2, ... per boot; the k-th line
 * has seq s+k), `o` the records, one per line (JSON never holds a raw newline), each line exactly as the
 * recorder writes it (`{"type":"observation",...}` without the derived `decoded`, or
 * `{"type":"connection-closed",...}`). Decoding goes through the recording reader, so a
 * stream entry is checked exactly like a recorded line.
 */
import type { ConnectionClosed, Observation } from '../observation.js';
import { parseRecordingLine } from '../sessions/replay.js';

export type FleetRecord =
  | { kind: 'observation'; observation: Observation }
  | { kind: 'connection-closed'; closed: ConnectionClosed };

export interface FleetEntry {
  node: string;
  boot: string;
  seq: number;
  record: FleetRecord;
}

/** When the entry happened: the fleet orders by it. */
export function entryTime(e: FleetEntry): number {
  return e.record.kind === 'observation' ? e.record.observation.endedAt : e.record.closed.at;
}

/** Most records in one stream entry, and (roughly) most characters of their lines. */
export const PACK_MAX = 64;
const PACK_MAX_CHARS = 256 * 1024;

/** One record as the recorder writes it. */
export function recordLine(e: FleetEntry): string {
  if (e.record.kind === 'observation') {
    const { decoded: _derived, ...facts } = e.record.observation;
    return JSON.stringify({ type: 'observation', ...facts, node: e.node });
  }
  return JSON.stringify({ type: 'connection-closed', connectionId: e.record.closed.connectionId, at: e.record.closed.at });
}

/** Field/value pairs for XADD of one record. */
export function encodeEntry(e: FleetEntry): string[] {
  return ['n', e.node, 'b', e.boot, 's', String(e.seq), 'o', recordLine(e)];
}

/**
 * Field/value lists for XADD, packing runs of consecutive seqs of one producer (PACK_MAX
 * records or PACK_MAX_CHARS at most per entry), in the order given.
 */
export function encodeEntries(entries: readonly FleetEntry[]): string[][] {
  const out: string[][] = [];
  let lines: string[] = [];
  let chars = 0;
  let first: FleetEntry | undefined;
  let prev: FleetEntry | undefined;
  const cut = () => {
    if (first) out.push(['n', first.node, 'b', first.boot, 's', String(first.seq), 'o', lines.join('\n')]);
    lines = [];
    chars = 0;
    first = undefined;
  };
  for (const e of entries) {
    if (first && (lines.length >= PACK_MAX || chars >= PACK_MAX_CHARS || e.node !== prev!.node || e.boot !== prev!.boot || e.seq !== prev!.seq + 1)) cut();
    const line = recordLine(e);
    first ??= e;
    lines.push(line);
    chars += line.length;
    prev = e;
  }
  cut();
  return out;
}

/** An XREAD/XRANGE field list of one record back to an entry; a reason when it is not one of ours. */
export function decodeEntry(fields: readonly string[]): FleetEntry | string {
  const d = decodeEntries(fields);
  if (typeof d === 'string') return d;
  if (d.problems.length > 0) return d.problems[0]!;
  return d.entries.length === 1 ? d.entries[0]! : 'entry holds more than one record';
}

/**
 * An XREAD/XRANGE field list back to its records. A reason when the entry is not ours;
 * a line the recording reader refuses is skipped and named in `problems`, the others stand.
 */
export function decodeEntries(fields: readonly string[]): { entries: FleetEntry[]; problems: string[] } | string {
  let node: string | undefined;
  let boot: string | undefined;
  let s: string | undefined;
  let raw: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i];
    if (k === 'n') node = fields[i + 1];
    else if (k === 'b') boot = fields[i + 1];
    else if (k === 's') s = fields[i + 1];
    else if (k === 'o') raw = fields[i + 1];
  }
  const seq = Number(s);
  if (node === undefined || boot === undefined || raw === undefined || !Number.isSafeInteger(seq) || seq < 1) {
    return 'entry lacks the n/b/s/o fields of a bitsgate observation';
  }
  const entries: FleetEntry[] = [];
  const problems: string[] = [];
  const lines = raw.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const parsed = parseRecordingLine(lines[k]!);
    if (!parsed.ok) {
      problems.push(parsed.reason);
      continue;
    }
    const line = parsed.value;
    if (line.kind === 'observation') {
      line.observation.node = node; // the producer's id, whatever the line says (a fresh object: ours to stamp)
      entries.push({ node, boot, seq: seq + k, record: { kind: 'observation', observation: line.observation } });
    }
    else if (line.kind === 'connection-closed') entries.push({ node, boot, seq: seq + k, record: { kind: 'connection-closed', closed: line.closed } });
    else problems.push('entry is neither an observation nor a connection-closed record');
  }
  return { entries, problems };
}
