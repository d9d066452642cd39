/**
 * The browser's copy of the gateway state: a snapshot, then events applied in seq order.
 * Events at or below the last applied seq are ignored, so a resumed stream can never
 * apply something twice.
 */
import type { SnapshotMessage } from '../../src/dashboard/messages.js';
import type { SeqViolation, TrackerStats } from '../../src/dashboard/snapshot-source.js';
import type { BitsEvent, PacketRecord, SessionState, SessionSummary } from '../../src/sessions/events.js';

export type Topic = 'reset' | 'sessions' | 'violations' | 'counters';
type PacketListener = (sessionId: string | undefined, packet: PacketRecord) => void;
type EventListener = (event: BitsEvent) => void;

const MAX_VIOLATIONS = 1000;
const RATE_WINDOW_MS = 5000;

export const ACTIVE_STATES: ReadonlySet<SessionState> = new Set(['open', 'uploaded', 'closing']);
export const FAILED_STATES: ReadonlySet<SessionState> = new Set(['failed', 'cancelled', 'expired']);

/** A closed session whose bytes all arrived: the server committed the file. */
export function isCommitted(s: SessionSummary): boolean {
  return s.state === 'closed' && s.totalLength !== null && s.ackedBytes >= s.totalLength;
}

export class Store {
  readonly sessions = new Map<string, SessionSummary>();
  /** Newest first. */
  violations: SeqViolation[] = [];
  violationsByCode: Record<string, number> = {};
  lastSeq = 0;
  /** Server instance of the current seq space (sent back on resume). */
  instance = '';
  /** Sessions the gateway holds; more than sessions.size when the snapshot was capped. */
  sessionsTotal = 0;
  /** serverTime - Date.now() at the last snapshot: ages use the gateway's clock. */
  clockSkew = 0;
  /** Events skipped because their seq was already applied (should stay 0). */
  duplicates = 0;
  private readonly recentBytes: Array<[number, number]> = [];
  private readonly listeners = new Map<Topic, Set<() => void>>();
  private readonly packetListeners = new Set<PacketListener>();
  private readonly eventListeners = new Set<EventListener>();

  on(topic: Topic, fn: () => void): void {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(fn);
  }

  onPacket(fn: PacketListener): () => void {
    this.packetListeners.add(fn);
    return () => this.packetListeners.delete(fn);
  }

  /** Every applied event, in order (the overview charts count them into time buckets). */
  onEvent(fn: EventListener): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  now(): number {
    return Date.now() + this.clockSkew;
  }

  applySnapshot(msg: SnapshotMessage): void {
    this.sessions.clear();
    for (const s of msg.sessions) this.sessions.set(s.id, s);
    this.violations = msg.violations.slice(0, MAX_VIOLATIONS);
    this.violationsByCode = { ...msg.stats.violationsByCode };
    this.lastSeq = msg.seq;
    this.instance = msg.instance;
    this.sessionsTotal = msg.sessionsTotal;
    this.clockSkew = msg.serverTime - Date.now();
    this.emit('reset');
  }

  applyEvents(events: BitsEvent[]): void {
    const touched = new Set<Topic>();
    for (const e of events) {
      if (e.seq <= this.lastSeq) {
        this.duplicates++;
        continue;
      }
      this.lastSeq = e.seq;
      for (const fn of this.eventListeners) fn(e);
      switch (e.type) {
        case 'session-created':
        case 'session-updated':
        case 'session-ended':
          this.sessions.set(e.session.id, e.session);
          touched.add('sessions');
          break;
        case 'session-evicted':
          this.sessions.delete(e.session.id);
          touched.add('sessions');
          break;
        case 'packet':
          this.recentBytes.push([e.time, e.packet.requestBytes + e.packet.responseBytes]);
          for (const fn of this.packetListeners) fn(e.sessionId, e.packet);
          break;
        case 'violation':
          this.violations.unshift({ ...e.violation, seq: e.seq });
          if (this.violations.length > MAX_VIOLATIONS) this.violations.length = MAX_VIOLATIONS;
          // Same rule as the tracker's stats: info findings are listed, not counted as violations.
          if (e.violation.severity !== 'info') this.violationsByCode[e.violation.code] = (this.violationsByCode[e.violation.code] ?? 0) + 1;
          touched.add('violations');
          break;
        case 'violation-retracted': {
          // A fleet node rebuilt its view (src/fleet): the violation no longer stands.
          const at = this.violations.findIndex((v) => v.seq === e.retractedSeq);
          if (at >= 0) this.violations.splice(at, 1);
          if (e.violation.severity !== 'info' && (this.violationsByCode[e.violation.code] ?? 0) > 0) this.violationsByCode[e.violation.code]!--;
          touched.add('violations');
          break;
        }
      }
    }
    touched.add('counters');
    for (const t of touched) this.emit(t);
  }

  /** Bytes per second relayed over the last few seconds (gateway time). */
  bytesPerSecond(): number {
    const cutoff = this.now() - RATE_WINDOW_MS;
    while (this.recentBytes.length && this.recentBytes[0]![0] < cutoff) this.recentBytes.shift();
    let sum = 0;
    for (const [, b] of this.recentBytes) sum += b;
    return sum / (RATE_WINDOW_MS / 1000);
  }

  counts(): { active: number; completed: number; failed: number; invalidCloses: number } {
    let active = 0;
    let completed = 0;
    let failed = 0;
    for (const s of this.sessions.values()) {
      if (ACTIVE_STATES.has(s.state)) active++;
      else if (s.state === 'closed' && isCommitted(s)) completed++;
      else if (FAILED_STATES.has(s.state) || s.state === 'closed') failed++;
    }
    let invalidCloses = 0;
    for (const [code, n] of Object.entries(this.violationsByCode)) if (code.startsWith('close-')) invalidCloses += n;
    return { active, completed, failed, invalidCloses };
  }

  statsFallback(): Partial<TrackerStats> {
    return { seq: this.lastSeq };
  }

  private emit(topic: Topic): void {
    for (const fn of this.listeners.get(topic) ?? []) fn();
  }
}
