/**
 * `npm run bench -- reliability`: the fuzz and restart figures of issue 15 (the memory figures
 * are `npm run bench -- memory`). Loopback only, bounded in inputs and in time.
 *
 *  fuzz     the gateway as the product runs it (`bitsgate --root DIR`: the gateway command's
 *           own option parser and startFromOptions, embedded BITS server, log, tracker,
 *           dashboard), in a child process. The load generator sends fuzzed inputs, one per
 *           raw net.Socket, FUZZ_CONCURRENCY at a time: valid BITS_POST heads mutated (byte
 *           flips, inserted CR/LF/NUL, duplicated or contradicting Content-Length and
 *           Transfer-Encoding, header values up to 64 KiB, random methods incl. CONNECT,
 *           truncated heads, random bodies), each followed by a half-close. Every connection
 *           must be answered or closed within FUZZ_DEADLINE ms (else: a hang); the child must
 *           stay alive (else: a crash) and answer a valid Ping at the end.
 *  restart  RESTART_UPLOADS concurrent uploads by our client (uploadFile, 256 KiB files,
 *           32 KiB fragments, retry bounded to 60 s without progress) through a gateway child
 *           in front of one BITS server (startBitsServer, in this process). The gateway child is
 *           killed (SIGKILL) and started again on the same port twice, at 1/3 and 2/3 of the
 *           bytes. Every file must arrive byte-identical; the violations each new gateway
 *           process reports are counted by severity (server-acknowledged sessions it never saw
 *           are adopted at `info`, so legitimate uploads give no warning and no error).
 *
 * Options (env): BENCH_FUZZ_INPUTS (default 60000), BENCH_FUZZ_SECONDS (time cap, default 90),
 * BENCH_FUZZ_CONCURRENCY (32), BENCH_FUZZ_DEADLINE_MS (5000), BENCH_FUZZ_SEED (1),
 * BENCH_RESTART_UPLOADS (200), BENCH_RESTART_KIB (256), BENCH_RELIABILITY_ONLY=fuzz|restart.
 * Exits non-zero when a hang, a crash, a failed upload or a warning/error is found.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const FUZZ_INPUTS = env('BENCH_FUZZ_INPUTS', 60_000);
const FUZZ_SECONDS = env('BENCH_FUZZ_SECONDS', 90);
const FUZZ_CONCURRENCY = env('BENCH_FUZZ_CONCURRENCY', 32);
const FUZZ_DEADLINE_MS = env('BENCH_FUZZ_DEADLINE_MS', 5000);
const FUZZ_SEED = env('BENCH_FUZZ_SEED', 1);
const RESTART_UPLOADS = env('BENCH_RESTART_UPLOADS', 200);
const RESTART_KIB = env('BENCH_RESTART_KIB', 256);
const ONLY = process.env.BENCH_RELIABILITY_ONLY;
const MiB = 2 ** 20;

// ------------------------------------------------------------------ the gateway child

interface ChildStats {
  rss: number;
  violations: Array<{ code: string; severity: string }>;
  violationsByCode: Record<string, number>;
}
type ChildMessage = { ready?: { port: number } } | ({ id: number } & ChildStats);

async function runGatewayChild(args: string[]): Promise<void> {
  const { parseGatewayArgs, startFromOptions } = await import('../src/commands/gateway.js');
  const { createLogger } = await import('../src/sinks/logger.js');
  const opts = parseGatewayArgs(args);
  // As shipped: JSON lines at the default level on stdout, drained by the parent.
  const app = await startFromOptions(opts, createLogger({ level: opts.logLevel, pretty: false }));
  process.send!({ ready: { port: app.gateway.address.port } });
  process.on('message', (m: { id: number }) => {
    process.send!({
      id: m.id,
      rss: process.memoryUsage.rss(),
      violations: app.tracker.recentViolations().map((v) => ({ code: v.code, severity: v.severity })),
      violationsByCode: app.tracker.stats().violationsByCode,
    });
  });
  process.on('disconnect', () => process.exit(0));
}

interface Gw {
  child: ChildProcess;
  port: number;
  exited: boolean;
  exitInfo?: string;
}

function spawnGateway(args: string[]): Promise<Gw> {
  const child = fork(here, ['gateway-child', ...args], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const gw: Gw = { child, port: 0, exited: false };
  child.stdout!.resume();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 20_000) stderr += d.toString(); });
  child.once('exit', (code, signal) => {
    gw.exited = true;
    gw.exitInfo = `code ${code} signal ${signal}; stderr: ${stderr.slice(-2000)}`;
  });
  return new Promise((resolve, reject) => {
    child.on('message', (m: ChildMessage) => {
      if ('ready' in m && m.ready) { gw.port = m.ready.port; resolve(gw); }
    });
    child.once('exit', () => reject(new Error(`gateway child exited before ready: ${gw.exitInfo}`)));
  });
}

let nextId = 1;
function childStats(gw: Gw): Promise<ChildStats> {
  const id = nextId++;
  return new Promise((resolve) => {
    const on = (m: ChildMessage) => {
      if (!('id' in m) || m.id !== id) return;
      gw.child.off('message', on);
      resolve(m);
    };
    gw.child.on('message', on);
    gw.child.send({ id });
  });
}

async function stopGateway(gw: Gw, signal: NodeJS.Signals): Promise<void> {
  if (gw.exited) return;
  const gone = new Promise((r) => gw.child.once('exit', r));
  gw.child.kill(signal);
  await gone;
}

// ------------------------------------------------------------------ fuzzed inputs

/** xorshift32: the same seed gives the same inputs (a failure can be replayed). */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

const GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';
const METHODS = ['BITS_POST', 'BITS_POST', 'BITS_POST', 'POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS',
  'CONNECT', 'TRACE', 'PATCH', 'bits_post', 'BITS_POS', 'BITS_POST\0', 'X'.repeat(300), ''];

function validRequest(r: Rng): { head: string[]; body: Buffer } {
  const path = `/fuzz/${r.pick(['a.bin', 'dir/b.bin', '%2e%2e/c.bin', 'x?y=1', 'reply/d.bin', '☃.bin'])}`;
  const lines = [`BITS_POST ${path} HTTP/1.1`, 'Host: fuzz.example'];
  let body: Buffer = Buffer.alloc(0);
  switch (r.int(5)) {
    case 0: lines.push('BITS-Packet-Type: Ping', 'Content-Length: 0'); break;
    case 1: lines.push('BITS-Packet-Type: Create-Session', `BITS-Supported-Protocols: ${GUID}`, 'Content-Length: 0'); break;
    case 2: {
      body = randomBytesFrom(r, 1 + r.int(2048));
      const total = body.length + r.int(4096);
      lines.push('BITS-Packet-Type: Fragment', `BITS-Session-Id: {${hex(r, 8)}-0000-0000-0000-000000000000}`,
        `Content-Range: bytes 0-${body.length - 1}/${total}`, `Content-Length: ${body.length}`);
      break;
    }
    case 3: lines.push('BITS-Packet-Type: Close-Session', `BITS-Session-Id: {${hex(r, 8)}}`, 'Content-Length: 0'); break;
    default: lines.push('BITS-Packet-Type: Cancel-Session', `BITS-Session-Id: {${hex(r, 8)}}`, 'Content-Length: 0');
  }
  return { head: lines, body };
}

function hex(r: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[r.int(16)];
  return s;
}
function randomBytesFrom(r: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  return b;
}

