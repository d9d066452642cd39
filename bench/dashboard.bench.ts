/**
 * Dashboard benchmark (issue 6).
 *  1. Events/s delivered to 10 WebSocket clients through the hub, against a baseline in the
 *     same run: a bare ws broadcast (one JSON.stringify + send per event per client, no
 *     batching, no queue). Target >= 20000 events/s.
 *  2. Server memory with one stalled client (and one healthy one) while events flow, over
 *     BENCH_DASHBOARD_STALL_SECONDS (default 60). Target: flat.
 * The clients run in a child process so they do not share the server's event loop.
 *   npm run bench -- dashboard
 *   BENCH_DASHBOARD_STALL_SECONDS=10 BENCH_DASHBOARD_EVENTS=100000 npm run bench -- dashboard
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { startDashboard } from '../src/dashboard/server.js';
import type { BitsEvent } from '../src/sessions/events.js';
import { FakeSource, packet, summary } from '../test/dashboard/fake-source.js';

const CLIENTS = 10;
const EVENTS = Number(process.env.BENCH_DASHBOARD_EVENTS ?? 200_000);
const STALL_SECONDS = Number(process.env.BENCH_DASHBOARD_STALL_SECONDS ?? 60);
const STALL_RATE = Number(process.env.BENCH_DASHBOARD_STALL_RATE ?? 5_000); // events/s during the stall test

// ---------------------------------------------------------------- child: the clients
if (process.argv[2] === 'clients') {
  const [, , , url, countStr, mode] = process.argv;
  const n = Number(countStr);
  const counts = new Array<number>(n).fill(0);
  const sockets: WebSocket[] = [];
  let open = 0;
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(url!, { perMessageDeflate: false });
    sockets.push(ws);
    ws.on('open', () => {
      if (++open === n) process.send!({ type: 'ready' });
    });
    const stall = mode === 'stall' && i === 0;
    ws.on('message', (data) => {
      if (stall) {
        // Stop reading: the kernel buffers fill up and the server must cope.
        (ws as unknown as { _socket: { pause(): void } })._socket.pause();
        return;
      }
      if (mode === 'raw') {
        counts[i]!++;
        return;
      }
      // Every event carries exactly one "seq" key (summaries and packets have none): counting
      // them is cheaper than JSON.parse, so the child keeps up with ten clients.
      const text = data.toString();
      if (!text.startsWith('{"type":"events"')) return;
      for (let at = text.indexOf('"seq":'); at !== -1; at = text.indexOf('"seq":', at + 6)) counts[i]!++;
    });
  }
  process.on('message', (m: { type: string }) => {
    if (m.type === 'counts') process.send!({ type: 'counts', counts });
    if (m.type === 'exit') {
      for (const s of sockets) s.terminate();
      process.exit(0);
    }
  });
}

function startClients(url: string, n: number, mode: 'hub' | 'raw' | 'stall'): Promise<ChildProcess> {
  const child = fork(fileURLToPath(import.meta.url), ['clients', url, String(n), mode], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve) => child.once('message', () => resolve(child)));
}

function counts(child: ChildProcess): Promise<number[]> {
  return new Promise((resolve) => {
    const on = (m: { type: string; counts: number[] }) => {
      if (m.type === 'counts') {
        child.off('message', on);
        resolve(m.counts);
      }
    };
    child.on('message', on);
    child.send({ type: 'counts' });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mostly packets (never coalesced) plus session updates over 1000 sessions. */
function makeEvent(fake: FakeSource, i: number): void {
  if (i % 5 === 0) fake.emit({ type: 'session-updated', session: summary(`s${i % 1000}`, { ackedBytes: i }) });
  else fake.emit({ type: 'packet', sessionId: `s${i % 1000}`, packet: packet('fragment', { requestBytes: 65536 }) });
}

async function produce(total: number, emit: (i: number) => void): Promise<void> {
  const CHUNK = 500;
  for (let i = 0; i < total; i += CHUNK) {
    for (let j = i; j < Math.min(total, i + CHUNK); j++) emit(j);
    await new Promise((r) => setImmediate(r));
  }
}

