/**
 * `npm run bench gateway`: bitsgate's forwarding cost against a direct connection, in one
 * run, against the same upstream.
 *
 *   (a) one 1 GiB BITS_POST Fragment: throughput through the gateway / direct (target >= 0.5)
 *   (b) Ping packets/s over 32 kept-alive connections, with p50/p99 latency (target >= 0.2)
 *   (c) peak RSS of the gateway process during (a) (target < 150 MB)
 *
 * Process tree: this script is the load generator; it spawns itself twice, once as the
 * upstream (a minimal raw-socket BITS server that discards bodies and answers an Ack) and
 * once as the gateway, so neither shares an event loop with the load it measures. The
 * children run an esbuild bundle of this file under plain `node`, as production runs
 * compiled JavaScript: under tsx the loader thread alone adds ~40 MB of RSS.
 * Options (env): BENCH_GATEWAY_MB (fragment size, default 1024), BENCH_PING_SECONDS (default 2.5),
 * BENCH_GATEWAY_PROFILE=1 (run the gateway child with --cpu-prof into bench/profiles/),
 * BENCH_GATEWAY_ROUNDS (alternated direct/gateway rounds per measurement, best kept; default 2).
 * The gateway's CPU time per MiB / per Ping is printed too: on a shared 2-core machine it
 * moves far less with other load than the throughput ratios do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = fileURLToPath(import.meta.url);
const repoRoot = join(dirname(here), '..');
/** Inside node_modules so the bundle resolves http-proxy & co like the sources do. */
const bundleDir = join(repoRoot, 'node_modules', '.cache', 'bitsgate-bench');
let childScript = here;
const ACK: Buffer = Buffer.from('HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\n\r\n', 'latin1');
const CRLFCRLF: Buffer = Buffer.from('\r\n\r\n');

// ---------------------------------------------------------------- child roles

/** Fast upstream: parses heads, skips Content-Length bodies without copying, answers an Ack. */
function runUpstream(): void {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let head: Buffer = Buffer.alloc(0);
    let skip = 0;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      let data: Buffer = chunk;
      while (data.length > 0) {
        if (skip > 0) {
          const n = Math.min(skip, data.length);
          skip -= n;
          data = data.subarray(n);
          if (skip === 0) socket.write(ACK);
          continue;
        }
        head = head.length ? Buffer.concat([head, data]) : data;
        const end = head.indexOf(CRLFCRLF);
        if (end < 0) return;
        const text = head.subarray(0, end).toString('latin1');
        data = head.subarray(end + 4);
        head = Buffer.alloc(0);
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(text);
        skip = m ? Number(m[1]) : 0;
        if (skip === 0) socket.write(ACK);
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as net.AddressInfo).port }) + '\n');
  });
}

async function runGateway(upstreamPort: number): Promise<void> {
  const { startGateway } = await import('../src/gateway/index.js');
  const gateway = await startGateway({
    upstream: new URL(`http://127.0.0.1:${upstreamPort}`),
    listen: { host: '127.0.0.1', port: 0 },
    // A sink that does what the request log does cheaply: the hot path must carry it.
    sinks: [{ onObservation: () => {} }],
  });
  process.stdout.write(JSON.stringify({ port: gateway.address.port }) + '\n');
  process.on('SIGTERM', () => void gateway.close().then(() => process.exit(0)));
}

/** Calibration only (BENCH_GATEWAY_CALIBRATE=1): a raw TCP pipe, the ceiling of any Node proxy here. */
function runPipe(upstreamPort: number): void {
  const server = net.createServer((client) => {
    const up = net.connect(upstreamPort, '127.0.0.1');
    client.setNoDelay(true);
    up.setNoDelay(true);
    client.pipe(up).pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as net.AddressInfo).port }) + '\n');
  });
}

// ---------------------------------------------------------------- load generator

function spawnRole(role: string, args: string[], nodeFlags: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const loader = childScript.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...nodeFlags, ...loader, childScript, role, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, port: (JSON.parse(line) as { port: number }).port });
    });
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.setNoDelay(true);
    s.once('error', reject);
  });
}

/** (a): one fragment of `bytes`, streamed from a reused 1 MiB block; returns bytes/s. */
async function fragmentThroughput(port: number, bytes: number): Promise<number> {
  const socket = await connect(port);
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
}

/** (b): `connections` kept-alive connections each doing Ping/Ack in lock-step for `seconds`. */
async function pingRate(port: number, connections: number, seconds: number): Promise<PingResult> {
  const ping = Buffer.from('BITS_POST /bench/f.bin HTTP/1.1\r\nHost: bench\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n', 'latin1');
  const sockets = await Promise.all(Array.from({ length: connections }, () => connect(port)));
  const latencies: number[] = [];
  let measuring = false;
  let stopping = false;
  let count = 0;
  const loops = sockets.map(
    (socket) =>
      new Promise<void>((resolve) => {
        let sent = 0n;
        let pending = '';
        const send = () => {
          if (stopping) return resolve();
          sent = process.hrtime.bigint();
          socket.write(ping);
        };
        socket.on('data', (d) => {
          pending += d.toString('latin1');
          let i: number;
          while ((i = pending.indexOf('\r\n\r\n')) >= 0) {
            pending = pending.slice(i + 4);
            if (measuring) {
              count++;
              latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
            }
            send();
          }
        });
        socket.once('close', () => resolve());
        send();
      }),
  );
  await new Promise((r) => setTimeout(r, 500)); // warm-up
  measuring = true;
  const started = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (Date.now() - started) / 1000;
  stopping = true;
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 2000))]);
  for (const s of sockets) s.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { perSecond: count / elapsed, p50: pct(0.5), p99: pct(0.99) };
}