/** One fuzzed input: the bytes to write (then the client half-closes) and what was done. */
export function fuzzInput(r: Rng): { bytes: Buffer; kind: string } {
  const { head, body: validBody } = validRequest(r);
  let body: Buffer = validBody;
  const kinds: string[] = [];
  const mutations = 1 + r.int(3);
  for (let m = 0; m < mutations; m++) {
    const k = r.int(10);
    switch (k) {
      case 0: { // random method
        const parts = head[0]!.split(' ');
        parts[0] = r.pick(METHODS);
        head[0] = parts.join(' ');
        kinds.push('method');
        break;
      }
      case 1: // duplicated / contradicting Content-Length
        head.splice(1 + r.int(head.length), 0, `Content-Length: ${r.pick(['0', '5', '-1', '99999999999999999999', '1, 2', ' 7 ', '0x10', String(body.length + 1)])}`);
        kinds.push('content-length');
        break;
      case 2: // Transfer-Encoding beside or instead of Content-Length
        head.splice(1 + r.int(head.length), 0, `Transfer-Encoding: ${r.pick(['chunked', 'gzip, chunked', 'chunked, identity', 'xchunked', ' chunked', 'CHUNKED'])}`);
        if (r.int(2)) body = Buffer.concat([Buffer.from(`${r.pick(['5', 'ffffffffffffffff', 'zz', '0'])}\r\nhello\r\n0\r\n\r\n`), body]);
        kinds.push('transfer-encoding');
        break;
      case 3: // huge header value, up to 64 KiB (and a little beyond)
        head.splice(1 + r.int(head.length), 0, `X-Big: ${'b'.repeat(r.int(66_000))}`);
        kinds.push('huge-header');
        break;
      case 4: // version / request line oddities
        head[0] = r.pick([head[0]!.replace('HTTP/1.1', 'HTTP/1.0'), head[0]!.replace('HTTP/1.1', 'HTTP/2.0'),
          head[0]!.replace(' HTTP/1.1', ''), head[0]!.replace('/fuzz', 'http://other.example/fuzz'),
          head[0]!.replace('/fuzz', '*'), `${head[0]} extra`]);
        kinds.push('request-line');
        break;
      case 5: // obsolete folding, header without colon, empty name
        head.splice(1 + r.int(head.length), 0, r.pick([' folded', 'NoColon', ': empty-name', 'X-Sp ace: 1', 'Host: second.example', 'Expect: 100-continue', 'Connection: close', 'Upgrade: websocket']));
        kinds.push('header-line');
        break;
      default:
        kinds.push('bytes');
    }
  }
  let bytes = Buffer.from(head.join('\r\n') + '\r\n\r\n', 'latin1');
  // Byte-level damage: flips, inserted CR / LF / NUL, truncation.
  const damage = r.int(4);
  if (kinds.includes('bytes') || damage === 0) {
    const copy = Buffer.from(bytes);
    const n = 1 + r.int(4);
    const inserts: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      const at = r.int(copy.length);
      if (r.int(2)) copy[at] = copy[at]! ^ (1 << r.int(8));
      else inserts.push([at, r.pick([0x0d, 0x0a, 0x00, 0x20, 0x3a, 0x7f, 0xff])]);
    }
    bytes = copy;
    for (const [at, byte] of inserts.sort((a, b) => b[0] - a[0])) {
      bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([byte]), bytes.subarray(at)]);
    }
    kinds.push('damaged');
  }
  if (r.int(8) === 0) { // truncated head (the half-close follows)
    bytes = bytes.subarray(0, r.int(bytes.length));
    return { bytes, kind: [...kinds, 'truncated'].join('+') };
  }
  if (r.int(6) === 0) body = Buffer.concat([body, randomBytesFrom(r, r.int(4096))]);
  else if (r.int(6) === 0) body = body.subarray(0, r.int(body.length + 1));
  return { bytes: Buffer.concat([bytes, body]), kind: kinds.join('+') };
}

type Outcome = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'garbage' | 'closed' | 'hang' | 'connect-error';

/** Exact status codes seen, beside the classes (a 5xx is worth reading). */
const statusCodes: Record<string, number> = {};

function sendOne(port: number, bytes: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    let got: Buffer = Buffer.alloc(0);
    let done = false;
    const socket = net.connect(port, '127.0.0.1');
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish('hang'), FUZZ_DEADLINE_MS);
    socket.on('connect', () => { socket.end(bytes); });
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 12) return;
      const m = /^HTTP\/1\.[01] (([1-5])\d\d) /.exec(got.subarray(0, 16).toString('latin1'));
      if (m) statusCodes[m[1]!] = (statusCodes[m[1]!] ?? 0) + 1;
      finish(m ? (`${m[2]}xx` as Outcome) : 'garbage');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!socket.connecting && err.code !== 'EADDRNOTAVAIL' && err.code !== 'ECONNREFUSED') finish(got.length ? 'garbage' : 'closed');
      else finish(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'closed' : 'connect-error');
    });
    socket.on('close', () => finish(got.length ? 'garbage' : 'closed'));
  });
}

