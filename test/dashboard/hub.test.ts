import { afterEach, describe, expect, it } from 'vitest';
import { DashboardHub, type ClientTransport } from '../../src/dashboard/hub.js';
import type { ServerMessage } from '../../src/dashboard/messages.js';
import type { BitsEvent } from '../../src/sessions/events.js';
import { FakeSource, packet, summary, violation } from './fake-source.js';

/** A transport whose socket buffer we control: `stall()` stops the OS from taking data. */
class FakeTransport implements ClientTransport {
  frames: string[] = [];
  bufferedAmount = 0;
  pings = 0;
  terminated = false;
  private stalled = false;
  private waiting: Array<() => void> = [];

  send(data: string, done: (err?: Error) => void): void {
    this.frames.push(data);
    if (this.stalled) {
      this.bufferedAmount += data.length;
      this.waiting.push(() => done());
    } else {
      setImmediate(() => done());
    }
  }
  ping(): void {
    this.pings++;
  }
  terminate(): void {
    this.terminated = true;
  }
  stall(): void {
    this.stalled = true;
  }
  drain(): void {
    this.stalled = false;
    this.bufferedAmount = 0;
    const w = this.waiting;
    this.waiting = [];
    for (const f of w) f();
  }
  messages(): ServerMessage[] {
    return this.frames.map((f) => JSON.parse(f) as ServerMessage);
  }
  events(): BitsEvent[] {
    return this.messages().flatMap((m) => (m.type === 'events' ? m.events : []));
  }
}

const turn = () => new Promise<void>((r) => setImmediate(r));
async function settle(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await turn();
}

let hubs: DashboardHub[] = [];
function makeHub(source: FakeSource, opts: ConstructorParameters<typeof DashboardHub>[2] = {}): DashboardHub {
  const hub = new DashboardHub(source, source.bus, { heartbeatMs: 0, ...opts });
  hubs.push(hub);
  return hub;
}
afterEach(() => {
  for (const h of hubs) h.close();
  hubs = [];
});