/** Waits until every client has `expectedEach` events, or nothing arrived for a second. */
async function waitDelivered(child: ChildProcess, expectedEach: number): Promise<{ counts: number[]; at: number }> {
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const c = await counts(child);
    const sum = c.reduce((a, b) => a + b, 0);
    if (sum !== last) {
      last = sum;
      lastChange = performance.now();
    }
    if (c.every((x) => x >= expectedEach)) return { counts: c, at: performance.now() };
    if (performance.now() - lastChange > 1000) return { counts: c, at: lastChange };
    await sleep(10);
  }
}

async function throughputHub(): Promise<{ rate: number; delivered: number; resyncs: number; coalesced: number }> {
  const fake = new FakeSource();
  const d = await startDashboard({ listen: { host: '127.0.0.1', port: 0 }, source: fake, bus: fake.bus });
  const child = await startClients(`ws://127.0.0.1:${d.port}/events`, CLIENTS, 'hub');
  await sleep(200);
  const t0 = performance.now();
  // Coalescing may merge session-updated events when a client lags: count what arrives,
  // and wait for the packets (never merged) to be complete everywhere.
  const packets = EVENTS - Math.ceil(EVENTS / 5);
  await produce(EVENTS, (i) => makeEvent(fake, i));
  const { counts: c, at } = await waitDelivered(child, packets);
  const secs = (at - t0) / 1000;
  const delivered = c.reduce((a, b) => a + b, 0);
  const hub = d.hub.counts();
  child.send({ type: 'exit' });
  await d.close();
  return { rate: delivered / secs, delivered, resyncs: hub.resyncs, coalesced: hub.coalesced };
}

async function throughputBaseline(): Promise<{ rate: number; delivered: number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const port = (wss.address() as { port: number }).port;
  const fake = new FakeSource();
  fake.bus.subscribe((e: BitsEvent) => {
    for (const ws of wss.clients) ws.send(JSON.stringify({ type: 'events', events: [e] }));
  });
  const child = await startClients(`ws://127.0.0.1:${port}/`, CLIENTS, 'raw');
  await sleep(200);
  const t0 = performance.now();
  await produce(EVENTS, (i) => makeEvent(fake, i));
  const { counts: c, at } = await waitDelivered(child, EVENTS);
  const secs = (at - t0) / 1000;
  const delivered = c.reduce((a, b) => a + b, 0);
  child.send({ type: 'exit' });
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  return { rate: delivered / secs, delivered };
}

function heapMiB(): { heap: number; rss: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed / 2 ** 20, rss: m.rss / 2 ** 20 };
}

async function stalledMemory(): Promise<void> {
  const fake = new FakeSource();
  // FakeSource keeps every session timeline; cap what it remembers so only the hub is measured.
  const d = await startDashboard({
    listen: { host: '127.0.0.1', port: 0 }, source: fake, bus: fake.bus,
    hub: { heartbeatMs: (STALL_SECONDS + 60) * 1000 }, // keep the stalled client: measure the queue bound, not eviction
  });
  const stalled = await startClients(`ws://127.0.0.1:${d.port}/events`, 2, 'stall'); // client 0 stalls, client 1 is healthy
  const samples: Array<{ t: number; heap: number; rss: number }> = [];
  const start = Date.now();
  const load = startStallLoad(fake);
  const sampleEvery = Math.max(1000, (STALL_SECONDS * 1000) / 12);
  // Warm-up: the resume ring (10 000 events) fills first; memory is judged after it.
  const warmupMs = Math.max(3000, (10_000 / STALL_RATE) * 1000 + 1000);
  await sleep(warmupMs);
  const windowStart = Date.now();
  while (Date.now() - windowStart < STALL_SECONDS * 1000) {
    samples.push({ t: (Date.now() - start) / 1000, ...heapMiB() });
    await sleep(sampleEvery);
  }
  samples.push({ t: (Date.now() - start) / 1000, ...heapMiB() });
  load.stop();
  const c = await counts(stalled);
  const hub = d.hub.counts();
  stalled.send({ type: 'exit' });
  await d.close();
  const actualRate = Math.round(load.emitted / ((Date.now() - start) / 1000));
  console.log(`stalled client over ${STALL_SECONDS}s after ${(warmupMs / 1000).toFixed(0)}s warm-up, ` +
    `${load.emitted} events at ${actualRate} events/s (asked ${STALL_RATE}):`);
  for (const s of samples) console.log(`  t=${s.t.toFixed(0).padStart(3)}s  heapUsed ${s.heap.toFixed(1)} MiB  rss ${s.rss.toFixed(1)} MiB`);
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const maxHeap = Math.max(...samples.map((s) => s.heap));
  console.log(`  heap first ${first.heap.toFixed(1)} MiB, last ${last.heap.toFixed(1)} MiB, max ${maxHeap.toFixed(1)} MiB ` +
    `(last/first ${(last.heap / first.heap).toFixed(2)}x); hub resyncs ${hub.resyncs}, coalesced ${hub.coalesced}; ` +
    `healthy client received ${c[1]} events`);
}

