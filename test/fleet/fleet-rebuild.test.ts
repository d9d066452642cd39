import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServerMessage } from '../../src/dashboard/messages.js';
import { Fleet, GUID, packet, waitFor } from './fleet-harness.js';
import { NO_REDIS_REASON, REDIS_SERVER } from './redis-server.js';

if (!REDIS_SERVER) console.warn(NO_REDIS_REASON);

const SIZE = 3000;
const FRAG = 1000;

/** The dashboard's /events stream of one node, every message kept. */
function watchDashboard(url: string): { ws: WebSocket; messages: ServerMessage[] } {
  const u = new URL(url);
  const ws = new WebSocket(`ws://${u.host}/events`, { headers: { Origin: `http://${u.host}` } });
  const messages: ServerMessage[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
  return { ws, messages };
}

describe.skipIf(!REDIS_SERVER)('a session split across nodes during a Redis outage', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await Fleet.start(2, { rebuildSettleMs: 500 });
  });
  afterAll(async () => {
    await fleet?.close();
  });

  it('is judged again on the merged stream when Redis returns: closed, no violation, on both nodes; the false one is retracted', async () => {
    const [appA, appB] = fleet.apps as [typeof fleet.apps[0], typeof fleet.apps[0]];
    const a = appA.gateway.address.port;
    const b = appB.gateway.address.port;
    const dashB = watchDashboard(appB.dashboard!.url);
    await waitFor(() => dashB.messages.some((m) => m.type === 'snapshot'), 3000, 'the first snapshot');

    await fleet.redis.stop();
    await waitFor(() => fleet.apps.every((app) => !app.fleet!.stats().connected), 5000, 'both nodes see the outage');

    // Create-Session reaches node A, the fragments and the Close node B: each node sees half.
    const url = '/uploads/split.bin';
    const create = await packet(a, url, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']]);
    expect(create.status).toBe(200);
    const id = create.get('BITS-Session-Id')!;
    for (let start = 0; start < SIZE; start += FRAG) {
      const r = await packet(b, url, [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', id], ['Content-Range', `bytes ${start}-${start + FRAG - 1}/${SIZE}`]], Buffer.alloc(FRAG, 0x42));
      expect(r.status).toBe(200);
    }
    const close = await packet(b, url, [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', id], ['Content-Length', '0']]);
    expect(close.status).toBe(200);

    // During the outage node B judged its half: a false violation stands there.
    await waitFor(() => appB.tracker.recentViolations().some((v) => v.sessionId === id), 3000, 'node B judged its half');
    const falseCodes = appB.tracker.recentViolations().filter((v) => v.sessionId === id).map((v) => v.code);
    expect(falseCodes).toContain('fragment-unknown-session');
    expect(appA.tracker.session(id)).toMatchObject({ state: 'open', fragments: 0 });

    await fleet.redis.start();
    for (const app of fleet.apps) {
      await waitFor(() => app.fleet!.stats().rebuilds >= 1 && app.tracker.recentViolations().length === 0, 10_000, 'rebuilt after the outage');
    }
    for (const app of fleet.apps) {
      await waitFor(() => app.tracker.session(id)?.state === 'closed', 3000, 'closed');
      expect(app.tracker.session(id)).toMatchObject({ state: 'closed', ackedBytes: SIZE, fragments: 3, violations: [], adopted: false });
      expect(app.tracker.recentViolations()).toEqual([]);
      expect(app.fleet!.stats()).toMatchObject({ connected: true, backlog: 0, lost: 0 });
    }

    // The log says so in one line, naming what was retracted.
    const rebuiltB = fleet.logs.get('node-1')!.filter((l) => l.msg.startsWith('rebuilt from the stream after an outage'));
    // (One line per rebuild: a second one follows when the other node's backlog arrived after the first.)
    expect(rebuiltB).toHaveLength(appB.fleet!.stats().rebuilds);
    expect(rebuiltB.filter((l) => /^rebuilt from the stream after an outage: \d+ observations, violations retracted: fragment-unknown-session \(session \{[0-9a-f-]+\}\)$/.test(l.msg))).toHaveLength(1);
    const rebuiltA = fleet.logs.get('node-0')!.filter((l) => l.msg.startsWith('rebuilt from the stream after an outage'));
    expect(rebuiltA.length).toBe(appA.fleet!.stats().rebuilds);
    for (const l of rebuiltA) expect(l.msg).toMatch(/^rebuilt from the stream after an outage: \d+ observations, violations retracted: none$/);

    // Metrics count the retraction; the dashboard got a fresh snapshot without the violation.
    const metrics = await (await fetch(new URL('/metrics', appB.dashboard!.url))).text();
    expect(metrics).toMatch(/^bitsgate_violations_retracted_total\{code="fragment-unknown-session"\} [1-9]\d*$/m);
    expect(appB.fleet!.stats().retracted).toBe(falseCodes.length);
    await waitFor(() => dashB.messages.some((m) => m.type === 'snapshot' && m.reason === 'rebuilt'), 3000, 'the rebuilt snapshot');
    const snap = dashB.messages.filter((m) => m.type === 'snapshot').at(-1)!;
    expect(snap).toMatchObject({ reason: 'rebuilt', violations: [] });
    expect(snap.type === 'snapshot' && snap.sessions.find((s) => s.id === id)).toMatchObject({ state: 'closed', violations: [] });
    // Seqs keep growing across the rebuild (the browser's stream contract).
    const seqs = dashB.messages.flatMap((m) => (m.type === 'events' ? m.events.map((e) => e.seq) : m.type === 'snapshot' ? [m.seq] : []));
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    dashB.ws.terminate();
  }, 30_000);
});
