import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, GUID, packet, waitFor } from './fleet-harness.js';
import { NO_REDIS_REASON, REDIS_SERVER } from './redis-server.js';

if (!REDIS_SERVER) console.warn(NO_REDIS_REASON);

const SIZE = 4000;
const FRAG = 1000;

/** One upload driven packet by packet (each on a new connection), so a test can act between packets. */
class SteppedUpload {
  id = '';
  private next = 0;
  constructor(private readonly url: string) {}
  async create(port: number): Promise<void> {
    const r = await packet(port, this.url, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']]);
    expect(r.status).toBe(200);
    this.id = r.get('BITS-Session-Id')!;
  }
  async fragment(port: number): Promise<void> {
    const start = this.next;
    const end = Math.min(SIZE, start + FRAG) - 1;
    const r = await packet(port, this.url, [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', this.id], ['Content-Range', `bytes ${start}-${end}/${SIZE}`]], Buffer.alloc(end - start + 1, 0x41));
    expect(r.status).toBe(200);
    this.next = end + 1;
  }
  async close(port: number): Promise<void> {
    const r = await packet(port, this.url, [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', this.id], ['Content-Length', '0']]);
    expect(r.status).toBe(200);
  }
}

describe.skipIf(!REDIS_SERVER)('a gateway restarted in the middle of uploads', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await Fleet.start(2);
  });
  afterAll(async () => {
    await fleet?.close();
  });

  it('replays the stream before it serves: no false violation, no adoption, and it shows what it missed', async () => {
    const [a, b] = fleet.apps.map((app) => app.gateway.address.port) as [number, number];
    const uploads = [0, 1, 2].map((i) => new SteppedUpload(`/uploads/restart-${i}.bin`));
    for (const u of uploads) {
      await u.create(a);
      await u.fragment(b);
    }
    // node-1 goes away; the balancer sends everything to node-0 meanwhile.
    await fleet.apps[1]!.close();
    for (const u of uploads) await u.fragment(a);
    const missedWhileDown = new SteppedUpload('/uploads/missed.bin');
    await missedWhileDown.create(a);
    await missedWhileDown.fragment(a);
    await missedWhileDown.fragment(a);

    // node-1 comes back (same node id, a new boot), replays the history, then serves again.
    const restarted = await fleet.startNode('node-1');
    fleet.apps[1] = restarted;
    // Before it serves, it already knows every session in flight, the ones it never saw included.
    for (const u of uploads) expect(restarted.tracker.session(u.id)).toMatchObject({ state: 'open', ackedBytes: 2 * FRAG, fragments: 2 });
    expect(restarted.tracker.session(missedWhileDown.id)).toMatchObject({ state: 'open', ackedBytes: 2 * FRAG, fragments: 2 });
    const c = restarted.gateway.address.port;
    for (const u of [...uploads, missedWhileDown]) {
      await u.fragment(c);
      await u.fragment(a);
      await u.close(c);
    }
    for (const app of fleet.apps) {
      await waitFor(() => [...uploads, missedWhileDown].every((u) => app.tracker.session(u.id)?.state === 'closed'), 5000, 'all closed');
      for (const u of [...uploads, missedWhileDown]) {
        expect(app.tracker.session(u.id)).toMatchObject({ state: 'closed', ackedBytes: SIZE, fragments: 4, violations: [] });
        expect(app.tracker.session(u.id)!.adopted ?? false).toBe(false);
      }
      expect(app.tracker.recentViolations()).toEqual([]);
    }
    // The restarted node's timeline holds the packets it never saw itself (node-0 relayed them).
    const timeline = restarted.tracker.session(missedWhileDown.id)!.timeline;
    expect(timeline.slice(0, 3).map((p) => [p.kind, p.node])).toEqual([['create-session', 'node-0'], ['fragment', 'node-0'], ['fragment', 'node-0']]);
  });
});
