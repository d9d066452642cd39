/**
 * Memory bound (issue 15.1): heap and RSS of the product path (tracker + inspector + event
 * bus + dashboard hub + metrics + event log, wired by startApp exactly as the gateway runs
 * them), each figure against a baseline measured in the same run: a fresh process holding
 * the same number of live sessions.
 *
 *  fresh     100 000 live sessions (Create-Session + one Fragment each, small headers)
 *  churn     the same after 300 000 more sessions were evicted (400 000 created in all)
 *  big       400 000 Create-Sessions each carrying one 60 KB header (as a hostile client sends)
 *  gateway   a running gateway on loopback, in a child process, sent BENCH_MEMORY_REQUESTS real
 *            BITS_POST Create-Session requests with 60 KB headers over 8 connections; checks
 *            that it stays alive and under the bound; baseline: the same count with small heads
 *
 * Observations fed in-process are built the way the listener builds them (latin1 lines cut from
 * a Buffer, values sliced from their line), so their strings cost what the gateway's cost.
 * Every measurement runs in its own process; figures after two full GCs.
 *
 *   npm run bench -- memory
 *   BENCH_MEMORY_REQUESTS=20000 npm run bench -- memory
 */
import { fork, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startApp, type App } from '../src/app.js';
import { Inspector } from '../src/inspector.js';
import type { HeaderList, Observation } from '../src/observation.js';
import { TRACKER_DEFAULTS } from '../src/sessions/tracker.js';

const GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';
const LIVE = Number(process.env.BENCH_MEMORY_LIVE ?? 100_000);
const CHURNED = 3 * LIVE;
const BIG_HEADER = 60_000;
const REQUESTS = Number(process.env.BENCH_MEMORY_REQUESTS ?? 30_000);
const GATEWAY_SECONDS = Number(process.env.BENCH_MEMORY_SECONDS ?? 240);
/**
 * The loopback gateway runs with a smaller tracker budget so that a bounded run (a few
 * thousand 60 KB requests/s at best on loopback) reaches it; the in-process runs use the default.
 */
const GATEWAY_BUDGET = Number(process.env.BENCH_MEMORY_GATEWAY_BUDGET ?? 32 * 2 ** 20);
const CONNECTIONS = 8;
const MiB = 2 ** 20;

interface Figures {
  heapMiB: number;
  rssMiB: number;
  peakRssMiB: number;
  trackerMiB: number;
  sessions: number;
  evicted: number;
  requests?: number;
  seconds?: number;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) { g(); g(); }
}

function figures(app: App, extra: Partial<Figures> = {}): Figures {
  gc();
  const m = process.memoryUsage();
  const stats = app.tracker.stats();
  let sessions = 0;
  for (const [state, n] of Object.entries(stats.sessionsByState)) if (state !== 'evicted') sessions += n;
  return {
    heapMiB: m.heapUsed / MiB,
    rssMiB: m.rss / MiB,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    trackerMiB: app.tracker.retainedBytes / MiB,
    sessions,
    evicted: stats.sessionsByState.evicted,
    ...extra,
  };
}

const logDestination = pino.destination({ dest: '/dev/null', sync: false });
const logger = pino({ level: 'warn' }, logDestination);

/** The whole app as the gateway command starts it; logs at warn (evictions) into /dev/null. */
function start(upstream: URL, maxSessionMemory?: number): Promise<App> {
  return startApp({
    upstream,
    listen: { host: '127.0.0.1', port: 0 },
    dashboard: { host: '127.0.0.1', port: 0 },
    tracker: { maxSessions: LIVE, ...(maxSessionMemory ? { maxSessionMemory } : {}) },
    logger,
  });
}

/**
 * Log lines not written yet are not what the tracker holds: measure once they are out.
 * (pino's async destination buffers without limit while the log is slower than the evictions
 * it reports: a burst of 300 000 'session evicted' lines is ~20 MiB until written.)
 */
async function drainLog(): Promise<void> {
  const d = logDestination as unknown as { _len: number; _writing: boolean };
  for (let i = 0; i < 3000 && (d._len > 0 || d._writing); i++) await new Promise((r) => setTimeout(r, 10));
}

// ------------------------------------------------------------------ in-process variants

/** Header fields as the listener makes them: one latin1 string per line, name and value sliced from it. */
function wireHeaders(fields: Array<[string, string]>, padBytes = 0): HeaderList {
  const head = fields.map(([n, v]) => `${n}: ${v}`).join('\r\n');
  const lengths = fields.map(([n, v]) => n.length + 2 + v.length);
  // The big header is written into the buffer directly: no 60 KB JS string besides the line.
  const buf = Buffer.allocUnsafe(head.length + (padBytes ? 9 + padBytes : 0));
  buf.write(head, 'latin1');
  if (padBytes) {
    buf.write('\r\nX-Pad: ', head.length, 'latin1');
    buf.fill(0x70, head.length + 9);
    lengths.push(7 + padBytes);
  }
  const out: Array<readonly [string, string]> = [];
  let at = 0;
  for (const len of lengths) {
    const line = buf.toString('latin1', at, at + len);
    at += len + 2;
    const colon = line.indexOf(':');
    out.push([line.slice(0, colon), line.slice(colon + 2)]);
  }
  return out;
}

