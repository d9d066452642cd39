/**
 * `node --import tsx bench/ping-ab.ts TREE_A TREE_B [ROUNDS] [SECONDS] [noop,shipped]`: the
 * same gateway role (bench/gateway-roles.ts) built from two source trees (e.g. a `git archive`
 * of main and this checkout), side by side against one upstream, in alternating Ping rounds
 * over 32 kept-alive connections. Prints the gateway CPU µs per Ping of each (measured inside
 * the gateway process) and B/A paired by round: on a shared, loaded machine a change shows
 * in paired rounds long before it shows across separate runs. The first two rounds (tsx
 * compile, JIT) are dropped. `shipped` here has no dashboard client connected.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildReply, RoleReady } from './gateway-roles.js';
import { connectAll, startPingLoad } from './ping-load.js';

const here = fileURLToPath(import.meta.url);
interface Kid { name: string; child: ChildProcess; port: number }
let nextId = 1;

function start(name: string, tree: string, role: string, port = 0): Promise<Kid> {
  const child = fork(here, [tree, role, String(port)], { env: { ...process.env, PING_AB_CHILD: '1' }, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve) => {
    const onMessage = (m: { ready?: RoleReady }) => {
      if (!m.ready) return;
      child.off('message', onMessage);
      resolve({ name, child, port: m.ready.port });
    };
    child.on('message', onMessage);
  });
}

function cpuMicros(k: Kid): Promise<number> {
  const id = nextId++;
  return new Promise((resolve) => {
    const onMessage = (m: ChildReply) => {
      if (m.id !== id) return;
      k.child.off('message', onMessage);
      resolve(m.cpu!.user + m.cpu!.system);
    };
    k.child.on('message', onMessage);
    k.child.send({ id, kind: 'cpu' });
  });
}

async function round(k: Kid, seconds: number): Promise<{ perSecond: number; usPerPing: number }> {
  const load = startPingLoad(await connectAll(k.port, 32));
  await new Promise((r) => setTimeout(r, 300));
  const c0 = await cpuMicros(k);
  load.measuring = true;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  load.measuring = false;
  const c1 = await cpuMicros(k);
  const elapsed = (Date.now() - t0) / 1000;
  await load.close();
  return { perSecond: load.count / elapsed, usPerPing: (c1 - c0) / load.count };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(a: string, b: string, rounds: number, seconds: number, roles: string[]): Promise<void> {
  const upstream = await start('upstream', a, 'upstream');
  const kids: Kid[] = [];
  for (const role of roles) for (const [label, tree] of [['A', a], ['B', b]]) kids.push(await start(`${role}-${label}`, tree!, role, upstream.port));
  const results = new Map<string, { perSecond: number[]; us: number[] }>(kids.map((k) => [k.name, { perSecond: [], us: [] }]));
  for (let r = 0; r < rounds + 2; r++) {
    for (const k of r % 2 === 0 ? kids : [...kids].reverse()) {
      const x = await round(k, seconds);
      if (r < 2) continue;
      results.get(k.name)!.perSecond.push(x.perSecond);
      results.get(k.name)!.us.push(x.usPerPing);
    }
  }
  for (const role of roles) {
    const ra = results.get(`${role}-A`)!;
    const rb = results.get(`${role}-B`)!;
    const ratios = ra.us.map((u, i) => rb.us[i]! / u);
    console.log(`${role}: B/A gateway CPU per Ping, paired by round: median ${median(ratios).toFixed(3)} (${ratios.map((x) => x.toFixed(2)).join(' ')})`);
  }
  for (const k of kids) {
    const e = results.get(k.name)!;
    console.log(`  ${k.name.padEnd(10)} CPU µs/Ping median ${median(e.us).toFixed(1)} (min ${Math.min(...e.us).toFixed(1)}), Ping/s median ${median(e.perSecond).toFixed(0)}`);
  }
  for (const k of [...kids, upstream]) k.child.kill('SIGTERM');
}

if (process.env.PING_AB_CHILD) {
  const [tree, role, port] = process.argv.slice(2);
  const roles = (await import(`${tree}/bench/gateway-roles.ts`)) as typeof import('./gateway-roles.js');
  if (role === 'upstream') roles.runUpstream();
  else if (role === 'noop') await roles.runNoopGateway(Number(port));
  else await roles.runShippedGateway(Number(port));
} else {
  const [a, b, rounds = '8', seconds = '2', roles = 'noop,shipped'] = process.argv.slice(2);
  if (!a || !b) {
    console.error('usage: bench/ping-ab.ts TREE_A TREE_B [ROUNDS] [SECONDS] [noop,shipped]');
    process.exit(2);
  }
  await main(a, b, Number(rounds), Number(seconds), roles.split(','));
  process.exit(0);
}
