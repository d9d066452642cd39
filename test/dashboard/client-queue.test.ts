import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientQueue } from '../../src/dashboard/client-queue.js';
import { EventRing } from '../../src/dashboard/event-ring.js';
import type { BitsEvent } from '../../src/sessions/events.js';
import { packet, summary } from './fake-source.js';

const kinds = ['session-updated', 'session-ended', 'packet'] as const;

function make(seq: number, kind: (typeof kinds)[number], sid: string): BitsEvent {
  if (kind === 'packet') return { type: 'packet', seq, time: 0, sessionId: sid, packet: packet('fragment') };
  return { type: kind, seq, time: 0, session: summary(sid, { ackedBytes: seq }) };
}

describe('ClientQueue', () => {
  it('delivers in seq order and drops only updates superseded by a later update or end of the same session', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...kinds), fc.constantFrom('a', 'b', 'c', 'd')), { maxLength: 300 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }),
        (ops, takes) => {
          const q = new ClientQueue();
          const pushed = ops.map(([k, sid], i) => make(i + 1, k, sid));
          const out: BitsEvent[] = [];
          let t = 0;
          for (const e of pushed) {
            q.push(e);
            if (e.seq % 7 === 0) out.push(...q.take(takes[t++ % takes.length]!));
          }
          while (q.length) out.push(...q.take(takes[t++ % takes.length]!));
          const seqs = out.map((e) => e.seq);
          expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
          const delivered = new Set(seqs);
          for (const e of pushed) {
            if (delivered.has(e.seq)) continue;
            // A missing event must be an update followed (while still queued) by a newer update/end of its session.
            expect(e.type).toBe('session-updated');
            const sid = (e as Extract<BitsEvent, { type: 'session-updated' }>).session.id;
            expect(pushed.some((l) => l.seq > e.seq && l.type !== 'packet' && 'session' in l && l.session.id === sid)).toBe(true);
          }
          // The final state of each session is always delivered.
          for (const sid of ['a', 'b', 'c', 'd']) {
            const last = [...pushed].reverse().find((e) => e.type !== 'packet' && 'session' in e && e.session.id === sid);
            if (last) expect(delivered.has(last.seq)).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('stays proportional to the sessions changing, not to the update rate', () => {
    const q = new ClientQueue();
    for (let i = 1; i <= 100_000; i++) q.push(make(i, 'session-updated', `s${i % 50}`));
    expect(q.length).toBe(50);
    expect(q.take(1000).length).toBe(50);
  });

  it('counts queued bytes from the sizes it was given: taken events subtract theirs, coalesced ones stay until it empties', () => {
    const q = new ClientQueue();
    q.push(make(1, 'packet', 'a'), 100);
    q.push(make(2, 'session-updated', 'a'), 10);
    q.push(make(3, 'packet', 'b'), 1000);
    q.push(make(4, 'session-updated', 'a'), 20); // coalesces seq 2 away; its 10 bytes stay counted
    expect(q.bytes).toBe(1130);
    expect(q.take(1).map((e) => e.seq)).toEqual([1]);
    expect(q.bytes).toBe(1030);
    expect(q.take(1).map((e) => e.seq)).toEqual([3]);
    expect(q.bytes).toBe(30);
    expect(q.take(5).map((e) => e.seq)).toEqual([4]);
    expect(q.bytes).toBe(0);
    q.push(make(5, 'packet', 'a'), 7);
    q.clear();
    expect(q.bytes).toBe(0);
  });

  it('keeps each size with its event across compaction', () => {
    const q = new ClientQueue();
    for (let i = 1; i <= 3000; i++) q.push(make(i, 'packet', 'a'), i);
    q.take(2000); // compacts: the 1000 left move to the front
    expect(q.bytes).toBe((2001 + 3000) * 500);
    q.take(999);
    expect(q.bytes).toBe(3000);
  });
});

describe('EventRing', () => {
  it('replays after a seq it still covers and refuses one it dropped or never saw', () => {
    const r = new EventRing(3, 10);
    for (let s = 11; s <= 15; s++) r.push(make(s, 'packet', 'a'), s * 10);
    expect(r.since(12)?.map((x) => x.event.seq)).toEqual([13, 14, 15]);
    expect(r.since(12)?.map((x) => x.bytes)).toEqual([130, 140, 150]);
    expect(r.since(15)).toEqual([]);
    expect(r.since(11)).toBeUndefined(); // 12 was dropped
    expect(r.since(16)).toBeUndefined(); // from the future
    expect(r.since(-1)).toBeUndefined();
    expect(new EventRing(5, 10).since(10)).toEqual([]);
  });
});
