/**
 * One stream entry per observation or closed client connection. Fields: `n` node id, `b`
 * boot id (one per process start, so a restarted node's seq starting again at 1 is not
 * taken for a duplicate), `s` seq (1, 2, ... per boot), `o` the line exactly as the
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

/** Field/value pairs for XADD. */
export function encodeEntry(e: FleetEntry): string[] {
  let line: string;
  if (e.record.kind === 'observation') {
    const { decoded: _derived, ...facts } = e.record.observation;
    line = JSON.stringify({ type: 'observation', ...facts, node: e.node });
  } else {
    line = JSON.stringify({ type: 'connection-closed', connectionId: e.record.closed.connectionId, at: e.record.closed.at });
  }
  return ['n', e.node, 'b', e.boot, 's', String(e.seq), 'o', line];
}

/** An XREAD/XRANGE field list back to an entry; a reason when it is not one of ours. */
export function decodeEntry(fields: readonly string[]): FleetEntry | string {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
  const node = f.get('n');
  const boot = f.get('b');
  const seq = Number(f.get('s'));
  const raw = f.get('o');
  if (node === undefined || boot === undefined || raw === undefined || !Number.isSafeInteger(seq) || seq < 1) {
    return 'entry lacks the n/b/s/o fields of a bitsgate observation';
  }
  const parsed = parseRecordingLine(raw);
  if (!parsed.ok) return parsed.reason;
  const line = parsed.value;
  if (line.kind === 'observation') return { node, boot, seq, record: { kind: 'observation', observation: { ...line.observation, node } } };
  if (line.kind === 'connection-closed') return { node, boot, seq, record: { kind: 'connection-closed', closed: line.closed } };
  return 'entry is neither an observation nor a connection-closed record';
}
