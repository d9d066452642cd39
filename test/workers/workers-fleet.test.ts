import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBitsServer, type BitsServer } from '../../src/server/index.js';
import { Balancer, upload } from '../fleet/fleet-harness.js';
import { NO_REDIS_REASON, REDIS_SERVER, TestRedis } from '../fleet/redis-server.js';
import { GatewayProcess } from './harness.js';

/**
 * `bitsgate --workers 2 --fleet` as shipped (bin/bitsgate.js, dist/ built) is ONE fleet
 * member: gateway A (two workers, node a) and gateway B (one process, node b) on one real
 * Redis stream, in front of one BITS server, behind a per-connection round-robin balancer;
 * a client that opens a new connection for every packet (raw BITS_POST), so one session's
 * packets land on A's two workers and on B.
 */

if (!REDIS_SERVER) console.warn(NO_REDIS_REASON);

const SIZE = 3000;
const FRAGMENT = 1000;

interface SessionSummary { id: string; state: string; ackedBytes: number; violations: string[] }
interface SessionDetail extends SessionSummary { timeline: Array<{ node?: string }> }
interface ViolationItem { code: string; sessionId?: string }
type Gateway = GatewayProcess & { port: number; dashboard: string };

describe.skipIf(!REDIS_SERVER)('bitsgate --workers 2 --fleet: the machine is one fleet member', () => {
  let dir: string;
  let redis: TestRedis;
  let server: BitsServer;
  let a: Gateway;
  let b: Gateway;
  let balancer: Balancer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bitsgate-workers-fleet-'));
    redis = await TestRedis.start();
    server = await startBitsServer({ root: join(dir, 'root'), listen: { host: '127.0.0.1', port: 0 }, logger: pino({ level: 'silent' }) });
    const common = ['--upstream', server.url, '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0',
      '--fleet', redis.url, '--fleet-stream', `test:${process.pid}:${Date.now()}`, '--shutdown-grace', '1s'];
    [a, b] = await Promise.all([
      GatewayProcess.start([...common, '--workers', '2', '--node-id', 'a']),
      GatewayProcess.start([...common, '--node-id', 'b']),
    ]);
    balancer = await Balancer.start([a.port, b.port]);
  }, 40_000);

  afterAll(async () => {
    await balancer?.close();
    a?.kill();
    b?.kill();
    await server?.close();
    await redis?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const name = (gw: Gateway) => (gw === a ? 'gateway A (--workers 2)' : 'gateway B');

  /** /api/sessions of `gw` once `done` holds for it (or after 5 s, for the assertion to show what it is). */
  async function sessionsOf(gw: Gateway, done: (s: SessionSummary[]) => boolean): Promise<SessionSummary[]> {
    const deadline = Date.now() + 5_000;
    let sessions: SessionSummary[];
    do {
      sessions = await gw.api<SessionSummary[]>('/api/sessions');
      if (done(sessions)) break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < deadline);
    return sessions;
  }

  it('every upload ends closed with no violation on both dashboards; A\'s view names both of its workers', async () => {
    // One after the other: with 5 packets an upload and 3 targets in turn (A's balancer slot
    // alternates with B's, A's primary alternates its workers), each session spans a#w1, a#w2 and b.
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await upload(balancer.port, `/up/ok-${i}.bin`, SIZE, FRAGMENT));
    for (const gw of [b, a]) {
      const sessions = await sessionsOf(gw, (s) => ids.every((id) => s.find((x) => x.id === id)?.state === 'closed'));
      expect(ids.map((id) => sessions.find((s) => s.id === id)).map((s) => [s?.state, s?.ackedBytes, s?.violations]), name(gw))
        .toEqual(ids.map(() => ['closed', SIZE, []]));
      expect(await gw.api<ViolationItem[]>('/api/violations'), name(gw)).toEqual([]);
    }
    const nodes = async (gw: Gateway) => {
      const seen = new Set<string>();
      for (const id of ids) {
        const detail = await gw.api<SessionDetail>(`/api/sessions/${encodeURIComponent(id)}`);
        expect(detail.timeline).toHaveLength(5);
        for (const p of detail.timeline) seen.add(p.node ?? '(none)');
      }
      return [...seen].sort();
    };
    expect(await nodes(a)).toEqual(['a#w1', 'a#w2', 'b']);
    // The stream names the machine: B sees A as one member.
    expect(await nodes(b)).toEqual(['a', 'b']);
  }, 20_000);

  it('flags an invalid Close-Session exactly once in each view', async () => {
    const id = await upload(balancer.port, '/up/early.bin', SIZE, FRAGMENT, true);
    for (const gw of [b, a]) {
      const sessions = await sessionsOf(gw, (s) => s.find((x) => x.id === id)?.state === 'closed');
      expect(sessions.find((s) => s.id === id)?.violations, name(gw)).toEqual(['close-incomplete']);
      const violations = await gw.api<ViolationItem[]>('/api/violations');
      expect(violations.map((v) => `${v.code} ${v.sessionId}`), name(gw)).toEqual([`close-incomplete ${id}`]);
    }
  }, 20_000);
});
