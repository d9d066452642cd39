/**
 * Per-session packet timelines, bounded three ways: entries per session (timelineLimit), and
 * the raw header lists of entries other than Create-Session, across all sessions, by count
 * (maxRetainedHeaders) and by bytes (maxRetainedHeaderBytes). Header lists are most of a
 * timeline's memory and, kept long, most of the tracker's GC cost; older entries keep their
 * decoded fields (kind, status, range, acked offset, error code), and the packet event
 * already carried the headers to the sinks when the exchange happened.
 *
 * Bytes (src/sessions/retention.ts): each session's `timelineBytes` counts its entries and the
 * headers of its Create-Session entry (kept for the session's life); the header lists held
 * by the shared ring are counted here (`retainedBytes`), whichever session they belong to,
 * until the ring releases them.
 */
import type { PacketRecord } from './events.js';
import { recordBaseBytes, retainedHeaderBytes } from './retention.js';
import type { Session } from './session.js';

const NO_HEADERS: PacketRecord['requestHeaders'] = Object.freeze([]);
/** Below this many entries a timeline is copied exactly instead of push()ed (see append). */
const SMALL_TIMELINE = 6;

export class Timelines {
  /** Circular queue of the entries that still hold header lists, oldest at `start`. */
  private readonly ring: (PacketRecord | undefined)[] = [];
  /** Header bytes of each ring entry, measured once when it entered. */
  private readonly ringSizes: number[] = [];
  private start = 0;
  private count = 0;
  private ringBytes = 0;

  constructor(
    private readonly limit: number,
    private readonly maxRetainedHeaders: number,
    private readonly maxRetainedHeaderBytes: number,
  ) {}

  /** Header bytes held by the shared ring of recent entries. */
  get retainedBytes(): number {
    return this.ringBytes;
  }

  /** Appends the record of an exchange to the session's timeline. */
  append(session: Session, full: PacketRecord): void {
    // With maxRetainedHeaders 0 the timeline keeps a copy without headers; the event still has them.
    const rec = this.maxRetainedHeaders === 0 ? strippedCopy(full) : full;
    // A session's Create-Session says the most (protocols, host id): it always keeps its headers.
    let bytes = recordBaseBytes(rec);
    if (rec === full) {
      const headers = retainedHeaderBytes(rec);
      if (rec.kind === 'create-session') bytes += headers;
      else this.retain(rec, headers);
    }
    session.timelineBytes += bytes;
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
    if (tl.length > this.limit) {
      const gone = tl.splice(0, tl.length - this.limit);
      for (const r of gone) session.timelineBytes -= ownBytes(r);
    }
  }

  /** Keeps `rec`'s header lists, releasing those of the oldest entries beyond the count and byte caps. */
  private retain(rec: PacketRecord, headerBytes: number): void {
    const ring = this.ring;
    if (this.count === this.maxRetainedHeaders) this.releaseOldest();
    const at = (this.start + this.count) % this.maxRetainedHeaders;
    if (at === ring.length) {
      ring.push(rec);
      this.ringSizes.push(headerBytes);
    } else {
      ring[at] = rec;
      this.ringSizes[at] = headerBytes;
    }
    this.count++;
    this.ringBytes += headerBytes;
    while (this.ringBytes > this.maxRetainedHeaderBytes && this.count > 1) this.releaseOldest();
  }

  /**
   * A session leaves the tracker: its entries still in the ring give up their headers now
   * (nothing can show them any more), and the ring keeps counting the bare entries it still
   * references until it releases them.
   */
  release(session: Session): void {
    for (const rec of session.timeline) {
      if (rec.kind === 'create-session' || rec.headersDropped) continue;
      this.ringBytes += recordBaseBytes(rec) - retainedHeaderBytes(rec);
      dropHeaders(rec);
    }
  }

  private releaseOldest(): void {
    const rec = this.ring[this.start]!;
    // A bare entry here belongs to a session that left the tracker (see release).
    this.ringBytes -= rec.headersDropped ? recordBaseBytes(rec) : this.ringSizes[this.start]!;
    dropHeaders(rec);
    this.ring[this.start] = undefined;
    this.start = (this.start + 1) % this.maxRetainedHeaders;
    this.count--;
  }
}

/** What an entry costs its session: the entry, plus the headers of a Create-Session (never in the ring). */
function ownBytes(rec: PacketRecord): number {
  return recordBaseBytes(rec) + (rec.kind === 'create-session' ? retainedHeaderBytes(rec) : 0);
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
  if (rec.urlTruncated) copy.urlTruncated = true;
  return copy;
}
