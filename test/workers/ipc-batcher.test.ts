import { afterEach, describe, expect, it } from 'vitest';
import { IpcBatcher } from '../../src/workers/ipc-batcher.js';
import type { ToPrimary } from '../../src/workers/messages.js';
import { Wire } from '../sessions/factory.js';

type Batch = Extract<ToPrimary, { type: 'batch' }>;
const turn = () => new Promise((r) => setImmediate(r));
let batcher: IpcBatcher | undefined;
afterEach(() => batcher?.close());

describe('a worker sends its observations to the primary in batches', () => {
  it('one message per event-loop turn, in order, tagged with the worker, without the derived decoding', async () => {
    const sent: Batch[] = [];
    let clock = 1000;
    batcher = new IpcBatcher({ node: 'gw:8080#w2', send: (m) => { sent.push(m as Batch); return true; }, heartbeatMs: 60_000, now: () => clock });
    const wire = new Wire();
    const a = wire.ping();
    a.decoded = { request: null, ack: undefined };
    batcher.onObservation(a);
    batcher.onObservation(wire.ping());
    batcher.onConnectionClosed({ connectionId: 1, at: 5 });
    expect(sent).toEqual([]);
    clock = 1234;
    await turn();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.at).toBe(1234);
    expect(sent[0]!.items.map((i) => (i.kind === 'observation' ? [i.kind, i.observation.id, i.observation.node, 'decoded' in i.observation] : [i.kind, i.closed.connectionId])))
      .toEqual([['observation', 1, 'gw:8080#w2', false], ['observation', 2, 'gw:8080#w2', false], ['connection-closed', 1]]);
    expect(a.node).toBeUndefined(); // the gateway's own object is not touched
  });

  it('splits a large turn into messages of batchItems', async () => {
    const sent: Batch[] = [];
    batcher = new IpcBatcher({ node: 'w', send: (m) => { sent.push(m as Batch); return true; }, batchItems: 3, heartbeatMs: 60_000 });
    const wire = new Wire();
    for (let i = 0; i < 7; i++) batcher.onObservation(wire.ping());
    await turn();
    expect(sent.map((b) => b.items.length)).toEqual([3, 3, 1]);
  });

  it('sends an empty batch (a heartbeat) when idle, so the primary knows how far the worker got', async () => {
    const sent: Batch[] = [];
    batcher = new IpcBatcher({ node: 'w', send: (m) => { sent.push(m as Batch); return true; }, heartbeatMs: 20 });
    await new Promise((r) => setTimeout(r, 120));
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent.every((b) => b.items.length === 0)).toBe(true);
  });

  it('stops sending while the channel is full, keeps at most maxQueued (the oldest dropped and counted), resumes on the callback', async () => {
    const sent: Batch[] = [];
    let full = true;
    let callback: (() => void) | undefined;
    batcher = new IpcBatcher({
      node: 'w', heartbeatMs: 60_000, maxQueued: 4,
      send: (m, cb) => { sent.push(m as Batch); callback = () => cb(null); return !full; },
    });
    const wire = new Wire();
    batcher.onObservation(wire.ping()); // id 1: sent, and the channel reports full
    await turn();
    for (let i = 0; i < 6; i++) batcher.onObservation(wire.ping()); // ids 2..7
    await turn();
    expect(sent).toHaveLength(1);
    expect(batcher.pending).toBe(4);
    full = false;
    callback!();
    await turn();
    expect(sent).toHaveLength(2);
    expect(sent[1]!.lost).toBe(2);
    expect(sent[1]!.items.map((i) => i.kind === 'observation' && i.observation.id)).toEqual([4, 5, 6, 7]);
  });
});