describe('DashboardHub', () => {
  it('sends a snapshot on connect, then every later event in seq order', async () => {
    const src = new FakeSource();
    src.emit({ type: 'session-created', session: summary('A') });
    const hub = makeHub(src);
    const t = new FakeTransport();
    hub.connect(t);
    await settle();
    const [snap] = t.messages();
    expect(snap).toMatchObject({ type: 'snapshot', reason: 'connect', seq: 1 });
    expect(snap!.type === 'snapshot' && snap.sessions.map((s) => s.id)).toEqual(['A']);

    src.emit({ type: 'packet', sessionId: 'A', packet: packet('fragment') });
    src.emit({ type: 'violation', violation: violation('close-incomplete', 'A') });
    src.emit({ type: 'session-created', session: summary('B') });
    await settle();
    const events = t.events();
    expect(events.map((e) => [e.seq, e.type])).toEqual([[2, 'packet'], [3, 'violation'], [4, 'session-created']]);
  });

  it('keeps seq strictly increasing over many batches', async () => {
    const src = new FakeSource();
    const hub = makeHub(src, { maxBatchEvents: 7 });
    const t = new FakeTransport();
    hub.connect(t);
    await settle();
    for (let i = 0; i < 300; i++) src.emit({ type: 'packet', sessionId: 'A', packet: packet('fragment') });
    await settle(60);
    const seqs = t.events().map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('resumes with ?since from the ring: exactly the missed events, no snapshot', async () => {
    const src = new FakeSource();
    const hub = makeHub(src);
    for (let i = 0; i < 10; i++) src.emit({ type: 'packet', packet: packet('ping') });
    const t = new FakeTransport();
    hub.connect(t, 6);
    await settle();
    expect(t.messages().some((m) => m.type === 'snapshot')).toBe(false);
    expect(t.events().map((e) => e.seq)).toEqual([7, 8, 9, 10]);
  });

  it('sends a fresh snapshot when ?since is older than the ring', async () => {
    const src = new FakeSource();
    const hub = makeHub(src, { ringCapacity: 5 });
    for (let i = 0; i < 20; i++) src.emit({ type: 'packet', packet: packet('ping') });
    const t = new FakeTransport();
    hub.connect(t, 3);
    await settle();
    const [first, ...rest] = t.messages();
    expect(first).toMatchObject({ type: 'snapshot', reason: 'since-unavailable', seq: 20 });
    expect(rest).toEqual([]);
  });

  it('sends a fresh snapshot when ?since is from the future (a restarted server)', async () => {
    const src = new FakeSource();
    const hub = makeHub(src);
    src.emit({ type: 'packet', packet: packet('ping') });
    const t = new FakeTransport();
    hub.connect(t, 999);
    await settle();
    expect(t.messages()[0]).toMatchObject({ type: 'snapshot', reason: 'since-unavailable', seq: 1 });
  });

  it('sends a snapshot when the resume point belongs to another server instance', async () => {
    const src = new FakeSource();
    const hub = makeHub(src);
    for (let i = 0; i < 10; i++) src.emit({ type: 'packet', packet: packet('ping') });
    const t = new FakeTransport();
    hub.connect(t, 4, 'a-previous-process');
    const same = new FakeTransport();
    hub.connect(same, 4, hub.instance);
    await settle();
    expect(t.messages()[0]).toMatchObject({ type: 'snapshot', reason: 'since-unavailable', instance: hub.instance });
    expect(same.events().map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10]);
  });

  it('caps the sessions in a snapshot and says how many exist', async () => {
    const src = new FakeSource();
    for (let i = 0; i < 30; i++) src.emit({ type: 'session-created', session: summary(`S${i}`) });
    const hub = makeHub(src, { snapshotSessionLimit: 10 });
    const t = new FakeTransport();
    hub.connect(t);
    await settle();
    const snap = t.messages()[0]!;
    expect(snap.type === 'snapshot' && [snap.sessions.length, snap.sessionsTotal]).toEqual([10, 30]);
  });

  it('coalesces queued session-updated events of one session while the client is behind', async () => {
    const src = new FakeSource();
    const hub = makeHub(src);
    const t = new FakeTransport();
    hub.connect(t);
    await settle();
    t.stall();
    src.emit({ type: 'session-created', session: summary('X') }); // seq 1: goes out, then the socket is full
    await settle();
    t.bufferedAmount = 10 * 1024 * 1024;
    for (let i = 1; i <= 100; i++) {
      src.emit({ type: 'session-updated', session: summary('A', { ackedBytes: i }) });
      src.emit({ type: 'session-updated', session: summary('B', { ackedBytes: i }) });
    }
    src.emit({ type: 'violation', violation: violation('close-incomplete', 'A') });
    await settle();
    t.drain();
    await settle(10);
    const events = t.events();
    const updates = events.filter((e) => e.type === 'session-updated');
    expect(updates.map((e) => e.type === 'session-updated' && [e.session.id, e.session.ackedBytes])).toEqual([
      ['A', 100], ['B', 100],
    ]);
    expect(events.map((e) => e.type)).toEqual(['session-created', 'session-updated', 'session-updated', 'violation']);
    const seqs = events.map((e) => e.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(hub.counts().coalesced).toBe(198);
  });

  it('bounds a stalled client and tells it to resync, then sends a fresh snapshot', async () => {
    const src = new FakeSource();
    const hub = makeHub(src, { maxQueuedEvents: 1000, highWaterBytes: 64 * 1024 });
    const stalled = new FakeTransport();
    const healthy = new FakeTransport();
    const sc = hub.connect(stalled);
    hub.connect(healthy);
    await settle();
    stalled.stall();
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 1000; i++) src.emit({ type: 'packet', sessionId: `s${i}`, packet: packet('fragment') });
      await settle(2);
      expect(sc.queue.length).toBeLessThanOrEqual(1000);
      expect(stalled.bufferedAmount).toBeLessThan(64 * 1024 + 500 * 1024);
    }
    expect(hub.counts().resyncs).toBeGreaterThan(0);
    const framesWhileStalled = stalled.frames.length;
    stalled.drain();
    await settle(10);
    const after = stalled.messages().slice(framesWhileStalled);
    expect(after[0]).toMatchObject({ type: 'resync', reason: 'too-far-behind' });
    expect(after[1]).toMatchObject({ type: 'snapshot', reason: 'resync', seq: 20000 });
    // The healthy client was not affected: all 20000 events.
    expect(healthy.events().length).toBe(20000);
  });

  it('does not resend events covered by the snapshot', async () => {
    const src = new FakeSource();
    const hub = makeHub(src);
    const t = new FakeTransport();
    hub.connect(t);
    src.emit({ type: 'session-created', session: summary('A') }); // before the snapshot is written
    await settle();
    const msgs = t.messages();
    expect(msgs[0]).toMatchObject({ type: 'snapshot', seq: 1 });
    expect(t.events()).toEqual([]);
  });

  it('pings every client and terminates the one that missed a pong', async () => {
    const src = new FakeSource();
    const hub = makeHub(src);
    const alive = new FakeTransport();
    const dead = new FakeTransport();
    const a = hub.connect(alive);
    hub.connect(dead);
    hub.tick();
    expect(alive.pings).toBe(1);
    expect(dead.pings).toBe(1);
    hub.pong(a);
    hub.tick();
    expect(dead.terminated).toBe(true);
    expect(alive.terminated).toBe(false);
    expect(hub.clientCount).toBe(1);
    expect(hub.counts().terminated).toBe(1);
  });

  it('sends an idle heartbeat so the browser can tell quiet from dead', async () => {
    let now = 1_000_000;
    const src = new FakeSource(() => now);
    const hub = makeHub(src, { heartbeatMs: 1000, now: () => now });
    const t = new FakeTransport();
    const c = hub.connect(t);
    await settle();
    now += 5000;
    hub.pong(c);
    hub.tick();
    await settle();
    expect(t.messages().at(-1)).toMatchObject({ type: 'heartbeat', seq: 0 });
  });
});