/** A valid Ping on a fresh connection: the status line. */
async function ping(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write('BITS_POST /fuzz/ping.bin HTTP/1.1\r\nHost: fuzz.example\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n');
    });
    let got = '';
    const t = setTimeout(() => { s.destroy(); resolve('no answer in 5 s'); }, 5000);
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) { clearTimeout(t); s.destroy(); resolve(got.slice(0, got.indexOf('\r\n'))); }
    });
    s.on('error', (e) => { clearTimeout(t); resolve(`error ${e.message}`); });
  });
}

async function fuzz(): Promise<boolean> {
  const root = mkdtempSync(join(tmpdir(), 'bitsgate-fuzz-'));
  const gw = await spawnGateway(['--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0', '--root', root]);
  const before = await childStats(gw);
  const r = rng(FUZZ_SEED);
  const counts: Record<string, number> = {};
  const hangs: Array<{ index: number; kind: string; head: string }> = [];
  let sent = 0;
  const started = Date.now();
  const stopAt = started + FUZZ_SECONDS * 1000;
  let progressAt = started + 10_000;
  const worker = async () => {
    while (sent < FUZZ_INPUTS && Date.now() < stopAt && !gw.exited) {
      const index = sent++;
      const input = fuzzInput(r);
      const outcome = await sendOne(gw.port, input.bytes);
      counts[outcome] = (counts[outcome] ?? 0) + 1;
      if (outcome === 'hang' && hangs.length < 20) {
        hangs.push({ index, kind: input.kind, head: JSON.stringify(input.bytes.subarray(0, 300).toString('latin1')) });
      }
      if (Date.now() > progressAt) {
        progressAt += 10_000;
        console.log(`  ... ${sent} inputs, ${((Date.now() - started) / 1000).toFixed(0)} s`);
      }
    }
  };
  await Promise.all(Array.from({ length: FUZZ_CONCURRENCY }, worker));
  const seconds = (Date.now() - started) / 1000;
  const crashed = gw.exited;
  const pingAfter = crashed ? 'process gone' : await ping(gw.port);
  const after = crashed ? undefined : await childStats(gw);
  const done = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(`fuzz: ${done} inputs in ${seconds.toFixed(1)} s = ${(done / seconds).toFixed(0)} inputs/s ` +
    `(concurrency ${FUZZ_CONCURRENCY}, deadline ${FUZZ_DEADLINE_MS} ms, seed ${FUZZ_SEED})`);
  console.log(`  outcomes: ${Object.entries(counts).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  status codes: ${Object.entries(statusCodes).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  hangs: ${counts.hang ?? 0}; crashes: ${crashed ? 1 : 0}${crashed ? ` (${gw.exitInfo})` : ''}`);
  for (const h of hangs) console.log(`  hang #${h.index} [${h.kind}]: ${h.head}`);
  console.log(`  valid Ping afterwards: ${pingAfter}`);
  console.log(`  gateway RSS: ${(before.rss / MiB).toFixed(0)} MiB before, ${after ? (after.rss / MiB).toFixed(0) : '-'} MiB after`);
  await stopGateway(gw, 'SIGTERM');
  rmSync(root, { recursive: true, force: true });
  return !crashed && !counts.hang && pingAfter.startsWith('HTTP/1.1 200');
}

// ------------------------------------------------------------------ restart

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function bySeverity(v: ChildStats['violations']): string {
  const sev: Record<string, number> = {};
  const codes: Record<string, number> = {};
  for (const x of v) {
    sev[x.severity] = (sev[x.severity] ?? 0) + 1;
    const key = `${x.code}/${x.severity}`;
    codes[key] = (codes[key] ?? 0) + 1;
  }
  return `${JSON.stringify(sev)} ${JSON.stringify(codes)}`;
}

