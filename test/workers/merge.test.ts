import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/event-bus.js';
import { Inspector } from '../../src/inspector.js';
import type { Observation } from '../../src/observation.js';
import { SessionTracker } from '../../src/sessions/tracker.js';
import { WorkerMerge } from '../../src/workers/merge.js';
import type { WorkerItem } from '../../src/workers/messages.js';
import { WorkerRelay } from '../../src/workers/relay.js';
import { Wire } from '../sessions/factory.js';

const obs = (observation: Observation): WorkerItem => ({ kind: 'observation', observation });
const closed = (connectionId: number, at: number): WorkerItem => ({ kind: 'connection-closed', closed: { connectionId, at } });

/** The primary's pipeline: merge -> relay -> inspector -> tracker. */
function primary() {
  const tracker = new SessionTracker();
  const merge = new WorkerMerge(1_000);
  const relay = new WorkerRelay([new Inspector(tracker, new EventBus())]);
  return { tracker, merge, relay, release: (now: number, all = false) => relay.deliver(merge.release(now, all)) };
}

describe('the primary merges its workers in end-time order, each worker in its own order', () => {
  // One session over two workers: Create and both Fragments on worker 1's connection; the
  // client then reconnects and worker 2 relays the Close. Worker 1 sent Create + Fragment 1
  // at once, but its batch with Fragment 2 reaches the primary after worker 2's Close.
  const T = 1_700_000_000_000;
  const w1 = new Wire('10.0.0.1', T, 'files.example.com', 1);
  const w2 = new Wire('10.0.0.1', T + 10, 'files.example.com', 1); // the same connection id, another process
  const create = w1.create('/u/f.bin', '{s1}'); // ends T+1
  const frag1 = w1.fragment('/u/f.bin', '{s1}', 0, 999, 2000); // ends T+3
  const frag2 = w1.fragment('/u/f.bin', '{s1}', 1000, 1999, 2000); // ends T+5
  const close = w2.close('/u/f.bin', '{s1}'); // T+10 to T+11

  it('applies worker 1\'s last Fragment before worker 2\'s Close although the Close arrived first: no false violation', () => {
    const p = primary();
    p.merge.addWorker(1);
    p.merge.addWorker(2);
    p.merge.add(1, T + 4, [obs(create), obs(frag1)]);
    p.merge.add(2, T + 12, [obs(close), closed(1, T + 11)]);
    p.release(T + 12);
    expect(p.tracker.session('{s1}')).toMatchObject({ state: 'open', ackedBytes: 1000 }); // the Close waits for worker 1
    p.merge.add(1, T + 30, [obs(frag2)]);
    p.release(T + 30);
    expect(p.tracker.session('{s1}')).toMatchObject({ state: 'closed', ackedBytes: 2000, violations: [] });
    expect(p.tracker.recentViolations()).toEqual([]);
  });

  it('a worker that dies with its Close still held in the merge: that connection is closed for the tracker too (the resent Close is a legal retry after a connection that closed)', () => {
    const p = primary();
    p.merge.addWorker(1);
    p.merge.addWorker(2);
    const w1c = new Wire('10.0.0.1', T, 'files.example.com', 1);
    p.merge.add(1, T + 20, [obs(w1c.create('/u/g.bin', '{s2}')), obs(w1c.fragment('/u/g.bin', '{s2}', 0, 999, 1000)), obs(w1c.close('/u/g.bin', '{s2}'))]);
    p.release(T + 20); // worker 2 has not spoken: all three wait
    // Worker 1 dies (the Ack of its Close lost with it), as primary.ts's onExit handles it.
    p.merge.removeWorker(1, p.relay.lostConnections(1, T + 21, p.merge.unreleased(1)));
    const w2c = new Wire('10.0.0.1', T + 30, 'files.example.com', 1);
    p.merge.add(2, T + 40, [obs(w2c.close('/u/g.bin', '{s2}'))]);
    p.release(T + 40);
    expect(p.tracker.recentViolations().map((v) => [v.code, v.message])).toEqual([[
      'close-after-end',
      expect.stringContaining('after connection 1 closed right after its 2xx Close Ack'),
    ]]);
  });

  it('(control) the same batches applied in arrival order give false violations', () => {
    const tracker = new SessionTracker();
    const relay = new WorkerRelay([new Inspector(tracker, new EventBus())]);
    relay.deliver([create, frag1].map((o) => ({ worker: 1, item: obs(o) })));
    relay.deliver([{ worker: 2, item: obs(close) }]);
    relay.deliver([{ worker: 1, item: obs(frag2) }]);
    expect(tracker.recentViolations().map((v) => v.code).sort()).toEqual(['close-incomplete', 'fragment-after-end']);
  });

  it('holds items until every live worker\'s clock passed them, then releases in end-time order', () => {
    const merge = new WorkerMerge(1_000);
    merge.addWorker(1);
    merge.addWorker(2);
    merge.add(1, T + 5, [obs({ ...create, endedAt: T + 1 }), obs({ ...frag1, endedAt: T + 4 })]);
    expect(merge.release(T + 5)).toEqual([]); // worker 2 silent since its fork
    merge.add(2, T + 3, [obs({ ...frag2, endedAt: T + 2 })]);
    // Below worker 2's watermark (T+3): T+1 (w1) and T+2 (w2); T+4 waits.
    expect(merge.release(T + 5).map((m) => [m.worker, m.item.kind === 'observation' && m.item.observation.endedAt])).toEqual([[1, T + 1], [2, T + 2]]);
    merge.add(2, T + 10, []); // a heartbeat
    expect(merge.release(T + 10).map((m) => m.worker)).toEqual([1]);
    expect(merge.pending).toBe(0);
  });

  it('an item at a worker\'s watermark millisecond waits (the worker may still send one that ended then)', () => {
    const merge = new WorkerMerge(1_000);
    merge.add(1, T + 5, [obs({ ...create, endedAt: T + 5 })]);
    expect(merge.release(T + 5)).toEqual([]);
    merge.add(1, T + 6, []);
    expect(merge.release(T + 6)).toHaveLength(1);
  });

  it('breaks ties in end time by start time, then worker; keeps each worker\'s own order', () => {
    const merge = new WorkerMerge(1_000);
    merge.add(2, T + 50, [obs({ ...frag2, startedAt: T + 5, endedAt: T + 10 })]);
    merge.add(1, T + 50, [obs({ ...frag1, startedAt: T + 7, endedAt: T + 10 }), obs({ ...close, startedAt: T, endedAt: T + 9 })]);
    // Worker 1's second item ended first, but worker 1's order stands: it waits behind its first.
    expect(merge.release(T + 50).map((m) => [m.worker, m.item.kind === 'observation' && m.item.observation.startedAt]))
      .toEqual([[2, T + 5], [1, T + 7], [1, T]]);
  });

  it('does not wait for a silent worker longer than maxHoldMs, nor at all for a dead one', () => {
    const merge = new WorkerMerge(1_000);
    merge.addWorker(1);
    merge.add(2, T + 5, [obs({ ...frag2, endedAt: T + 1 })]);
    expect(merge.release(T + 900)).toEqual([]);
    expect(merge.release(T + 1_002)).toHaveLength(1);
    merge.add(2, T + 1_100, [obs({ ...frag2, endedAt: T + 1_050 })]);
    merge.removeWorker(1);
    expect(merge.release(T + 1_100)).toHaveLength(1);
  });
});

