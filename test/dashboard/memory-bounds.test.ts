/**
 * Issue 15.1, dashboard side: the event ring, a client's queue and the snapshot are bounded
 * in bytes as well as in count, so events carrying large strings (a 60 KB Host, 8 KiB of
 * retained headers) cannot grow the hub past its budgets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventRing } from '../../src/dashboard/event-ring.js';
import { eventBytes, summaryBytes } from '../../src/dashboard/event-size.js';
import { DashboardHub, type ClientTransport } from '../../src/dashboard/hub.js';
import type { ServerMessage } from '../../src/dashboard/messages.js';
import type { BitsEvent } from '../../src/sessions/events.js';
import { FakeSource, packet, summary } from './fake-source.js';

const BIG = 'h'.repeat(60_000);

function bigPacket(seq: number): BitsEvent {
  return { type: 'packet', seq, time: 0, sessionId: 's', packet: packet('create-session', { requestHeaders: [['X-Pad', BIG]] }) };
}

describe('EventRing by bytes', () => {
  it('keeps at most maxBytes of events and replays only what it still holds', () => {
    const one = eventBytes(bigPacket(1));
    expect(one).toBeGreaterThan(2 * 60_000);
    const r = new EventRing(10_000, 0, 5 * one);
    for (let s = 1; s <= 100; s++) {
      const e = bigPacket(s);
      r.push(e, eventBytes(e));
      expect(r.bytes).toBeLessThanOrEqual(5 * one);
    }
    expect(r.size).toBe(5);
    expect(r.bytes).toBe(5 * one);
    expect(r.since(95)?.map((x) => x.event.seq)).toEqual([96, 97, 98, 99, 100]);
    expect(r.since(94)).toBeUndefined();
  });

  it('always keeps the newest event, even one larger than the budget', () => {
    const r = new EventRing(10, 0, 100);
    const e = bigPacket(1);
    r.push(e, eventBytes(e));
    expect(r.since(0)?.map((x) => x.event.seq)).toEqual([1]);
  });
});

class StalledTransport implements ClientTransport {
  frames: string[] = [];
  bufferedAmount = 0;
  send(data: string): void {
    this.frames.push(data);
    this.bufferedAmount += data.length; // never drains
  }
  ping(): void {}
  terminate(): void {}
}

let hubs: DashboardHub[] = [];
afterEach(() => {
  for (const h of hubs) h.close();
  hubs = [];
});

describe('DashboardHub by bytes', () => {
  it('tells a stalled client to resync once its queue holds maxQueuedBytes, whatever the event count', async () => {
    const src = new FakeSource();
    const one = eventBytes(bigPacket(1));
    const hub = new DashboardHub(src, src.bus, { heartbeatMs: 0, maxQueuedEvents: 5000, maxQueuedBytes: 10 * one, highWaterBytes: 1 });
    hubs.push(hub);
    const t = new StalledTransport();
    hub.connect(t);
    await new Promise((r) => setImmediate(r)); // the snapshot fills the socket buffer: the client is stalled
    for (let i = 0; i < 10; i++) src.emit({ type: 'packet', sessionId: 's', packet: packet('fragment', { requestHeaders: [['X-Pad', BIG]] }) });
    expect(hub.counts().resyncs).toBe(0);
    src.emit({ type: 'packet', sessionId: 's', packet: packet('fragment', { requestHeaders: [['X-Pad', BIG]] }) });
    expect(hub.counts().resyncs).toBe(1);
  });

  it('bounds the snapshot by bytes, most recently active sessions first', () => {
    const src = new FakeSource();
    for (let i = 0; i < 50; i++) src.emit({ type: 'session-created', session: summary(`s${i}`, { host: BIG }) });
    const per = summaryBytes(summary('s0', { host: BIG }));
    const hub = new DashboardHub(src, src.bus, { heartbeatMs: 0, snapshotMaxBytes: 10 * per });
    hubs.push(hub);
    const snap = hub.snapshot('connect');
    expect(snap.sessions).toHaveLength(10);
    expect(snap.sessions.map((s) => s.id)).toEqual(src.sessions().slice(0, 10).map((s) => s.id));
    expect(snap.sessionsTotal).toBe(50);
    const json = JSON.stringify(snap satisfies ServerMessage);
    expect(json.length).toBeLessThan(10 * per);
  });
});
