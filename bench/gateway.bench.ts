/**
 * `npm run bench -- gateway`: what bitsgate costs in front of a BITS server, as shipped,
 * against the same upstream reached directly, in one run.
 *
 *   (a) one 1 GiB BITS_POST Fragment: throughput / direct (target >= 0.5, or >= 0.9 of the
 *       bare pipe when the pipe itself is below 0.55), with the gateway's CPU ms per MiB;
 *   (b) Ping packets/s over 32 kept-alive connections / direct (target >= 0.25), p50/p99,
 *       and the gateway's own CPU µs per Ping (process.cpuUsage in the gateway process);
 *   (c) peak RSS of the gateway while relaying (a) (target < 150 MB);
 *   (d) RSS over a long Ping run with the dashboard client connected, after a 10 s warm-up
 *       that fills the bounded buffers (dashboard resume ring) (target: flat).
 *
 * Rows, all measured in the same run against one upstream:
 *   direct    - the load generator talks to the upstream itself (the baseline);
 *   pipe      - a bare Node TCP pipe (the ceiling of any Node proxy on this machine);
 *   no-op     - startGateway with a sink that does nothing: the forwarding engine alone;
 *   shipped   - `bitsgate --upstream URL` as the gateway command builds it (request log at
 *               the default level on stdout, metrics, tracker, event bus, dashboard), with ONE
 *               dashboard WebSocket client connected and reading every message.
 * shipped / no-op is what the sinks cost. Beside them, in the Ping phase only, two yardsticks
 * (bench/gateway-floors.ts, not products): `clientrequest`, one bare Node ClientRequest per
 * request through the gateway's PinnedAgent (the Ping-rate ceiling of any engine built on http-proxy,
 * which makes exactly one per request), and `raw`, heads relayed by hand with no http client.
 *
 * Process tree: this script is the load generator (and the dashboard client); every row is
 * its own child (bench/gateway-roles.ts) running an esbuild bundle under plain `node`, as
 * production runs compiled JavaScript (under tsx the loader thread alone adds ~40 MB RSS).
 *
 * Options (env): BENCH_GATEWAY_MB (fragment size, default 1024), BENCH_PING_SECONDS (default
 * 2.5), BENCH_GATEWAY_ROUNDS (alternated rounds per measurement, best kept; default 2),
 * BENCH_GATEWAY_SOAK_SECONDS (the (d) run, default 60; 0 skips it), BENCH_GATEWAY_PROFILE=1
 * (gateway children run with --cpu-prof into bench/profiles/; summarise with
 * `node --import tsx bench/profile-summary.ts FILE`), BENCH_GATEWAY_ONLY=shipped|noop (skip
 * the other gateway row, e.g. for a profile of one), BENCH_GATEWAY_FLOORS=0 (skip the two
 * Ping yardsticks).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { connectAll, startPingLoad } from './ping-load.js';
import {
  runFloor, runNoopGateway, runPipe, runShippedGateway, runUpstream, type ChildReply, type RoleReady,
} from './gateway-roles.js';

const here = fileURLToPath(import.meta.url);
const repoRoot = join(dirname(here), '..');
/** Inside node_modules so the bundle resolves http-proxy & co like the sources do. */
const bundleDir = join(repoRoot, 'node_modules', '.cache', 'bitsgate-bench');
let childScript = here;

// ---------------------------------------------------------------- children

interface Role {
  name: string;
  child: ChildProcess;
  port: number;
  dashboard?: string;
  /** Bytes the child wrote on stdout (its log lines), drained like a log shipper would. */
  stdoutBytes: number;
}

let nextRequest = 1;