let nextId = 1;
function observation(i: number, url: string, req: HeaderList, status: number, res: HeaderList, body = 0): Observation {
  const t = 1_700_000_000_000 + i;
  return {
    id: nextId++, connectionId: 1 + (i % 64), client: { address: '10.0.0.1', port: 50_000 }, method: 'BITS_POST', url, httpVersion: '1.1',
    requestHeaders: req, startedAt: t, requestBodyBytes: body, status, responseHeaders: res, responseBodyBytes: 0,
    respondedAt: t, endedAt: t, responder: 'upstream',
  };
}

function sessionId(i: number): string {
  return `{${i.toString(16).padStart(8, '0')}-6d1c-4b3a-9d3e-31e8c1b7a5d0}`;
}

/** One upload in progress: Create-Session (optionally with one big header) and one Fragment. */
function feedSession(inspector: Inspector, i: number, bigHeader: boolean, fragment: boolean): void {
  const url = `/uploads/client-${i}/report.zip`;
  const sid = sessionId(i);
  const create: Array<[string, string]> = [['Host', 'files.example.com'], ['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']];
  const c = observation(i, url, wireHeaders(create, bigHeader ? BIG_HEADER : 0), 201, wireHeaders([['BITS-Packet-Type', 'Ack'], ['BITS-Protocol', GUID], ['BITS-Session-Id', sid], ['Content-Length', '0']]));
  inspector.onExchangeStart(c);
  inspector.onObservation(c);
  if (!fragment) return;
  const f = observation(i, url, wireHeaders([['Host', 'files.example.com'], ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid], ['Content-Name', 'report.zip'],
    ['Content-Range', 'bytes 0-1048575/8388608'], ['Content-Length', '1048576']]), 200,
  wireHeaders([['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', sid], ['BITS-Received-Content-Range', '1048576'], ['Content-Length', '0']]), 1_048_576);
  inspector.onExchangeStart(f);
  inspector.onObservation(f);
}

async function inProcess(sessions: number, bigHeader: boolean): Promise<Figures> {
  // Nothing is forwarded in this variant: the upstream is never contacted.
  const app = await start(new URL('http://127.0.0.1:9'));
  const inspector = new Inspector(app.tracker, app.bus);
  for (let i = 0; i < sessions; i++) {
    feedSession(inspector, i, bigHeader, !bigHeader);
    // Let the hub's flush and the logger run, as they would between requests.
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  await drainLog();
  const f = figures(app);
  await app.close();
  return f;
}

// ------------------------------------------------------------------ the gateway on loopback

/** A minimal BITS upstream: every request head gets an Ack with a fresh session id. */
async function startAckUpstream(): Promise<{ url: URL; close(): void }> {
  let n = 0;
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
        buf = buf.slice(end + 4);
        const sid = `{${(n++).toString(16).padStart(8, '0')}-0000-4000-8000-000000000000}`;
        socket.write(`HTTP/1.1 201 Created\r\nBITS-Packet-Type: Ack\r\nBITS-Protocol: ${GUID}\r\nBITS-Session-Id: ${sid}\r\nContent-Length: 0\r\n\r\n`);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return { url: new URL(`http://127.0.0.1:${port}`), close: () => server.close() };
}

/** Sends `count` Create-Sessions over CONNECTIONS kept-alive sockets, one request in flight each. */
async function load(gateway: URL, count: number, bigHeader: boolean, deadline: number): Promise<number> {
  let sent = 0;
  let answered = 0;
  const pad = bigHeader ? `X-Pad: ${'p'.repeat(BIG_HEADER)}\r\n` : '';
  const head = (i: number) => Buffer.from(`BITS_POST /uploads/c${i}/f.bin HTTP/1.1\r\nHost: ${gateway.host}\r\nBITS-Packet-Type: Create-Session\r\n` +
    `BITS-Supported-Protocols: ${GUID}\r\nContent-Length: 0\r\n${pad}\r\n`, 'latin1');
  await Promise.all(Array.from({ length: CONNECTIONS }, () => new Promise<void>((resolve, reject) => {
    const socket = net.connect(Number(gateway.port), gateway.hostname);
    let buf = '';
    const next = () => {
      if (sent >= count || Date.now() > deadline) { socket.end(); resolve(); return; }
      socket.write(head(sent++));
    };
    socket.on('connect', next);
    socket.on('error', reject);
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
        if (!buf.startsWith('HTTP/1.1 201')) { reject(new Error(`unexpected answer ${buf.slice(0, 40)}`)); return; }
        buf = buf.slice(end + 4);
        answered++;
        next();
      }
    });
  })));
  return answered;
}

type ChildMessage = { type: 'ready'; url: string } | { type: 'figures'; figures: Figures };

