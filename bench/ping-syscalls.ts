/**
 * `node --import tsx bench/ping-syscalls.ts noop|shipped [SECONDS]` (Linux, strace installed):
 * system calls per Ping of one gateway child (bench/gateway-roles.ts), counted with
 * `strace -c -f -p` while 32 kept-alive connections do Ping/Ack in lock-step. Not a ratio
 * benchmark (strace slows the process a lot): it counts, e.g. that a Ping costs the gateway
 * two reads and two writes (client in, upstream out, upstream in, client out).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNoopGateway, runShippedGateway, runUpstream, type RoleReady } from './gateway-roles.js';
import { connectAll, startPingLoad } from './ping-load.js';

const here = fileURLToPath(import.meta.url);

function start(role: string, args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(here, [role, ...args], { env: { ...process.env, PING_SYSCALLS_CHILD: '1' }, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve) => {
    child.on('message', (m: { ready?: RoleReady }) => {
      if (m.ready) resolve({ child, port: m.ready.port });
    });
  });
}

async function main(role: string, seconds: number): Promise<void> {
  const up = await start('upstream', []);
  const gw = await start(role, [String(up.port)]);
  const load = startPingLoad(await connectAll(gw.port, 32));
  load.measuring = true; // counted throughout: the traced window is cut out below
  await new Promise((r) => setTimeout(r, 1500)); // warm-up
  const out = join(tmpdir(), `ping-syscalls-${process.pid}.txt`);
  const strace = spawn('strace', ['-c', '-f', '-p', String(gw.child.pid), '-o', out], { stdio: 'ignore' });
  const before = load.count; // strace attaches within milliseconds: both counted from here
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await load.stop(); // the answers still outstanding are counted too: strace sees them
  const pings = load.count - before;
  strace.kill('SIGINT');
  await new Promise((r) => strace.once('exit', r));
  console.log(`${role}: ${pings} Pings while traced; system calls per Ping:`);
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line);
    if (m) console.log(`  ${m[2]!.padEnd(14)} ${(Number(m[1]) / pings).toFixed(2)}`);
  }
  rmSync(out, { force: true });
  await load.close();
  gw.child.kill('SIGTERM');
  up.child.kill('SIGTERM');
}

const [role = 'noop', arg] = process.argv.slice(2);
if (process.env.PING_SYSCALLS_CHILD) {
  if (role === 'upstream') runUpstream();
  else if (role === 'noop') void runNoopGateway(Number(arg));
  else void runShippedGateway(Number(arg));
} else {
  void main(role, Number(arg ?? 3)).then(() => process.exit(0));
}
