/**
 * Part of `npm run bench -- fleet`: Ping/s over 32 kept-alive connections through
 * `bitsgate --workers 2` against `--workers 1`, in the same run, as shipped (bin/bitsgate.js,
 * so `npm run build` first): log at info on a pipe, metrics, tracker, dashboard. The
 * upstream is a minimal raw-socket Ack server in its own process. CPU per Ping is the
 * gateway's whole process tree (primary + workers), read from /proc. The Ping loop is
 * bench/ping-load.ts, the one the other Ping benches use.
 *
 *   BENCH_WORKERS_SECONDS (default 5) per measurement, BENCH_WORKERS_ROUNDS (default 2)
 *   alternated rounds, the best of each kept.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAll, startPingLoad } from './ping-load.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'bitsgate.js');
/** Linux's USER_HZ: /proc/PID/stat counts CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

const UPSTREAM = `
const net = require('node:net');
const ACK = Buffer.from('HTTP/1.1 200 OK\\r\\nBITS-Packet-Type: Ack\\r\\nContent-Length: 0\\r\\n\\r\\n', 'latin1');
const server = net.createServer((s) => {
  s.setNoDelay(true);
  let pending = '';
  s.on('error', () => {});
  s.on('data', (d) => {
    pending += d.toString('latin1');
    let i;
    while ((i = pending.indexOf('\\r\\n\\r\\n')) >= 0) { pending = pending.slice(i + 4); s.write(ACK); }
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('disconnect', () => process.exit(0));
`;

async function lineOf(child: ChildProcess, test: (line: string) => boolean): Promise<string> {
  let buf = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find(test);
      if (line) resolve(line);
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${buf.slice(-500)}`)));
  });
}

function treeCpuMicros(pid: number): number {
  const pids = [pid, ...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)];
  let ticks = 0;
  for (const p of pids) {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  }
  return (ticks * 1e6) / TICKS_PER_SECOND;
}

async function pingRate(port: number, gatewayPid: number, connections: number, seconds: number): Promise<{ perSecond: number; cpuMicrosPerPing: number }> {
  const load = startPingLoad(await connectAll(port, connections));
  await new Promise((r) => setTimeout(r, 1000)); // warm-up
  const cpu0 = treeCpuMicros(gatewayPid);
  const t0 = performance.now();
  load.measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  load.measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = treeCpuMicros(gatewayPid);
  await load.close();
  return { perSecond: load.count / elapsed, cpuMicrosPerPing: load.count ? (cpu1 - cpu0) / load.count : NaN };
}

export async function workersPingBench(): Promise<void> {
  const seconds = Number(process.env.BENCH_WORKERS_SECONDS ?? 5);
  const rounds = Math.max(1, Number(process.env.BENCH_WORKERS_ROUNDS ?? 2));
  const children: ChildProcess[] = [];
  try {
    const upstream = spawn(process.execPath, ['-e', UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    children.push(upstream);
    const upstreamPort = Number(await lineOf(upstream, (l) => /^\d+$/.test(l)));
    const gateways = new Map<number, { port: number; pid: number }>();
    for (const workers of [1, 2]) {
      const child = spawn(process.execPath, [BIN, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--listen', '127.0.0.1:0',
        '--dashboard', '127.0.0.1:0', '--workers', String(workers)], { stdio: ['ignore', 'pipe', 'ignore'] });
      children.push(child);
      const line = await lineOf(child, (l) => l.includes('"gateway listening"'));
      child.stdout!.resume(); // the log is drained, as a service manager would
      gateways.set(workers, { port: Number(new URL(JSON.parse(line).listen).port), pid: child.pid! });
    }
    const best = new Map<number, { perSecond: number; cpuMicrosPerPing: number }>();
    for (let r = 0; r < rounds; r++) {
      for (const [workers, gw] of gateways) {
        const result = await pingRate(gw.port, gw.pid, 32, seconds);
        if (!best.has(workers) || result.perSecond > best.get(workers)!.perSecond) best.set(workers, result);
      }
    }
    const one = best.get(1)!;
    const two = best.get(2)!;
    const f = (x: number) => Math.round(x).toLocaleString('en-US');
    console.log(`\nPing over 32 kept-alive connections, bitsgate as shipped (bin/bitsgate.js --upstream, log/metrics/tracker/dashboard), ` +
      `${seconds} s each, best of ${rounds} alternated rounds, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}:`);
    console.log(`--workers 1:  ${f(one.perSecond)} Ping/s, ${f(one.cpuMicrosPerPing)} µs CPU per Ping (whole process tree)`);
    console.log(`--workers 2:  ${f(two.perSecond)} Ping/s, ${f(two.cpuMicrosPerPing)} µs CPU per Ping (primary + 2 workers)`);
    console.log(`ratio --workers 2 / --workers 1: ${(two.perSecond / one.perSecond).toFixed(2)} (Ping/s), ${(two.cpuMicrosPerPing / one.cpuMicrosPerPing).toFixed(2)} (CPU per Ping)`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}