async function throughGateway(bigHeader: boolean): Promise<Figures> {
  const upstream = await startAckUpstream();
  const child = fork(fileURLToPath(import.meta.url), ['gateway-child', upstream.url.href], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let exited: string | undefined;
  child.on('exit', (code, signal) => { exited = `exited with ${code ?? signal}`; });
  const next = () => new Promise<ChildMessage>((resolve, reject) => {
    child.once('message', (m) => resolve(m as ChildMessage));
    child.once('exit', () => reject(new Error(`gateway ${exited}`)));
  });
  const ready = await next();
  if (ready.type !== 'ready') throw new Error('gateway did not start');
  const t0 = Date.now();
  const answered = await load(new URL(ready.url), REQUESTS, bigHeader, t0 + GATEWAY_SECONDS * 1000);
  const seconds = (Date.now() - t0) / 1000;
  child.send('figures');
  const m = await next();
  if (m.type !== 'figures') throw new Error('no figures');
  const alive = exited === undefined;
  child.kill('SIGTERM');
  await once(child, 'exit');
  upstream.close();
  if (!alive) throw new Error(`gateway ${exited}`);
  return { ...m.figures, requests: answered, seconds };
}

async function gatewayChild(upstream: string): Promise<void> {
  const app = await start(new URL(upstream), GATEWAY_BUDGET);
  process.on('message', () => {
    void drainLog().then(() => process.send!({ type: 'figures', figures: figures(app) } satisfies ChildMessage));
  });
  process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)); });
  process.send!({ type: 'ready', url: app.gateway.url } satisfies ChildMessage);
}

// ------------------------------------------------------------------ driver

const VARIANTS: Record<string, () => Promise<Figures>> = {
  fresh: () => inProcess(LIVE, false),
  churn: () => inProcess(LIVE + CHURNED, false),
  big: () => inProcess(LIVE + CHURNED, true),
  'gateway-small': () => throughGateway(false),
  'gateway-big': () => throughGateway(true),
};

const [variant, arg] = process.argv.slice(2);
if (variant === 'gateway-child') {
  await gatewayChild(arg!);
} else if (variant) {
  const run = VARIANTS[variant];
  if (!run) throw new Error(`unknown variant ${variant}`);
  process.stdout.write(JSON.stringify(await run()) + '\n');
  process.exit(0);
} else {
  const measure = (name: string): Figures => {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) throw new Error(`variant ${name} failed (${r.status ?? r.signal})`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Figures;
  };
  const budget = TRACKER_DEFAULTS.maxSessionMemory / MiB;
  const mb = (n: number) => n.toFixed(0).padStart(5);
  const line = (label: string, f: Figures, base?: Figures) =>
    console.log(`${label.padEnd(44)} heap ${mb(f.heapMiB)} MiB  RSS ${mb(f.rssMiB)} MiB (peak ${mb(f.peakRssMiB)})  tracker ${mb(f.trackerMiB)} MiB  ` +
      `${f.sessions.toLocaleString('en-US')} live, ${f.evicted.toLocaleString('en-US')} evicted` +
      (base ? `  heap x${(f.heapMiB / base.heapMiB).toFixed(2)}, RSS x${(f.rssMiB / base.rssMiB).toFixed(2)} of baseline` : '') +
      (f.requests !== undefined ? `  ${f.requests.toLocaleString('en-US')} requests in ${f.seconds!.toFixed(0)} s` : ''));
  console.log(`tracker budget (maxSessionMemory): ${budget} MiB; maxSessions ${TRACKER_DEFAULTS.maxSessions.toLocaleString('en-US')}`);
  const n = (x: number) => x.toLocaleString('en-US');
  const fresh = measure('fresh');
  line(`baseline: fresh, ${n(LIVE)} live sessions`, fresh);
  const churn = measure('churn');
  line(`after churn (+${n(CHURNED)} evicted)`, churn, fresh);
  const big = measure('big');
  line(`${n(LIVE + CHURNED)} Create-Sessions, 60 KB header each`, big, fresh);
  const inBound = (f: Figures, b: number) => f.trackerMiB <= b && f.heapMiB <= 2 * b + 100;
  console.log(`in-process: tracker <= ${budget} MiB and heap <= ${2 * budget + 100} MiB (2 x budget + 100 MiB): ` +
    `${inBound(churn, budget) && inBound(big, budget) ? 'OK' : 'ABOVE BOUND'}`);
  const gBudget = GATEWAY_BUDGET / MiB;
  console.log(`gateway on loopback, --max-session-memory ${gBudget}MiB, ${CONNECTIONS} connections:`);
  const small = measure('gateway-small');
  line(`baseline: small Create-Sessions`, small);
  const flood = measure('gateway-big');
  line(`Create-Sessions with 60 KB heads`, flood, small);
  console.log(`gateway alive after the 60 KB flood; tracker ${flood.trackerMiB.toFixed(0)} <= ${gBudget} MiB and heap ${flood.heapMiB.toFixed(0)} <= ${2 * gBudget + 100} MiB: ${inBound(flood, gBudget) ? 'OK' : 'ABOVE BOUND'}`);
}