/** Emits STALL_RATE events/s into `fake`: packets and updates of 1000 sessions, so the source's state stays bounded. */
function startStallLoad(fake: FakeSource): { readonly emitted: number; stop(): void } {
  let i = 0;
  const perTick = Math.max(1, Math.round(STALL_RATE / 100));
  const timer = setInterval(() => {
    for (let k = 0; k < perTick; k++, i++) {
      if (i % 5 === 0) fake.emit({ type: 'session-updated', session: summary(`s${i % 1000}`, { ackedBytes: i }) });
      else fake.emit({ type: 'packet', packet: packet('fragment', { requestBytes: 65536 }) });
    }
  }, 10);
  return { get emitted() { return i; }, stop: () => clearInterval(timer) };
}

/** Baseline for the stall test: a bare ws broadcast has no bound, so a stalled reader grows it. */
async function stalledBaseline(seconds: number): Promise<{ first: number; last: number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const port = (wss.address() as { port: number }).port;
  const fake = new FakeSource();
  fake.bus.subscribe((e: BitsEvent) => {
    const text = JSON.stringify({ type: 'events', events: [e] });
    for (const ws of wss.clients) ws.send(text);
  });
  const child = await startClients(`ws://127.0.0.1:${port}/`, 2, 'stall');
  const load = startStallLoad(fake);
  await sleep(3000);
  const first = heapMiB().heap;
  await sleep(seconds * 1000);
  const last = heapMiB().heap;
  load.stop();
  child.send({ type: 'exit' });
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  return { first, last };
}

if (process.argv[2] !== 'clients') {
  console.log(`dashboard throughput: ${EVENTS} events to ${CLIENTS} WebSocket clients (clients in a child process)`);
  const base = await throughputBaseline();
  console.log(`  baseline (bare ws broadcast, one frame per event): ${Math.round(base.rate).toLocaleString('en-US')} events/s delivered`);
  const hub = await throughputHub();
  console.log(`  bitsgate hub (batched, coalescing, bounded):        ${Math.round(hub.rate).toLocaleString('en-US')} events/s delivered ` +
    `(${(hub.rate / base.rate).toFixed(2)}x baseline; target >= 20,000/s: ${hub.rate >= 20_000 ? 'met' : 'NOT met'})`);
  console.log(`  hub: ${hub.delivered.toLocaleString('en-US')} events delivered of ${(EVENTS * CLIENTS).toLocaleString('en-US')} produced ` +
    `(session updates coalesced: ${hub.coalesced}, clients told to resync: ${hub.resyncs})`);
  const baseSeconds = Math.min(STALL_SECONDS, 15);
  const b = await stalledBaseline(baseSeconds);
  console.log(`baseline (bare ws broadcast, no bound) with one stalled client over ${baseSeconds}s: heap ${b.first.toFixed(1)} -> ` +
    `${b.last.toFixed(1)} MiB (+${((b.last - b.first) / baseSeconds).toFixed(2)} MiB/s)`);
  await stalledMemory();
  process.exit(0);
}