function spawnRole(role: string, args: string[], nodeFlags: string[] = []): Promise<Role> {
  const loader = childScript.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = fork(childScript, [role, ...args], {
    execArgv: [...nodeFlags, ...loader],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const r: Role = { name: role, child, port: 0, stdoutBytes: 0 };
  child.stdout!.on('data', (d: Buffer) => {
    r.stdoutBytes += d.length;
  });
  return new Promise((resolve, reject) => {
    const onMessage = (m: { ready?: RoleReady }) => {
      if (!m.ready) return;
      child.off('message', onMessage);
      r.port = m.ready.port;
      if (m.ready.dashboard) r.dashboard = m.ready.dashboard;
      resolve(r);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

function ask(role: Role, kind: 'cpu' | 'rss'): Promise<ChildReply> {
  const id = nextRequest++;
  return new Promise((resolve) => {
    const onMessage = (m: ChildReply) => {
      if (m.id !== id) return;
      role.child.off('message', onMessage);
      resolve(m);
    };
    role.child.on('message', onMessage);
    role.child.send({ id, kind });
  });
}

/** The child's CPU time so far (user + system), in µs. */
async function cpuMicros(role: Role | undefined): Promise<{ user: number; system: number }> {
  if (!role) return { user: 0, system: 0 };
  const { cpu } = await ask(role, 'cpu');
  return { user: cpu!.user, system: cpu!.system };
}

function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
}

// ---------------------------------------------------------------- load

/** (a): one fragment of `bytes`, streamed from a reused 1 MiB block; returns bytes/s. */
async function fragmentThroughput(port: number, bytes: number): Promise<number> {
  const socket = (await connectAll(port, 1))[0]!;
  const block = Buffer.alloc(1024 * 1024, 0x5a);
  const started = process.hrtime.bigint();
  const answered = new Promise<void>((resolve, reject) => {
    let got = '';
    socket.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        if (!got.startsWith('HTTP/1.1 200')) reject(new Error(`unexpected answer ${JSON.stringify(got.slice(0, 80))}`));
        resolve();
      }
    });
    socket.once('close', () => reject(new Error('closed before the answer')));
  });
  socket.write(
    `BITS_POST /bench/big.bin HTTP/1.1\r\nHost: bench\r\nBITS-Packet-Type: Fragment\r\n` +
      `BITS-Session-Id: {bench}\r\nContent-Range: bytes 0-${bytes - 1}/${bytes}\r\nContent-Length: ${bytes}\r\n\r\n`,
  );
  let left = bytes;
  while (left > 0) {
    const piece = left >= block.length ? block : block.subarray(0, left);
    left -= piece.length;
    if (!socket.write(piece)) await new Promise((r) => socket.once('drain', r));
  }
  await answered;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  socket.destroy();
  return bytes / seconds;
}

interface PingResult {
  perSecond: number;
  p50: number;
  p99: number;
  /** Gateway CPU µs (user, system) per Ping over the measured window; 0 for non-gateway rows. */
  cpuUser: number;
  cpuSystem: number;
}

/**
 * (b): `connections` kept-alive connections each doing Ping/Ack in lock-step for `seconds`.
 * `sample` runs every `sampleEveryMs` during the measured window (the RSS soak).
 */
async function pingRate(
  port: number, connections: number, seconds: number, cpuOf?: Role,
  sample?: () => void, sampleEveryMs = 5000, warmupMs = 500,
): Promise<PingResult> {
  const latencies: number[] = [];
  const load = startPingLoad(await connectAll(port, connections), (ms) => {
    if (latencies.length < 2_000_000) latencies.push(ms);
  });
  await new Promise((r) => setTimeout(r, warmupMs)); // warm-up (JIT; for the soak, bounded buffers filling)
  const cpu0 = await cpuMicros(cpuOf);
  load.measuring = true;
  const started = Date.now();
  const sampler = sample ? setInterval(sample, sampleEveryMs) : undefined;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  load.measuring = false;
  const elapsed = (Date.now() - started) / 1000;
  if (sampler) clearInterval(sampler);
  const cpu1 = await cpuMicros(cpuOf);
  await load.close();
  const count = load.count;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return {
    perSecond: count / elapsed, p50: pct(0.5), p99: pct(0.99),
    cpuUser: count ? (cpu1.user - cpu0.user) / count : 0,
    cpuSystem: count ? (cpu1.system - cpu0.system) / count : 0,
  };
}

/** The one dashboard client: a WebSocket on /events that reads (and counts) every message. */
function dashboardClient(httpUrl: string): Promise<{ ws: WebSocket; messages: () => number; bytes: () => number }> {
  const url = new URL('/events', httpUrl.replace(/^http/, 'ws'));
  const ws = new WebSocket(url);
  let messages = 0;
  let bytes = 0;
  ws.on('message', (data: Buffer) => {
    messages++;
    bytes += data.length;
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages: () => messages, bytes: () => bytes }));
    ws.once('error', reject);
  });
}

async function bundleChildren(): Promise<void> {
  const { build } = await import('esbuild');
  mkdirSync(bundleDir, { recursive: true });
  // One file per run: node_modules (and so this cache) is shared by every worktree on the machine.
  const outfile = join(bundleDir, `gateway.bench.${process.pid}.mjs`);
  // src/version.ts reads `../package.json` relative to itself, which the bundle's directory
  // does not have: the bundle gets the version inlined instead.
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const inlineVersion = {
    name: 'inline-version',
    setup(b: { onLoad(o: { filter: RegExp }, cb: () => { contents: string; loader: 'ts' }): void }) {
      b.onLoad({ filter: /[\\/]src[\\/]version\.ts$/ }, () => ({ contents: `export const VERSION = ${JSON.stringify(version)};`, loader: 'ts' }));
    },
  };
  await build({
    entryPoints: [here], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'error', plugins: [inlineVersion],
  });
  childScript = outfile;
}

// ---------------------------------------------------------------- report