async function restart(): Promise<boolean> {
  const { startBitsServer } = await import('../src/server/index.js');
  const { uploadFile } = await import('../src/client/upload-client.js');
  const work = mkdtempSync(join(tmpdir(), 'bitsgate-restart-'));
  const root = join(work, 'root');
  const src = join(work, 'src');
  mkdirSync(src);
  const server = await startBitsServer({ root, listen: { host: '127.0.0.1', port: 0 } });
  const port = await freePort();
  const args = ['--upstream', server.url, '--listen', `127.0.0.1:${port}`, '--no-dashboard'];
  let gw = await spawnGateway(args);
  const size = RESTART_KIB * 1024;
  const files = Array.from({ length: RESTART_UPLOADS }, (_, i) => {
    const path = join(src, `f${i}.bin`);
    writeFileSync(path, randomBytes(size));
    return path;
  });
  const total = size * files.length;
  const acked = new Array<number>(files.length).fill(0);
  let ackedSum = 0;
  const restarts: Array<Promise<void>> = [];
  const thresholds = [total / 3, (2 * total) / 3];
  const reports: string[] = [];
  let restarting = false;
  const maybeRestart = () => {
    if (restarting || !thresholds.length || ackedSum < thresholds[0]!) return;
    thresholds.shift();
    restarting = true;
    const n = reports.length + 1;
    restarts.push((async () => {
      const old = gw;
      // The process after the first restart reports what it saw before it is killed too.
      if (n > 1) reports.push(`  gateway process ${n} (started by restart ${n - 1}) before restart ${n}: ${bySeverity((await childStats(old)).violations)}`);
      else reports.push('');
      await stopGateway(old, 'SIGKILL');
      const at = ackedSum;
      gw = await spawnGateway(args);
      console.log(`  restart ${n}: gateway killed (SIGKILL) and started again on port ${port} at ${(at / MiB).toFixed(1)} of ${(total / MiB).toFixed(0)} MiB acknowledged`);
      restarting = false;
    })());
  };
  const started = Date.now();
  let retries = 0;
  const results = await Promise.allSettled(files.map((file, i) => uploadFile({
    url: `http://127.0.0.1:${port}/restart/f${i}.bin`,
    file,
    fragmentSize: 32 * 1024,
    retryForMs: 60_000,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
    idleTimeoutMs: 10_000,
    onWait: () => { retries++; },
    onProgress: (p) => {
      ackedSum += p.acked - acked[i]!;
      acked[i] = p.acked;
      maybeRestart();
    },
  })));
  await Promise.all(restarts);
  const seconds = (Date.now() - started) / 1000;
  const failed = results.filter((x) => x.status === 'rejected' || !x.value.closed);
  let identical = 0;
  const mismatched: string[] = [];
  files.forEach((file, i) => {
    let arrived: Buffer | undefined;
    try { arrived = readFileSync(join(root, 'restart', `f${i}.bin`)); } catch { /* missing */ }
    if (arrived && arrived.equals(readFileSync(file))) identical++;
    else mismatched.push(`f${i}.bin`);
  });
  const last = await childStats(gw);
  const lastSev = last.violations.filter((v) => v.severity === 'warning' || v.severity === 'error').length;
  const restartsDone = 2 - thresholds.length;
  console.log(`restart: ${files.length} uploads of ${RESTART_KIB} KiB (32 KiB fragments), ${restartsDone} gateway restarts, ${seconds.toFixed(1)} s, ${retries} client waits before a resend`);
  console.log(`  failed uploads: ${failed.length}${failed.length ? ` (${failed.slice(0, 5).map((f) => f.status === 'rejected' ? String(f.reason) : 'not closed').join('; ')})` : ''}`);
  console.log(`  byte-identical at the server: ${identical} / ${files.length}${mismatched.length ? ` (not: ${mismatched.slice(0, 10).join(', ')})` : ''}`);
  for (const line of reports.filter(Boolean)) console.log(line);
  console.log(`  gateway process ${restartsDone + 1} (after the last restart), violations by severity: ${bySeverity(last.violations)}`);
  await stopGateway(gw, 'SIGTERM');
  await server.close();
  rmSync(work, { recursive: true, force: true });
  const warned = reports.some((l) => /"(warning|error)"/.test(l)) || lastSev > 0;
  return failed.length === 0 && identical === files.length && !warned && restartsDone === 2;
}

// ------------------------------------------------------------------ main

if (process.argv[2] === 'gateway-child') {
  await runGatewayChild(process.argv.slice(3));
} else {
  let ok = true;
  if (ONLY !== 'restart') ok = (await fuzz()) && ok;
  if (ONLY !== 'fuzz') ok = (await restart()) && ok;
  process.exit(ok ? 0 : 1);
}
