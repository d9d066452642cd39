import { describe, expect, it } from 'vitest';
import { Backlog } from '../../src/fleet/backlog.js';
import { splitStreamUrl } from '../../src/fleet/connection.js';
import { SeenEntries } from '../../src/fleet/dedupe.js';
import { FleetView } from '../../src/fleet/fleet-view.js';
import { ReorderWindow } from '../../src/fleet/reorder.js';
import { decodeEntries, decodeEntry, encodeEntries, encodeEntry, PACK_MAX, type FleetEntry } from '../../src/fleet/wire.js';
import type { Observation } from '../../src/observation.js';

function obs(id: number, endedAt: number): Observation {
  return {
    id, connectionId: 1, client: { address: '127.0.0.1', port: 5000 }, method: 'BITS_POST', url: '/u/f.bin', httpVersion: '1.1',
    requestHeaders: [['BITS-Packet-Type', 'Ping']], startedAt: endedAt - 5, requestBodyBytes: 0, status: 200,
    responseHeaders: [['BITS-Packet-Type', 'Ack']], responseBodyBytes: 0, endedAt, responder: 'upstream',
  };
}
const entry = (node: string, seq: number, endedAt: number): FleetEntry => ({ node, boot: 'b1', seq, record: { kind: 'observation', observation: obs(seq, endedAt) } });

describe('fleet wire format', () => {
  it('round-trips an observation and stamps the node on it', () => {
    const e = entry('gw-a:8080', 7, 1000);
    const fields = encodeEntry(e);
    expect(fields.slice(0, 6)).toEqual(['n', 'gw-a:8080', 'b', 'b1', 's', '7']);
    expect(decodeEntry(fields)).toEqual({ ...e, record: { kind: 'observation', observation: { ...obs(7, 1000), node: 'gw-a:8080' } } });
  });

  it('carries connection closes (the tracker judges a resent Close by them) and never the derived decode', () => {
    const closed: FleetEntry = { node: 'a', boot: 'b', seq: 2, record: { kind: 'connection-closed', closed: { connectionId: 9, at: 1234 } } };
    expect(encodeEntry(closed)[7]).toBe('{"type":"connection-closed","connectionId":9,"at":1234}');
    expect(decodeEntry(encodeEntry(closed))).toEqual(closed);
    const withDecoded = entry('a', 3, 10);
    (withDecoded.record as { observation: Observation }).observation.decoded = { request: null, ack: undefined };
    expect(encodeEntry(withDecoded)[7]).not.toContain('decoded');
  });

  it('refuses entries that are not ours, and observations the recording reader refuses', () => {
    expect(decodeEntry(['foo', 'bar'])).toBe('entry lacks the n/b/s/o fields of a bitsgate observation');
    expect(decodeEntry(['n', 'a', 'b', 'x', 's', '0', 'o', '{}'])).toBe('entry lacks the n/b/s/o fields of a bitsgate observation');
    expect(decodeEntry(['n', 'a', 'b', 'x', 's', '1', 'o', '{"id":1}'])).toBe('not an observation: "method" must be a non-empty string');
  });
});

describe('packed stream entries (one XADD carries a run of consecutive records)', () => {
  it('packs consecutive seqs of one producer, PACK_MAX at most, and cuts at a gap or another producer', () => {
    const run = [...Array.from({ length: PACK_MAX + 2 }, (_, i) => entry('a', i + 1, 1000 + i)), entry('a', PACK_MAX + 10, 2000), entry('b', 1, 2001)];
    const fields = encodeEntries(run);
    expect(fields.map((f) => [f[1], f[5], f[7]!.split('\n').length])).toEqual([['a', '1', PACK_MAX], ['a', String(PACK_MAX + 1), 2], ['a', String(PACK_MAX + 10), 1], ['b', '1', 1]]);
    const back = fields.flatMap((f) => (decodeEntries(f) as { entries: FleetEntry[] }).entries);
    expect(back.map((e) => [e.node, e.seq, e.record.kind === 'observation' && e.record.observation.endedAt])).toEqual(run.map((e) => [e.node, e.seq, e.record.kind === 'observation' && e.record.observation.endedAt]));
    expect(back[0]).toEqual({ ...run[0], record: { kind: 'observation', observation: { ...obs(1, 1000), node: 'a' } } });
  });

  it('keeps the good lines of an entry with a bad one, and names the bad one', () => {
    const [fields] = encodeEntries([entry('a', 1, 1000), entry('a', 2, 1001)]);
    fields![7] = fields![7]!.replace(/\n.*$/, '\n{"id":1}');
    const d = decodeEntries(fields!) as { entries: FleetEntry[]; problems: string[] };
    expect(d.entries.map((e) => e.seq)).toEqual([1]);
    expect(d.problems).toEqual(['not an observation: "method" must be a non-empty string']);
  });
});

