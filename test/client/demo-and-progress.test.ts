import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderBar } from '../../src/client/progress.js';
import { roleOf, runDemo } from '../../src/demo/traffic.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import type { Observation } from '../../src/observation.js';
import { headerValue } from '../../src/protocol/index.js';
import { startFixture, type Fixture } from '../server/helpers.js';

describe('progress bar', () => {
  it('shows bytes, percentage, rate and ETA', () => {
    const line = renderBar({ acked: 512 * 1024, total: 1024 * 1024, startedAt: 0 }, 2000, 10);
    expect(line).toBe('[#####-----]  50.0% 512.0 KiB/1.00 MiB 256.0 KiB/s ETA 00:02');
  });
});

describe('demo traffic', () => {
  let fx: Fixture;
  let gw: Gateway;
  const seen: Observation[] = [];
  beforeAll(async () => {
    fx = await startFixture({ replyMode: 'sha256' });
    gw = await startGateway({ upstream: new URL(fx.server.url), listen: { host: '127.0.0.1', port: 0 }, sinks: [{ onObservation: (o) => seen.push(o) }] });
  });
  afterAll(async () => {
    await gw.close();
    await fx.close();
  });

  it('gives most clients no misbehaviour and one client each mode from 11 clients on', () => {
    expect(Array.from({ length: 12 }, (_, i) => roleOf(i, 12))).toEqual([
      ...Array(7).fill('well-behaved'), 'close-early', 'skip-reply', 'gap', 'unknown-session', 'double-close',
    ]);
    expect(Array.from({ length: 3 }, (_, i) => roleOf(i, 3))).toEqual(['well-behaved', 'well-behaved', 'close-early']);
  });

  it('runs bounded concurrent clients producing every kind of exchange through the gateway', async () => {
    const report = await runDemo({ baseUrl: new URL(gw.url + '/'), clients: 12, durationMs: 300, maxUploadsPerClient: 2, maxFileBytes: 64 * 1024, pauseMs: 10 });
    expect(report.failures).toBe(0);
    expect(Object.keys(report.byRole).sort()).toEqual(['close-early', 'double-close', 'gap', 'skip-reply', 'unknown-session', 'well-behaved']);
    expect(report.uploads).toBeGreaterThanOrEqual(12);
    expect(report.uploads).toBeLessThanOrEqual(24);
    const statuses = new Set(seen.map((o) => `${headerValue(o.requestHeaders, 'BITS-Packet-Type') ?? o.method} ${o.status}`));
    expect(statuses).toContain('Fragment 416');
    expect(statuses).toContain('Close-Session 500');
    expect(statuses).toContain('GET 200');
  });
});
