import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { parseGatewayArgs } from '../../src/commands/gateway.js';
import { UsageError } from '../../src/util/option-values.js';
import { Fleet, upload, waitFor } from './fleet-harness.js';
import { NO_REDIS_REASON, REDIS_SERVER } from './redis-server.js';

if (!REDIS_SERVER) console.warn(NO_REDIS_REASON);

function violationsOf(app: App): string[] {
  return app.tracker.recentViolations().map((v) => `${v.code} ${v.sessionId ?? ''}`);
}

describe.skipIf(!REDIS_SERVER)('two gateways, one Redis stream, a round-robin balancer', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await Fleet.start(2);
  });
  afterAll(async () => {
    await fleet?.close();
  });

  it('every node tracks every upload to closed with no violation, though its packets went to both nodes', async () => {
    // One after the other, so round-robin alternates the 5 packets of each upload between the nodes.
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await upload(fleet.balancer.port, `/uploads/ok-${i}.bin`, 3000, 1000));
    for (const app of fleet.apps) {
      await waitFor(() => ids.every((id) => app.tracker.session(id)?.state === 'closed'), 5000, 'sessions closed on every node');
      for (const id of ids) {
        const s = app.tracker.session(id)!;
        expect(s).toMatchObject({ state: 'closed', totalLength: 3000, ackedBytes: 3000, fragments: 3, violations: [] });
        expect(s.adopted ?? false).toBe(false);
      }
      expect(violationsOf(app)).toEqual([]);
    }
    // The packets really went through both nodes, and the timeline says which node saw each.
    for (const id of ids) {
      const nodes = new Set(fleet.apps[0]!.tracker.session(id)!.timeline.map((p) => p.node));
      expect([...nodes].sort()).toEqual(['node-0', 'node-1']);
    }
  });

  it('flags an invalid Close-Session once, fleet-wide: the same single violation on both nodes', async () => {
    const id = await upload(fleet.balancer.port, '/uploads/early.bin', 3000, 1000, true);
    for (const app of fleet.apps) {
      await waitFor(() => app.tracker.session(id)?.violations.length === 1, 5000, 'the violation');
      expect(app.tracker.session(id)!.violations).toEqual(['close-incomplete']);
      expect(violationsOf(app).filter((v) => v.endsWith(id))).toEqual([`close-incomplete ${id}`]);
    }
  });

  it('bitsgate analyze reads the fleet stream like a recording: the same verdicts', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/bitsgate.js', 'analyze', `${fleet.redis.url}/${fleet.stream}`, '--json']);
    const report = JSON.parse(stdout);
    const live = fleet.apps[0]!.tracker.sessions();
    expect(report.sessions.map((s: any) => [s.id, s.state, s.ackedBytes, s.violations]).sort())
      .toEqual(live.map((s) => [s.id, s.state, s.ackedBytes, s.violations]).sort());
    expect(report.violations.map((v: any) => v.code)).toEqual(['close-incomplete']);
  });

  it('shows the fleet link in /api/stats and /metrics', async () => {
    const app = fleet.apps[0]!;
    const stats: any = await (await fetch(new URL('/api/stats', app.dashboard!.url))).json();
    expect(stats.fleet).toMatchObject({ node: 'node-0', connected: true, backlog: 0, lost: 0 });
    const metrics = await (await fetch(new URL('/metrics', app.dashboard!.url))).text();
    expect(metrics).toMatch(/^bitsgate_fleet_connected 1$/m);
    expect(metrics).toMatch(/^bitsgate_fleet_backlog 0$/m);
  });
});

describe('gateway --fleet options', () => {
  it('parses the fleet options and refuses what cannot work', () => {
    expect(parseGatewayArgs(['--fleet', 'rediss://r.example:6380/2', '--node-id', 'gw-a', '--fleet-backlog', '500']).fleet)
      .toEqual({ url: 'rediss://r.example:6380/2', stream: 'bitsgate:observations', node: 'gw-a', backlog: 500 });
    expect(parseGatewayArgs([]).fleet).toBeUndefined();
    expect(() => parseGatewayArgs(['--fleet', 'http://r:6379'])).toThrow(UsageError);
    expect(() => parseGatewayArgs(['--node-id', 'a'])).toThrow('--fleet-stream, --node-id and --fleet-backlog need --fleet');
    expect(() => parseGatewayArgs(['--fleet', 'redis://r', '--fleet-backlog', '0'])).toThrow(UsageError);
  });
});
