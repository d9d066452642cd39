import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetLink } from '../../src/fleet/fleet-link.js';
import { Fleet, uploadsUntilStopped, waitFor } from './fleet-harness.js';
import { NO_REDIS_REASON, REDIS_SERVER } from './redis-server.js';

if (!REDIS_SERVER) console.warn(NO_REDIS_REASON);

/** The documented bound (README, Fleet): a read blocks 500 ms, then its 1 500 ms deadline runs. */
const BOUND_MS = FleetLink.hangDetectionBoundMs();
/** Timers run late on a loaded two-core machine: the bound plus this is what the test allows. */
const TIMER_SLACK_MS = 1000;

describe.skipIf(!REDIS_SERVER)('Redis hangs without closing its connections (SIGSTOP)', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await Fleet.start(2, { rebuildSettleMs: 500 });
  });
  afterAll(async () => {
    await fleet?.close();
  });

  it('is an outage within the bound; forwarding never stalls; after SIGCONT every node catches up, each exchange once', async () => {
    expect(BOUND_MS).toBe(2000);
    // Every packet answered 200 (upload() throws on any other status or no answer).
    const clients = uploadsUntilStopped(fleet.balancer.port, 3, 'hang');
    const { done, failures } = clients;
    await waitFor(() => done.length >= 3, 5000, 'uploads before the hang');

    const hungAt = Date.now();
    fleet.redis.pause();
    await waitFor(() => fleet.apps.every((a) => !a.fleet!.stats().connected), BOUND_MS + TIMER_SLACK_MS, 'the hang seen as an outage on both nodes within the bound');
    const detectedAfter = Date.now() - hungAt;
    expect(detectedAfter).toBeLessThanOrEqual(BOUND_MS + TIMER_SLACK_MS);
    // Requests keep being answered while Redis hangs.
    const atDetection = done.length;
    await waitFor(() => done.length >= atDetection + 6, 10_000, 'uploads during the hang');
    const metrics = await (await fetch(new URL('/metrics', fleet.apps[0]!.dashboard!.url))).text();
    expect(metrics).toMatch(/^bitsgate_fleet_connected 0$/m);
    expect(fleet.apps.map((a) => a.fleet!.stats().hangs).reduce((x, y) => x + y)).toBeGreaterThanOrEqual(2);
    expect(fleet.logs.get('node-0')!.some((l) => l.msg === 'fleet: Redis does not answer, treating it as away')).toBe(true);

    fleet.redis.resume();
    await waitFor(() => fleet.apps.every((a) => a.fleet!.stats().connected && a.fleet!.stats().backlog === 0), 10_000, 'caught up after SIGCONT');
    const backAt = Date.now();
    await waitFor(() => done.filter((u) => u.began > backAt).length >= 3, 10_000, 'uploads after SIGCONT');
    await clients.stop();
    expect(failures).toEqual([]);

    // Every node applied every exchange and connection close of the fleet exactly once
    // (6 + 6 per upload), though the commands sent to the stopped Redis ran on SIGCONT and
    // were sent again after the reconnect (dedupe), and every upload is closed, once.
    for (const app of fleet.apps) {
      await waitFor(() => app.fleet!.stats().rebuilds >= 1 && done.every((u) => app.tracker.session(u.id)?.violations.length === 0), 15_000, 'rebuilt after the hang');
      await waitFor(() => app.fleet!.stats().applied === done.length * 12, 10_000, 'caught up');
      expect(app.fleet!.stats()).toMatchObject({ lost: 0, backlog: 0, connected: true });
      for (const u of done) expect(app.tracker.session(u.id)).toMatchObject({ state: 'closed', ackedBytes: 4000, fragments: 4, violations: [] });
      expect(app.tracker.recentViolations()).toEqual([]);
      expect(app.tracker.stats().observations).toBe(done.length * 6);
    }
  }, 45_000);
});
