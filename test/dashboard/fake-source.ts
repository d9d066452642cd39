/**
 * A SnapshotSource built from the event stream itself (what the tracker would hold), for
 * tests that run without src/sessions' tracker. Publish through `emit` so seqs increase.
 */
import { EventBus } from '../../src/event-bus.js';
import type {
  BitsEvent, PacketRecord, SessionDetail, SessionState, SessionSummary, Violation,
} from '../../src/sessions/events.js';
import type { SeqViolation, SnapshotSource, TrackerStats } from '../../src/dashboard/snapshot-source.js';

type EventBody = BitsEvent extends infer E ? (E extends BitsEvent ? Omit<E, 'seq' | 'time'> : never) : never;

const ALL_STATES: SessionState[] = ['open', 'uploaded', 'closing', 'closed', 'cancelled', 'failed', 'expired', 'evicted'];

export class FakeSource implements SnapshotSource {
  readonly bus = new EventBus((err) => { throw err; });
  seq = 0;
  private readonly map = new Map<string, SessionDetail>();
  private readonly violations: SeqViolation[] = [];
  private observations = 0;
  private bytesRelayed = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Stamps seq/time, applies the event to the state, publishes it. */
  emit(...bodies: EventBody[]): BitsEvent[] {
    const events = bodies.map((b) => ({ ...b, seq: ++this.seq, time: this.now() }) as BitsEvent);
    for (const e of events) this.apply(e);
    this.bus.publish(events);
    return events;
  }

  private apply(e: BitsEvent): void {
    switch (e.type) {
      case 'session-created':
      case 'session-updated':
      case 'session-ended': {
        const prev = this.map.get(e.session.id);
        this.map.set(e.session.id, { ...e.session, timeline: prev?.timeline ?? [] });
        break;
      }
      case 'session-evicted':
        this.map.delete(e.session.id);
        break;
      case 'packet': {
        this.observations++;
        this.bytesRelayed += e.packet.requestBytes;
        const s = e.sessionId === undefined ? undefined : this.map.get(e.sessionId);
        if (s) s.timeline.push(e.packet);
        break;
      }
      case 'violation':
        this.violations.unshift({ ...e.violation, seq: e.seq });
        if (this.violations.length > 500) this.violations.pop();
        break;
    }
  }

  sessions(): SessionSummary[] {
    return [...this.map.values()].map(({ timeline: _t, ...s }) => s);
  }

  session(id: string): SessionDetail | undefined {
    return this.map.get(id);
  }

  recentViolations(): SeqViolation[] {
    return this.violations.slice();
  }

  stats(): TrackerStats {
    const sessionsByState = Object.fromEntries(ALL_STATES.map((s) => [s, 0])) as Record<SessionState, number>;
    for (const s of this.map.values()) sessionsByState[s.state]++;
    const violationsByCode: Record<string, number> = {};
    for (const v of this.violations) violationsByCode[v.code] = (violationsByCode[v.code] ?? 0) + 1;
    return { sessionsByState, violationsByCode, observations: this.observations, bytesRelayed: this.bytesRelayed, seq: this.seq };
  }
}

let nextExchange = 1;

export function summary(id: string, patch: Partial<SessionSummary> = {}): SessionSummary {
  const t = Date.now();
  return {
    id, state: 'open', url: '/uploads/file.bin', host: '127.0.0.1', contentName: 'file.bin', client: '127.0.0.1',
    protocol: '{7df0354d-249b-430f-820d-3d2a9bef4931}', totalLength: null, ackedBytes: 0, relayedBytes: 0,
    fragments: 0, retransmittedBytes: 0, replyFetched: false, errorCodes: [], firstSeen: t, lastSeen: t,
    adopted: false, violations: [], ...patch,
  };
}

export function packet(kind: PacketRecord['kind'], patch: Partial<PacketRecord> = {}): PacketRecord {
  const headers: [string, string][] = [['Host', '127.0.0.1'], ['BITS-Packet-Type', kind]];
  return {
    exchange: nextExchange++, connectionId: 1, kind, method: 'BITS_POST', url: '/uploads/file.bin', status: 200,
    requestBytes: 0, responseBytes: 0, startedAt: Date.now(), ms: 2, requestHeaders: headers,
    responseHeaders: [['BITS-Packet-Type', 'Ack']], ...patch,
  };
}

export function violation(code: Violation['code'], sessionId: string, patch: Partial<Violation> = {}): Violation {
  return {
    code, severity: 'error', sessionId, message: `${code} on ${sessionId}`,
    explain: 'What goes wrong and what the client should do.', exchanges: [], time: Date.now(), ...patch,
  };
}
