/**
 * `npm run bench -- tls` (or `npm run bench -- gateway tls`): what TLS on both sides costs,
 * as ratios against the plain gateway measured in the same run, same upstream program.
 *
 *   (a) one BITS_POST Fragment of BENCH_TLS_MB MiB (default 256): TLS-both-sides / plain
 *   (b) Ping packets/s over 16 kept-alive connections: TLS-both-sides / plain
 *   (c) new connections/s (one Ping each: a full TLS handshake on both sides) / plain
 *
 * Process tree: this script is the load generator; it spawns itself as the upstream (a raw
 * BITS Ack responder, plain or TLS) and as the gateway (plain, or TLS to the client and to
 * the upstream), so neither shares an event loop with the load. Certificates (P-256) are
 * made at start in a temp directory and removed at the end. Rounds alternate plain/TLS and
 * the best of BENCH_TLS_ROUNDS (default 2) is kept.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startApp } from '../src/app.js';
import { TestPki } from '../test/gateway/test-pki.js';
import { answerAcks } from './gateway-roles.js';

const here = fileURLToPath(import.meta.url);
const PING = Buffer.from('BITS_POST /up/f.bin HTTP/1.1\r\nHost: bench.example\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n', 'latin1');

interface Pki { dir: string; ca: string; cert: string; key: string }

// ---------------------------------------------------------------- child roles

function runUpstream(pki: Pki | undefined): void {
  const server = pki
    ? tls.createServer({ cert: readFileSync(pki.cert), key: readFileSync(pki.key) }, answerAcks)
    : net.createServer(answerAcks);
  server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${(server.address() as net.AddressInfo).port}\n`));
}

async function runGateway(upstreamPort: number, pki: Pki | undefined): Promise<void> {
  const app = await startApp({
    logger: pino({ level: 'silent' }),
    upstream: new URL(`${pki ? 'https' : 'http'}://127.0.0.1:${upstreamPort}`),
    ...(pki && {
      upstreamTls: { ca: readFileSync(pki.ca), servername: 'bench.example' },
      tls: { credentials: { default: { certFile: pki.cert, keyFile: pki.key } }, watchIntervalMs: 0 },
    }),
    listen: { host: '127.0.0.1', port: 0 },
    // Tracker, metrics and dashboard on (its own free port), as shipped, in both cases; unlike the
    // product as shipped the log is silenced and no dashboard client is connected.
    dashboard: { host: '127.0.0.1', port: 0 },
  });
  process.stdout.write(`PORT ${app.gateway.address.port}\n`);
}

// ---------------------------------------------------------------- load generator

function spawnRole(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', here, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
}

function connect(port: number, pki: Pki | undefined): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s: net.Socket = pki
      ? tls.connect({ port, host: '127.0.0.1', ca: readFileSync(pki.ca), servername: 'bench.example' }, () => resolve(s))
      : net.connect(port, '127.0.0.1', () => resolve(s));
    s.setNoDelay(true);
    s.once('error', reject);
  });
}

/** Resolves when `n` complete Acks arrived on the socket. */
function acks(socket: net.Socket, n: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    let tail = '';
    const onData = (d: Buffer) => {
      const text = tail + d.toString('latin1');
      let i = -1;
      while ((i = text.indexOf('\r\n\r\n', i + 1)) >= 0) seen++;
      tail = text.slice(-3);
      if (seen >= n) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
  });
}

async function fragmentMiBs(port: number, pki: Pki | undefined, mb: number): Promise<number> {
  const socket = await connect(port, pki);
  const bytes = mb * 1024 * 1024;
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const head = `BITS_POST /up/f.bin HTTP/1.1\r\nHost: bench.example\r\nBITS-Packet-Type: Fragment\r\nBITS-Session-Id: {0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}\r\nContent-Range: bytes 0-${bytes - 1}/${bytes}\r\nContent-Length: ${bytes}\r\n\r\n`;
  const done = acks(socket, 1);
  const start = process.hrtime.bigint();
  socket.write(head);
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  }
  await done;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  socket.destroy();
  return mb / seconds;
}

async function pingsPerSecond(port: number, pki: Pki | undefined, connections: number, seconds: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => connect(port, pki)));
  let count = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(sockets.map(async (s) => {
    while (Date.now() < deadline) {
      const got = acks(s, 1);
      s.write(PING);
      await got;
      count++;
    }
  }));
  for (const s of sockets) s.destroy();
  return count / seconds;
}

async function connectionsPerSecond(port: number, pki: Pki | undefined, seconds: number): Promise<number> {
  let count = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (Date.now() < deadline) {
      const s = await connect(port, pki);
      const got = acks(s, 1);
      s.write(PING);
      await got;
      s.destroy();
      count++;
    }
  }));
  return count / seconds;
}

async function main(): Promise<void> {
  const mb = Number(process.env.BENCH_TLS_MB ?? 256);
  const rounds = Number(process.env.BENCH_TLS_ROUNDS ?? 2);
  const testPki = new TestPki();
  const leaf = testPki.leaf(['bench.example', '127.0.0.1'], { file: 'bench' });
  const pki: Pki = { dir: testPki.dir, ca: testPki.caFile, cert: leaf.certFile, key: leaf.keyFile };
  const children: ChildProcess[] = [];
  const stack = async (secure: boolean) => {
    const up = await spawnRole(['upstream', secure ? JSON.stringify(pki) : '']);
    const gw = await spawnRole(['gateway', String(up.port), secure ? JSON.stringify(pki) : '']);
    children.push(up.child, gw.child);
    return gw.port;
  };
  try {
    const plainPort = await stack(false);
    const tlsPort = await stack(true);
    const best = { frag: [0, 0], ping: [0, 0], conn: [0, 0] };
    for (let r = 0; r < rounds; r++) {
      for (const [i, port, p] of [[0, plainPort, undefined], [1, tlsPort, pki]] as const) {
        best.frag[i] = Math.max(best.frag[i]!, await fragmentMiBs(port, p, mb));
        best.ping[i] = Math.max(best.ping[i]!, await pingsPerSecond(port, p, 16, 2));
        best.conn[i] = Math.max(best.conn[i]!, await connectionsPerSecond(port, p, 2));
      }
    }
    const line = (what: string, [plain, secure]: number[], unit: string) =>
      console.log(`${what.padEnd(44)} ${(secure! / plain!).toFixed(2)}  (${secure!.toFixed(0)} vs ${plain!.toFixed(0)} ${unit})`);
    console.log(`TLS both sides / plain gateway, both with tracker, metrics and dashboard, log silenced (best of ${rounds} alternating rounds; TLS 1.3, P-256, AES-GCM)`);
    line(`(a) one ${mb} MiB fragment`, best.frag, 'MiB/s');
    line('(b) Ping/s, 16 kept-alive connections', best.ping, '/s');
    line('(c) new connections/s (handshakes both sides)', best.conn, '/s');
  } finally {
    for (const c of children) c.kill();
    testPki.remove();
  }
}

const [role, arg1, arg2] = process.argv.slice(2);
if (role === 'upstream') runUpstream(arg1 ? (JSON.parse(arg1) as Pki) : undefined);
else if (role === 'gateway') void runGateway(Number(arg1), arg2 ? (JSON.parse(arg2) as Pki) : undefined);
else await main();