describe('the relay gives the workers\' items ids of the primary', () => {
  it('keeps two workers\' connections apart though both call theirs 1, and reports a dead worker\'s open connections', () => {
    const seen: Observation[] = [];
    const closes: number[] = [];
    const relay = new WorkerRelay([{ onObservation: (o) => seen.push(o), onConnectionClosed: (c) => closes.push(c.connectionId) }]);
    const wire = new Wire();
    relay.deliver([
      { worker: 1, item: obs(wire.ping()) },
      { worker: 2, item: obs(wire.ping()) },
      { worker: 1, item: obs({ ...wire.ping(), upstreamConnectionId: 1 }) },
      { worker: 2, item: obs({ ...wire.ping(), upstreamConnectionId: 1 }) },
    ]);
    expect(seen.map((o) => [o.id, o.connectionId, o.upstreamConnectionId])).toEqual([[1, 1, undefined], [2, 2, undefined], [3, 1, 1], [4, 2, 2]]);
    relay.deliver([{ worker: 1, item: closed(1, 5) }, { worker: 1, item: closed(7, 5) }]);
    expect(closes).toEqual([1]); // connection 7 carried no exchange: nobody knows it
    expect(relay.lostConnections(2, 99)).toEqual([closed(1, 99)]);
    expect(relay.lostConnections(1, 99)).toEqual([]);
  });
});