describe('hub: --control injection list', () => {
  function fakeControl() {
    const listeners = new Set<() => void>();
    let rules: Array<{ id: string; rule: string; origin: string; fired: number; spent: boolean; addedAt: number }> = [];
    return {
      set(n: number) {
        rules = Array.from({ length: n }, (_, i) => ({ id: `inj-${i + 1}`, rule: `ping: delay=${i + 1}ms`, origin: 'control', fired: 0, spent: false, addedAt: 0 }));
        for (const l of listeners) l();
      },
      list: () => rules.map((r) => ({ ...r })),
      add: () => ({ refused: 'not in this test' }),
      remove: () => false,
      onChange(l: () => void) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
  }

  it('puts the list in the snapshot, and sends a stalled client only the latest list once it drains', async () => {
    const src = new FakeSource();
    const hub = makeHub(src);
    const control = fakeControl();
    hub.attachControl(control);
    const t = new FakeTransport();
    hub.connect(t);
    await settle();
    const snap = t.messages()[0]!;
    expect(snap.type === 'snapshot' && snap.control).toEqual({ injections: [] });
    t.stall();
    control.set(1);
    await settle(); // written into the stalled socket, whose buffer then passes the high-water mark
    t.bufferedAmount = 10 * 1024 * 1024;
    for (let n = 2; n <= 50; n++) control.set(n);
    await settle();
    t.drain();
    await settle();
    const lists = t.messages().flatMap((m) => (m.type === 'injections' ? [m.injections.length] : []));
    expect(lists).toEqual([1, 50]);
  });

  it('sends nothing about control when none is attached', async () => {
    const src = new FakeSource();
    const hub = makeHub(src);
    const t = new FakeTransport();
    hub.connect(t);
    await settle();
    const snap = t.messages()[0]!;
    expect(snap.type).toBe('snapshot');
    expect('control' in snap).toBe(false);
  });
});