describe('SeenEntries (dedupe by node+boot+seq)', () => {
  it('accepts each seq once per producer; another boot of the same node starts afresh', () => {
    const seen = new SeenEntries(4);
    expect([1, 2, 2, 3, 1].map((s) => seen.firstTime('a/b1', s))).toEqual([true, true, false, true, false]);
    expect(seen.firstTime('a/b2', 1)).toBe(true);
    expect(seen.firstTime('b/b1', 1)).toBe(true);
    // Far below the window: counted as seen.
    for (let s = 4; s <= 20; s++) seen.firstTime('a/b1', s);
    expect(seen.firstTime('a/b1', 10)).toBe(false);
  });
});

describe('ReorderWindow (fleet order: endedAt, node, boot, seq)', () => {
  it('holds entries for the window and releases them sorted by end time, whatever the arrival order', () => {
    const w = new ReorderWindow(100);
    w.add(entry('b', 1, 1050)); // arrived first, ended later
    w.add(entry('a', 1, 1000));
    w.add(entry('a', 2, 1050)); // same end time as b/1: node name decides
    expect(w.release(1099)).toEqual([]);
    expect(w.release(1100).map((e) => `${e.node}${e.seq}`)).toEqual(['a1']);
    expect(w.release(1150).map((e) => `${e.node}${e.seq}`)).toEqual(['a2', 'b1']);
    expect(w.size).toBe(0);
  });

  it('keeps entries sorted however late they come, and says when the oldest is due', () => {
    const w = new ReorderWindow(250);
    for (const [node, seq, t] of [['a', 1, 1000], ['a', 2, 1300], ['b', 1, 1100], ['b', 2, 900], ['a', 3, 1300], ['c', 1, 1100]] as const) w.add(entry(node, seq, t));
    expect(w.nextDue()).toBe(1150);
    expect(w.release(1350).map((e) => `${e.node}${e.seq}`)).toEqual(['b2', 'a1', 'b1', 'c1']);
    expect(w.nextDue()).toBe(1550);
    w.add(entry('b', 3, 1200)); // later than the window for nothing released yet after it: still in order
    expect(w.release(2000).map((e) => `${e.node}${e.seq}`)).toEqual(['b3', 'a2', 'a3']);
    expect(w.nextDue()).toBeUndefined();
  });

  it('releases everything at once for a history replay', () => {
    const w = new ReorderWindow(1000);
    w.add(entry('a', 2, 5000));
    w.add(entry('a', 1, 4000));
    expect(w.release(0, true).map((e) => e.seq)).toEqual([1, 2]);
  });
});

describe('FleetView ids (per process on every node: the tracker gets its own)', () => {
  it('gives two nodes\' upstream connection 1 two ids (one NTLM connection each, or the auth-loop check mixes them)', () => {
    const applied: Observation[] = [];
    const view = new FleetView(0, { apply: (o) => applied.push(o), applyClosed: () => {} });
    const up = (node: string, seq: number, endedAt: number): FleetEntry => {
      const e = entry(node, seq, endedAt);
      if (e.record.kind === 'observation') e.record.observation.upstreamConnectionId = 1;
      return e;
    };
    for (const e of [up('a', 1, 1000), up('b', 1, 1001), up('a', 2, 1002), entry('b', 2, 1003)]) view.deliver(e);
    view.release(0, true);
    expect(applied.map((o) => [o.id, o.connectionId, o.upstreamConnectionId])).toEqual([[1, 1, 1], [2, 2, 2], [3, 1, 1], [4, 2, undefined]]);
  });
});

describe('Backlog', () => {
  it('keeps the newest N, counts what it dropped, and takes batches back in front', () => {
    const b = new Backlog<number>(3);
    for (let i = 1; i <= 5; i++) b.push(i);
    expect(b.size).toBe(3);
    expect(b.dropped).toBe(2);
    const batch = b.take(2);
    expect(batch).toEqual([3, 4]);
    b.push(6);
    b.unshift(batch);
    expect(b.dropped).toBe(3);
    expect(b.take(10)).toEqual([4, 5, 6]);
  });
});

describe('splitStreamUrl (analyze redis://HOST:PORT[/DB]/STREAM)', () => {
  it('reads the stream from the path, the DB when two segments', () => {
    expect(splitStreamUrl('redis://h:6379/bitsgate:observations', 'x')).toEqual({ url: 'redis://h:6379', stream: 'bitsgate:observations' });
    expect(splitStreamUrl('rediss://h:6380/2/s1', 'x')).toEqual({ url: 'rediss://h:6380/2', stream: 's1' });
    expect(splitStreamUrl('redis://h:6379', 'dflt')).toEqual({ url: 'redis://h:6379', stream: 'dflt' });
  });
});

describe('the dashboard fleet pill text', () => {
  it('names the node, and says so while Redis is away, with the backlog and any loss', async () => {
    const { fleetText } = await import('../../web/src/fleet-text.js');
    expect(fleetText({ node: 'gw-a', connected: true, backlog: 0, backlogLimit: 100, lost: 0 })).toBe('fleet: gw-a');
    expect(fleetText({ node: 'gw-a', connected: false, backlog: 1500, backlogLimit: 100000, lost: 3 }))
      .toBe('fleet: Redis unreachable, tracking locally; backlog 1,500 of 100,000, 3 not shared (backlog full)');
  });
});
