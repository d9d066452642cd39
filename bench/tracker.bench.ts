/**
 * The session tracker alone, on the gateway's hot path: observations per second, and heap
 * held by 100 000 live sessions. Baseline in the same run: a loop that touches the same
 * observations (reads one header, keys a Map by session id), i.e. the least any consumer does.
 * Targets (issue 4): >= 300 000 observations/s, <= 200 MB for 100 000 sessions.
 *
 *   npm run bench -- tracker        (or: node --expose-gc --import tsx bench/tracker.bench.ts)
 */
import type { HeaderList, Observation } from '../src/observation.js';
import { SessionTracker } from '../src/sessions/index.js';

const GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';
const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 20_000);
const FRAGMENTS = 8;
const FRAGMENT_SIZE = 1 << 20;
const LIVE_SESSIONS = 100_000;

let nextId = 1;
function obs(url: string, req: HeaderList, status: number, res: HeaderList, t: number, body = 0): Observation {
  return {
    id: nextId++, connectionId: 1, client: { address: '10.0.0.1', port: 50000 }, method: 'BITS_POST', url, httpVersion: '1.1',
    requestHeaders: req, startedAt: t, requestBodyBytes: body, status, responseHeaders: res, responseBodyBytes: 0,
    respondedAt: t + 1, endedAt: t + 1, responder: 'upstream',
  };
}

function sessionId(i: number): string {
  return `{${i.toString(16).padStart(8, '0')}-6d1c-4b3a-9d3e-31e8c1b7a5d0}`;
}

/** One upload: Create-Session, `fragments` fragments, optionally Close-Session. */
function upload(i: number, t: number, fragments: number, close: boolean): Observation[] {
  const url = `/uploads/client-${i}/report.zip`;
  const sid = sessionId(i);
  const host: [string, string] = ['Host', 'files.example.com'];
  const total = FRAGMENTS * FRAGMENT_SIZE;
  const out = [obs(url, [host, ['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']], 201,
    [['BITS-Packet-Type', 'Ack'], ['BITS-Protocol', GUID], ['BITS-Session-Id', sid], ['Content-Length', '0']], t)];
  for (let f = 0; f < fragments; f++) {
    const s = f * FRAGMENT_SIZE;
    const e = s + FRAGMENT_SIZE - 1;
    out.push(obs(url, [host, ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid], ['Content-Name', 'report.zip'],
      ['Content-Range', `bytes ${s}-${e}/${total}`], ['Content-Length', String(FRAGMENT_SIZE)]], 200,
    [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', sid], ['BITS-Received-Content-Range', String(e + 1)], ['Content-Length', '0']], t + 2 + 2 * f, FRAGMENT_SIZE));
  }
  if (close) {
    out.push(obs(url, [host, ['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', sid], ['Content-Length', '0']], 200,
      [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', sid], ['Content-Length', '0']], t + 100));
  }
  return out;
}

/** Interleaves uploads round-robin in batches of 64 clients, as concurrent traffic would arrive. */
function workload(): Observation[] {
  const all: Observation[] = [];
  for (let b = 0; b < UPLOADS; b += 64) {
    const batch: Observation[][] = [];
    for (let i = b; i < Math.min(UPLOADS, b + 64); i++) batch.push(upload(i, 1_700_000_000_000 + i * 10, FRAGMENTS, true));
    for (let k = 0; k < FRAGMENTS + 2; k++) for (const u of batch) all.push(u[k]!);
  }
  return all;
}

function baseline(list: Observation[]): number {
  const seen = new Map<string, number>();
  for (const o of list) {
    let sid: string | undefined;
    const h = o.requestHeaders;
    for (let i = 0; i < h.length; i++) if (h[i]![0].toLowerCase() === 'bits-session-id') { sid = h[i]![1]; break; }
    seen.set(sid ?? String(o.id), o.endedAt);
  }
  return seen.size;
}

function tracked(list: Observation[]): number {
  const t = new SessionTracker({ maxSessions: UPLOADS + 10 });
  let events = 0;
  for (const o of list) events += t.observe(o).length;
  return events;
}

function rate(fn: (l: Observation[]) => number, list: Observation[], rounds: number): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    gc(); // the previous round's tracker is garbage: do not bill its collection to this round
    const t0 = process.hrtime.bigint();
    fn(list);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    best = Math.min(best, ms);
  }
  return list.length / (best / 1000);
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) { g(); g(); }
}

const list = workload();
rate(tracked, list.slice(0, 20_000), 2); // warm up
rate(baseline, list.slice(0, 20_000), 2);
const base = rate(baseline, list, 5);
const core = rate(tracked, list, 5);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`workload: ${UPLOADS} uploads x (create + ${FRAGMENTS} fragments + close) = ${list.length} observations, 64 clients interleaved`);
console.log(`baseline (header scan + Map.set):  ${fmt(base)} obs/s`);
console.log(`SessionTracker.observe:            ${fmt(core)} obs/s  (${(core / base * 100).toFixed(1)}% of baseline; target >= 300,000)  ${core >= 300_000 ? 'OK' : 'BELOW TARGET'}`);

// Heap with LIVE_SESSIONS open sessions (Create-Session + one fragment each, never closed).
list.length = 0;
gc();
const before = process.memoryUsage().heapUsed;
const t = new SessionTracker({ maxSessions: LIVE_SESSIONS });
for (let i = 0; i < LIVE_SESSIONS; i++) for (const o of upload(1_000_000 + i, 1_700_000_000_000 + i, 1, false)) t.observe(o);
gc();
const after = process.memoryUsage().heapUsed;
const mb = (after - before) / 2 ** 20;
console.log(`heap for ${fmt(t.sessions().length)} live sessions (2 exchanges each in the timeline, observations retained): ${mb.toFixed(1)} MB` +
  ` (${Math.round((after - before) / LIVE_SESSIONS)} B/session; target <= 200 MB)  ${mb <= 200 ? 'OK' : 'ABOVE TARGET'}` +
  ((globalThis as { gc?: unknown }).gc ? '' : '  [run with --expose-gc for an exact figure]'));
