/**
 * Per-session packet timelines, bounded twice: entries per session (timelineLimit) and raw
 * header lists across all sessions (maxRetainedHeaders). Header lists are most of a
 * timeline's memory and, kept long, most of the tracker's GC cost; older entries keep their
 * decoded fields (kind, status, range, acked offset, error code), and the packet event
 * already carried the headers to the sinks when the exchange happened.
 */
import type { PacketRecord } from './events.js';
import type { Session } from './session.js';

const NO_HEADERS: PacketRecord['requestHeaders'] = Object.freeze([]);
/** Below this many entries a timeline is copied exactly instead of push()ed (see append). */
const SMALL_TIMELINE = 6;

export class Timelines {
  /** Ring of the entries that still hold header lists, oldest at `next`. */
  private readonly ring: PacketRecord[] = [];
  private next = 0;

  constructor(private readonly limit: number, private readonly maxRetainedHeaders: number) {}

  /** Appends the record of an exchange to the session's timeline. */
  append(session: Session, full: PacketRecord): void {
    // With maxRetainedHeaders 0 the timeline keeps a copy without headers; the event still has them.
    const rec = this.maxRetainedHeaders === 0 ? strippedCopy(full) : full;
    // A session's Create-Session says the most (protocols, host id): it always keeps its headers.
    if (rec === full && rec.kind !== 'create-session') this.retain(rec);
    const tl = session.timeline;
    // Most sessions are short: exact-size copies while small, because push() would reserve 16
    // spare slots per session (~130 B x 100 000 sessions).
    if (tl.length < SMALL_TIMELINE && tl.length < this.limit) {
      const next = new Array<PacketRecord>(tl.length + 1);
      for (let i = 0; i < tl.length; i++) next[i] = tl[i]!;
      next[tl.length] = rec;
      session.timeline = next;
      return;
    }
    tl.push(rec);
    if (tl.length > this.limit) tl.splice(0, tl.length - this.limit);
  }

  /** Keeps `rec`'s header lists, releasing those of the oldest entry beyond maxRetainedHeaders. */
  private retain(rec: PacketRecord): void {
    const ring = this.ring;
    if (ring.length < this.maxRetainedHeaders) {
      ring.push(rec);
      return;
    }
    dropHeaders(ring[this.next]!);
    ring[this.next] = rec;
    this.next = (this.next + 1) % ring.length;
  }
}

function dropHeaders(rec: PacketRecord): void {
  rec.requestHeaders = NO_HEADERS;
  if (rec.responseHeaders !== undefined) rec.responseHeaders = NO_HEADERS;
  rec.headersDropped = true;
}

function strippedCopy(rec: PacketRecord): PacketRecord {
  // Property by property, not a spread: spread copies can land in a slower, larger object shape.
  const copy: PacketRecord = {
    exchange: rec.exchange, connectionId: rec.connectionId, kind: rec.kind, method: rec.method, url: rec.url,
    requestBytes: rec.requestBytes, responseBytes: rec.responseBytes, startedAt: rec.startedAt, ms: rec.ms,
    requestHeaders: NO_HEADERS, headersDropped: true,
  };
  if (rec.status !== undefined) copy.status = rec.status;
  if (rec.range !== undefined) copy.range = rec.range;
  if (rec.ackedOffset !== undefined) copy.ackedOffset = rec.ackedOffset;
  if (rec.errorCode !== undefined) copy.errorCode = rec.errorCode;
  if (rec.error !== undefined) copy.error = rec.error;
  return copy;
}
