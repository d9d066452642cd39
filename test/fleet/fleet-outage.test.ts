import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetLink } from '../../src/fleet/fleet-link.js';
import type { Observation } from '../../src/observation.js';
import { Fleet, uploadsUntilStopped, waitFor } from './fleet-harness.js';
import { NO_REDIS_REASON, REDIS_SERVER } from './redis-server.js';

if (!REDIS_SERVER) console.warn(NO_REDIS_REASON);

describe.skipIf(!REDIS_SERVER)('Redis goes away under load', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await Fleet.start(2);
  });
  afterAll(async () => {
    await fleet?.close();
  });

  it('forwarding goes on, the backlog is shown, and every node catches up when Redis returns', async () => {
    // Four clients uploading one file after another, every packet on a new connection.
    const clients = uploadsUntilStopped(fleet.balancer.port, 4, 'load');
    const { done, failures } = clients;
    await waitFor(() => done.length >= 4, 5000, 'uploads before the outage');
    await fleet.redis.stop();
    const beforeOutage = done.length;
    await waitFor(() => fleet.apps.every((a) => !a.fleet!.stats().connected && a.fleet!.stats().backlog > 0), 5000, 'backlog on both nodes');
    await waitFor(() => done.length >= beforeOutage + 8, 10_000, 'uploads during the outage');
    const metrics = await (await fetch(new URL('/metrics', fleet.apps[0]!.dashboard!.url))).text();
    expect(metrics).toMatch(/^bitsgate_fleet_connected 0$/m);
    expect(Number(/^bitsgate_fleet_backlog (\d+)$/m.exec(metrics)![1])).toBeGreaterThan(0);
    const stats: any = await (await fetch(new URL('/api/stats', fleet.apps[1]!.dashboard!.url))).json();
    expect(stats.fleet).toMatchObject({ connected: false, lost: 0 });
    expect(stats.fleet.backlog).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1000));
    await fleet.redis.start();
    await waitFor(() => fleet.apps.every((a) => a.fleet!.stats().connected && a.fleet!.stats().backlog === 0), 10_000, 'backlog sent');
    const backAt = Date.now();
    await waitFor(() => done.filter((u) => u.began > backAt).length >= 4, 10_000, 'uploads after Redis returned');
    await clients.stop();
    expect(failures).toEqual([]);

    // Caught up: every node applied every exchange of the fleet and every connection close
    // (6 + 6 per upload: each packet on its own connection), each once.
    for (const app of fleet.apps) {
      await waitFor(() => app.fleet!.stats().applied === done.length * 12, 10_000, 'caught up');
      expect(app.fleet!.stats()).toMatchObject({ lost: 0, backlog: 0 });
    }
    // Every upload, those that spread over both nodes during the outage included, is judged
    // on the full fleet view: each node rebuilt its view from the stream once caught up.
    for (const app of fleet.apps) {
      // One rebuild, or more when another node's backlog reached this one after its rebuild.
      await waitFor(() => app.fleet!.stats().rebuilds >= 1 && done.every((u) => app.tracker.session(u.id)?.violations.length === 0), 15_000, 'rebuilt after the outage');
      for (const u of done) expect(app.tracker.session(u.id)).toMatchObject({ state: 'closed', ackedBytes: 4000, violations: [] });
      expect(app.tracker.recentViolations()).toEqual([]);
    }
  }, 40_000);
});

describe('the backlog bound', () => {
  it('tracks locally while Redis is unreachable, keeps the newest N, and counts the loss', async () => {
    const applied: Observation[] = [];
    const link = new FleetLink({
      url: 'redis://127.0.0.1:1', stream: 's', node: 'n1', backlog: 2, maxLen: 100, reorderWindowMs: 0, connectTimeoutMs: 100,
      apply: (o) => applied.push(o), applyClosed: () => {}, log: { info() {}, warn() {} },
    });
    await link.start();
    for (let i = 1; i <= 5; i++) {
      link.onObservation({
        id: i, connectionId: 1, client: { address: '127.0.0.1', port: 1 }, method: 'GET', url: '/', httpVersion: '1.1',
        requestHeaders: [], startedAt: i, requestBodyBytes: 0, responseBodyBytes: 0, endedAt: i,
      });
    }
    expect(link.stats()).toMatchObject({ connected: false, backlog: 2, backlogLimit: 2, lost: 3 });
    await waitFor(() => applied.length === 5, 2000, 'local tracking');
    expect(applied.map((o) => [o.endedAt, o.node])).toEqual([[1, 'n1'], [2, 'n1'], [3, 'n1'], [4, 'n1'], [5, 'n1']]);
    await link.close();
  });
});
