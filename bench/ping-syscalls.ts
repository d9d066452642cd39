/**
 * `node --import tsx bench/ping-syscalls.ts noop|shipped [SECONDS]` (Linux, strace installed):
 * system calls per Ping of one gateway child (bench/gateway-roles.ts), counted with
 * `strace -c -f -p` while 32 kept-alive connections do Ping/Ack in lock-step. Not a ratio
 * benchmark (strace slows the process a lot): it counts, e.g. that a Ping costs the gateway
 * two reads and two writes (client in, upstream out, upstream in, client out).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNoopGateway, runShippedGateway, runUpstream, type RoleReady } from './gateway-roles.js';

const here = fileURLToPath(import.meta.url);
const PING = Buffer.from('BITS_POST /bench/f.bin HTTP/1.1\r\nHost: bench\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n', 'latin1');

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
  let count = 0;
  let inFlight = 0;
  let stopping = false;
  const sockets = await Promise.all(Array.from({ length: 32 }, () => new Promise<net.Socket>((resolve) => {
    const s = net.connect(gw.port, '127.0.0.1', () => resolve(s));
    s.setNoDelay(true);
  })));
  for (const s of sockets) {
    let pending = '';
    const send = () => {
      if (stopping) return;
      inFlight++;
      s.write(PING);
    };
    s.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      let i: number;
      while ((i = pending.indexOf('\r\n\r\n')) >= 0) {
        pending = pending.slice(i + 4);
        inFlight--;
        count++;
        send();
      }
    });
    send();
  }
  await new Promise((r) => setTimeout(r, 1500)); // warm-up
  const out = join(tmpdir(), `ping-syscalls-${process.pid}.txt`);
  const strace = spawn('strace', ['-c', '-f', '-p', String(gw.child.pid), '-o', out], { stdio: 'ignore' });
  const before = count; // strace attaches within milliseconds: both counted from here
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stopping = true;
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  const pings = count - before;
  strace.kill('SIGINT');
  await new Promise((r) => strace.once('exit', r));
  console.log(`${role}: ${pings} Pings while traced; system calls per Ping:`);
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line);
    if (m) console.log(`  ${m[2]!.padEnd(14)} ${(Number(m[1]) / pings).toFixed(2)}`);
  }
  rmSync(out, { force: true });
  for (const s of sockets) s.destroy();
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