const f2 = (n: number) => n.toFixed(2);
const mib = (bps: number) => (bps / 2 ** 20).toFixed(0);

async function main(): Promise<void> {
  await bundleChildren();
  const mb = Number(process.env.BENCH_GATEWAY_MB ?? 1024);
  const pingSeconds = Number(process.env.BENCH_PING_SECONDS ?? 2.5);
  const rounds = Math.max(1, Number(process.env.BENCH_GATEWAY_ROUNDS ?? 2));
  const soakSeconds = Number(process.env.BENCH_GATEWAY_SOAK_SECONDS ?? 60);
  const only = process.env.BENCH_GATEWAY_ONLY;
  const profileFlags = process.env.BENCH_GATEWAY_PROFILE === '1'
    ? ['--cpu-prof', '--cpu-prof-dir', join(repoRoot, 'bench', 'profiles')] : [];
  const bytes = mb * 1024 * 1024;

  const children: Role[] = [];
  try {
    const upstream = await spawnRole('upstream', []);
    children.push(upstream);
    const pipe = await spawnRole('pipe', [String(upstream.port)]);
    children.push(pipe);
    const noop = only === 'shipped' ? undefined : await spawnRole('noop', [String(upstream.port)], profileFlags);
    if (noop) children.push(noop);
    const shipped = only === 'noop' ? undefined : await spawnRole('shipped', [String(upstream.port)], profileFlags);
    if (shipped) children.push(shipped);
    const dash = shipped ? await dashboardClient(shipped.dashboard!) : undefined;
    const floors: Array<{ name: string; port: number; role: Role }> = [];
    if (process.env.BENCH_GATEWAY_FLOORS !== '0') {
      for (const kind of ['clientrequest', 'raw']) {
        const role = await spawnRole('floor', [kind, String(upstream.port)]);
        children.push(role);
        floors.push({ name: kind, port: role.port, role });
      }
    }

    type Row = { name: string; port: number; role?: Role };
    const rows: Row[] = [
      { name: 'direct', port: upstream.port },
      { name: 'pipe', port: pipe.port },
      ...(noop ? [{ name: 'no-op sink', port: noop.port, role: noop }] : []),
      ...(shipped ? [{ name: 'as shipped', port: shipped.port, role: shipped }] : []),
    ];

    // (a) Alternate the rows each round, keep each row's best (noise on 2 shared cores).
    const frag = new Map<string, { rate: number; cpuMsPerMiB: number }>();
    for (let i = 0; i < rounds; i++) {
      for (const row of rows) {
        const c0 = await cpuMicros(row.role);
        const rate = await fragmentThroughput(row.port, bytes);
        const c1 = await cpuMicros(row.role);
        const cpuMs = (c1.user + c1.system - c0.user - c0.system) / 1000 / mb;
        const best = frag.get(row.name);
        if (!best || rate > best.rate) frag.set(row.name, { rate, cpuMsPerMiB: cpuMs });
      }
    }
    const peak = new Map(rows.filter((r) => r.role).map((r) => [r.name, statusKb(r.role!.child.pid!, 'VmHWM') / 1024]));

    // (b)
    const ping = new Map<string, PingResult>();
    for (let i = 0; i < rounds; i++) {
      for (const row of [...rows, ...floors]) {
        const r = await pingRate(row.port, 32, pingSeconds, row.role);
        const best = ping.get(row.name);
        if (!best || r.perSecond > best.perSecond) ping.set(row.name, r);
      }
    }

    const direct = frag.get('direct')!.rate;
    const pipeRatio = frag.get('pipe')!.rate / direct;
    const pingDirect = ping.get('direct')!.perSecond;
    console.log(`(a) ${mb} MiB fragment, (b) Ping over 32 kept-alive connections, (c) peak RSS during (a); best of ${rounds} alternated rounds`);
    console.log('row          | (a) MiB/s  ratio  vs pipe  CPU ms/MiB | (b) Ping/s  ratio  p50 ms  p99 ms  CPU µs/Ping (user+sys) | (c) peak RSS');
    for (const row of rows) {
      const a = frag.get(row.name)!;
      const b = ping.get(row.name)!;
      const gw = row.role !== undefined;
      console.log(
        `${row.name.padEnd(12)} | ${mib(a.rate).padStart(9)}  ${f2(a.rate / direct).padStart(5)}  ${f2(a.rate / direct / pipeRatio).padStart(7)}  ` +
        `${gw ? f2(a.cpuMsPerMiB).padStart(10) : '         -'} | ${b.perSecond.toFixed(0).padStart(10)}  ${f2(b.perSecond / pingDirect).padStart(5)}  ` +
        `${f2(b.p50).padStart(6)}  ${f2(b.p99).padStart(6)}  ${gw ? `${(b.cpuUser + b.cpuSystem).toFixed(1)} (${b.cpuUser.toFixed(1)}+${b.cpuSystem.toFixed(1)})`.padStart(22) : '                     -'} | ` +
        `${gw ? `${peak.get(row.name)!.toFixed(0)} MB` : '-'}`,
      );
    }
    if (floors.length > 0) {
      console.log('Ping yardsticks (not products; bench/gateway-floors.ts), same run, same load:');
      for (const f of floors) {
        const b = ping.get(f.name)!;
        const what = f.name === 'clientrequest'
          ? 'one bare ClientRequest per request, the ceiling of an http-proxy engine'
          : 'heads relayed by hand, no http client';
        console.log(`  ${f.name.padEnd(13)} | ${b.perSecond.toFixed(0).padStart(7)} Ping/s  ${f2(b.perSecond / pingDirect)} of direct  ` +
          `${(b.cpuUser + b.cpuSystem).toFixed(1)} µs CPU/Ping (${b.cpuUser.toFixed(1)}+${b.cpuSystem.toFixed(1)}): ${what}`);
      }
    }
    if (shipped) {
      const a = frag.get('as shipped')!.rate / direct;
      const b = ping.get('as shipped')!.perSecond / pingDirect;
      const aOk = a >= 0.5 || (pipeRatio < 0.55 && a / pipeRatio >= 0.9);
      console.log(`targets, as shipped: (a) ${f2(a)} of direct, ${f2(a / pipeRatio)} of the pipe (pipe ${f2(pipeRatio)}) -> ${aOk ? 'met' : 'NOT met'}; ` +
        `(b) ${f2(b)} of direct (>= 0.25) -> ${b >= 0.25 ? 'met' : 'NOT met'}; (c) ${peak.get('as shipped')!.toFixed(0)} MB (< 150) -> ${peak.get('as shipped')! < 150 ? 'met' : 'NOT met'}`);
      if (noop) {
        const n = ping.get('no-op sink')!;
        const s = ping.get('as shipped')!;
        console.log(`what the sinks cost per Ping: ${(s.cpuUser + s.cpuSystem - n.cpuUser - n.cpuSystem).toFixed(1)} µs of gateway CPU`);
      }
      console.log(`dashboard client read ${dash!.messages()} messages (${(dash!.bytes() / 1024).toFixed(0)} KiB); the gateway wrote ${(shipped.stdoutBytes / 1024).toFixed(0)} KiB of log`);
    }

    // (d) RSS over a long Ping run with the dashboard client connected.
    if (shipped && soakSeconds > 0) {
      const samples: number[] = [];
      const sample = () => samples.push(statusKb(shipped.child.pid!, 'VmRSS') / 1024);
      const logBefore = shipped.stdoutBytes;
      // 10 s of warm-up first: the dashboard's resume ring (10 000 events) and the JIT fill up;
      // what must stay flat is what comes after.
      const r = await pingRate(shipped.port, 32, soakSeconds, shipped, sample, 5000, 10_000);
      sample();
      // RSS saws up and down with garbage collection, and the heap settles during the first
      // cycles: a leak shows as a rising floor (lowest sample) from the middle third to the
      // last, not as a higher peak between two collections.
      const third = Math.ceil(samples.length / 3);
      const middle = samples.slice(third, 2 * third);
      const last = samples.slice(2 * third);
      const min = (xs: number[]) => Math.min(...xs);
      const flat = min(last) <= min(middle) + 15;
      console.log(`(d) ${soakSeconds} s Ping run as shipped, dashboard client connected: ${r.perSecond.toFixed(0)} Ping/s, ` +
        `${(r.cpuUser + r.cpuSystem).toFixed(1)} µs CPU per Ping; RSS every 5 s (MB): ${samples.map((s) => s.toFixed(0)).join(' ')}; ` +
        `floor of the middle third ${min(middle).toFixed(0)}, of the last third ${min(last).toFixed(0)}, peak ${Math.max(...samples).toFixed(0)} -> ${flat ? 'flat' : 'GROWING'}; ` +
        `log ${((shipped.stdoutBytes - logBefore) / 2 ** 20).toFixed(1)} MiB, dashboard ${dash!.messages()} messages`);
    }
    dash?.ws.terminate();
  } finally {
    for (const c of children) c.child.kill('SIGTERM');
    // The children loaded the bundle when they started.
    if (childScript !== here) rmSync(childScript, { force: true });
  }
}

const role = process.argv[2];
if (role === 'upstream') runUpstream();
else if (role === 'pipe') runPipe(Number(process.argv[3]));
else if (role === 'noop') void runNoopGateway(Number(process.argv[3]));
else if (role === 'shipped') void runShippedGateway(Number(process.argv[3]));
else if (role === 'floor') runFloor(process.argv[3]!, Number(process.argv[4]));
else {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