/** CPU seconds [user, system] the process has used so far. */
function cpuSeconds(pid: number): [number, number] {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return [Number(fields[11]) / 100, Number(fields[12]) / 100]; // utime, stime in clock ticks (USER_HZ = 100)
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function bundleChildren(): Promise<void> {
  const { build } = await import('esbuild');
  mkdirSync(bundleDir, { recursive: true });
  const outfile = join(bundleDir, 'gateway.bench.mjs');
  await build({ entryPoints: [here], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'error' });
  childScript = outfile;
}

async function main(): Promise<void> {
  await bundleChildren();
  const mb = Number(process.env.BENCH_GATEWAY_MB ?? 1024);
  const pingSeconds = Number(process.env.BENCH_PING_SECONDS ?? 2.5);
  const profile = process.env.BENCH_GATEWAY_PROFILE === '1';
  const rounds = Math.max(1, Number(process.env.BENCH_GATEWAY_ROUNDS ?? 2));
  const bytes = mb * 1024 * 1024;
  const upstream = await spawnRole('upstream', []);
  const gwFlags = profile ? ['--cpu-prof', '--cpu-prof-dir', join(repoRoot, 'bench', 'profiles')] : [];
  const gateway = await spawnRole('gateway', [String(upstream.port)], gwFlags);
  try {
    const startRss = peakRssMb(gateway.child.pid!);
    // Run direct and gateway alternately; keep the best of each (noise on 2 cores).
    let direct = 0;
    let via = 0;
    let fragmentCpu = Infinity;
    for (let i = 0; i < rounds; i++) {
      direct = Math.max(direct, await fragmentThroughput(upstream.port, bytes));
      const before = cpuSeconds(gateway.child.pid!);
      via = Math.max(via, await fragmentThroughput(gateway.port, bytes));
      const after = cpuSeconds(gateway.child.pid!);
      fragmentCpu = Math.min(fragmentCpu, after[0] + after[1] - before[0] - before[1]);
    }
    const rss = peakRssMb(gateway.child.pid!);
    // Also alternated and best-of-two: other load on a 2-core machine swings single runs.
    let pingDirect: PingResult | undefined;
    let pingVia: PingResult | undefined;
    let cpuBefore: [number, number] = [0, 0];
    let cpuAfter: [number, number] = [0, 0];
    let wallBefore = 0;
    let wallAfter = 0;
    for (let i = 0; i < rounds; i++) {
      const d = await pingRate(upstream.port, 32, pingSeconds);
      if (!pingDirect || d.perSecond > pingDirect.perSecond) pingDirect = d;
      const before = cpuSeconds(gateway.child.pid!);
      const t0 = Date.now();
      const v = await pingRate(gateway.port, 32, pingSeconds);
      if (!pingVia || v.perSecond > pingVia.perSecond) {
        pingVia = v;
        [cpuBefore, cpuAfter, wallBefore, wallAfter] = [before, cpuSeconds(gateway.child.pid!), t0, Date.now()];
      }
    }
    if (!pingDirect || !pingVia) throw new Error('no ping rounds ran');
    const pings = pingVia.perSecond * pingSeconds;
    const cpuUs = (i: 0 | 1) => (((cpuAfter[i] - cpuBefore[i]) * 1e6) / pings).toFixed(0);
    const cpuShare = (cpuAfter[0] + cpuAfter[1] - cpuBefore[0] - cpuBefore[1]) / ((wallAfter - wallBefore) / 1000);
    const f = (n: number) => n.toFixed(2);
    console.log(`(a) ${mb} MiB fragment: direct ${f(direct / 2 ** 20)} MiB/s, gateway ${f(via / 2 ** 20)} MiB/s, ratio ${f(via / direct)} (target >= 0.5); gateway CPU ${((fragmentCpu * 1e3) / mb).toFixed(2)} ms per MiB`);
    console.log(`(b) Ping x32 conns: direct ${pingDirect.perSecond.toFixed(0)}/s (p50 ${f(pingDirect.p50)} ms, p99 ${f(pingDirect.p99)} ms), ` +
      `gateway ${pingVia.perSecond.toFixed(0)}/s (p50 ${f(pingVia.p50)} ms, p99 ${f(pingVia.p99)} ms), ratio ${f(pingVia.perSecond / pingDirect.perSecond)} (target >= 0.2); gateway CPU ${(cpuShare * 100).toFixed(0)}% of a core, ~${cpuUs(0)} µs user + ${cpuUs(1)} µs system per Ping`);
    if (process.env.BENCH_GATEWAY_CALIBRATE === '1') {
      const pipe = await spawnRole('pipe', [String(upstream.port)]);
      try {
        const pipeFragment = await fragmentThroughput(pipe.port, bytes);
        const pipePing = await pingRate(pipe.port, 32, pingSeconds);
        console.log(`calibration, raw Node TCP pipe: (a) ratio ${f(pipeFragment / direct)}, (b) ${pipePing.perSecond.toFixed(0)}/s ratio ${f(pipePing.perSecond / pingDirect.perSecond)}`);
      } finally {
        pipe.child.kill('SIGTERM');
      }
    }
    console.log(`(c) gateway peak RSS during (a): ${f(rss)} MB (at start ${f(startRss)} MB) (target < 150 MB)`);
  } finally {
    gateway.child.kill('SIGTERM');
    upstream.child.kill('SIGTERM');
  }
}

const role = process.argv[2];
if (role === 'upstream') runUpstream();
else if (role === 'gateway') void runGateway(Number(process.argv[3]));
else if (role === 'pipe') runPipe(Number(process.argv[3]));
else {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
