/**
 * The fleet link (src/fleet) through a real redis-server: node A publishes observations,
 * node B applies them to its SessionTracker. Reports observations/s through Redis and the
 * added latency from A's onObservation to B's tracker (p50/p99), with the reorder window
 * at 0 (transport only) and at the default 250 ms (what a dashboard sees). Baseline in the
 * same run: the same observations applied to a tracker directly, in process.
 *
 * Then Ping/s with `--workers 2` against `--workers 1` (bench/workers-ping.ts; needs
 * `npm run build`, no Redis).
 *
 *   npm run bench -- fleet        (the Redis part skipped when redis-server is absent)
 *   BENCH_FLEET_ONLY=workers npm run bench -- fleet     (the workers part alone)
 */
import pino from 'pino';
import { FleetLink, FLEET_DEFAULTS } from '../src/fleet/fleet-link.js';
import type { Observation } from '../src/observation.js';
import { SessionTracker } from '../src/sessions/index.js';
import { REDIS_SERVER, TestRedis } from '../test/fleet/redis-server.js';
import { workersPingBench } from './workers-ping.js';

const N = Number(process.env.BENCH_FLEET_OBS ?? 50_000);
const RATE_BATCH = 500; // observations per tick at saturation
const quiet = pino({ level: 'silent' });
const log = { info: (o: object, m: string) => quiet.info(o, m), warn: (o: object, m: string) => quiet.warn(o, m) };

function ping(i: number, t: number): Observation {
  return {
    id: i, connectionId: i, client: { address: '10.0.0.1', port: 50000 }, method: 'BITS_POST', url: `/u/${i % 1000}.bin`, httpVersion: '1.1',
    requestHeaders: [['Host', 'files.example.com'], ['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']], startedAt: t, requestBodyBytes: 0,
    status: 200, responseHeaders: [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0']], responseBodyBytes: 0, respondedAt: t, endedAt: t, responder: 'upstream',
  };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

/** `perTick` observations every `tickMs` (0: as fast as the event loop turns: saturation). */
async function throughRedis(redis: TestRedis, windowMs: number, stream: string, n: number, perTick: number, tickMs: number): Promise<{ perSec: number; p50: number; p99: number }> {
  const N = n;
  const tracker = new SessionTracker();
  const sentAt = new Map<number, number>();
  const lat: number[] = [];
  let applied = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const common = { url: redis.url, stream, backlog: N, maxLen: N * 2, reorderWindowMs: windowMs, connectTimeoutMs: 3000, log, applyClosed: () => {} };
  const a = new FleetLink({ ...common, node: 'a', apply: () => {} });
  const b = new FleetLink({
    ...common, node: 'b',
    apply: (obs) => {
      if (obs.node !== 'a') return;
      tracker.observe(obs);
      lat.push(performance.now() - sentAt.get(obs.startedAt)!);
      if (++applied === N) done();
    },
  });
  await a.start();
  await b.start();
  const t0 = performance.now();
  for (let i = 0; i < N; i += perTick) {
    for (let j = i; j < Math.min(N, i + perTick); j++) {
      const now = Date.now();
      const o = ping(j, now);
      o.startedAt = j; // key for the latency map (the tracker ignores it for a Ping)
      o.endedAt = now;
      sentAt.set(j, performance.now());
      a.onObservation(o);
    }
    await new Promise((r) => (tickMs > 0 ? setTimeout(r, tickMs) : setImmediate(r)));
  }
  await all;
  const secs = (performance.now() - t0) / 1000;
  await a.close();
  await b.close();
  lat.sort((x, y) => x - y);
  return { perSec: N / secs, p50: pct(lat, 50), p99: pct(lat, 99) };
}

function direct(): number {
  const tracker = new SessionTracker();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) tracker.observe(ping(i, Date.now()));
  return N / ((performance.now() - t0) / 1000);
}

if (process.env.BENCH_FLEET_ONLY === 'workers') {
  // The Redis part skipped on request.
} else if (!REDIS_SERVER) {
  console.log('fleet bench (Redis part) skipped: redis-server is not installed');
} else {
  const redis = await TestRedis.start(false);
  try {
    const base = direct();
    const sat = await throughRedis(redis, 0, 'bench:sat', N, RATE_BATCH, 0);
    // Latency at a steady 2 000 obs/s (20 every 10 ms): the transport, not a queue.
    const steady = await throughRedis(redis, 0, 'bench:w0', 10_000, 20, 10);
    const windowed = await throughRedis(redis, FLEET_DEFAULTS.reorderWindowMs, 'bench:w250', 10_000, 20, 10);
    const f = (x: number) => Math.round(x).toLocaleString('en-US');
    console.log(`two FleetLinks in this process (node a publishes, node b applies to a bare tracker: no sinks, no forwarding) on one redis-server without persistence (--appendonly no), ${REDIS_SERVER}`);
    console.log(`baseline (tracker in process):                   ${f(base)} obs/s`);
    console.log(`through Redis, saturated (${N} obs):            ${f(sat.perSec)} obs/s (${(sat.perSec / base).toFixed(3)} x baseline)`);
    console.log(`added latency at 2 000 obs/s, window 0 ms:       p50 ${steady.p50.toFixed(1)} ms, p99 ${steady.p99.toFixed(1)} ms`);
    console.log(`added latency at 2 000 obs/s, window ${FLEET_DEFAULTS.reorderWindowMs} ms (default): p50 ${windowed.p50.toFixed(1)} ms, p99 ${windowed.p99.toFixed(1)} ms`);
  } finally {
    await redis.close();
  }
}

await workersPingBench();
