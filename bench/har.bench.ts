/**
 * HAR out and in, per exchange, against the recording format's own cost in the same process:
 *  (a) observation -> HAR entry text (harEntry + JSON.stringify) / observation -> NDJSON line
 *      (what --record does);
 *  (b) HAR file -> observations (JSON.parse + fromHar) / NDJSON lines -> observations
 *      (parseRecordingLine, what analyze does).
 * Ratios above 1 mean HAR costs more per exchange; both run far below the gateway's rate.
 *
 *   npm run bench -- har        (or: node --expose-gc --import tsx bench/har.bench.ts)
 */
import type { HeaderList, Observation } from '../src/observation.js';
import { fromHar, harEntry } from '../src/har/index.js';
import { parseRecordingLine } from '../src/sessions/index.js';

const GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';
const N = Number(process.env.BENCH_EXCHANGES ?? 50_000);
const ROUNDS = 5;

function observations(n: number): Observation[] {
  const out: Observation[] = [];
  const host: [string, string] = ['Host', 'files.example.com'];
  for (let i = 0; i < n; i++) {
    const sid = `{${(i >> 3).toString(16).padStart(8, '0')}-6d1c-4b3a-9d3e-31e8c1b7a5d0}`;
    const s = (i % 8) * 1048576;
    const req: HeaderList = [host, ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid], ['Content-Name', 'report.zip'],
      ['Content-Range', `bytes ${s}-${s + 1048575}/8388608`], ['Content-Length', '1048576']];
    const t = 1_700_000_000_000 + i * 3;
    out.push({
      id: i + 1, connectionId: 1 + (i >> 3), client: { address: '10.0.0.1', port: 50000 }, method: 'BITS_POST', url: '/uploads/report.zip',
      httpVersion: '1.1', requestHeaders: req, startedAt: t, requestBodyBytes: 1048576, status: 200,
      responseHeaders: [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', sid], ['BITS-Received-Content-Range', String(s + 1048576)], ['Content-Length', '0']],
      responseBodyBytes: 0, respondedAt: t + 2, endedAt: t + 2, responder: 'upstream',
    });
  }
  return out;
}

function best(fn: () => void): number {
  let min = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = performance.now();
    fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

const obs = observations(N);
let sink = 0;
const lines = obs.map((o) => JSON.stringify({ type: 'observation', ...o }));
const har = JSON.stringify({ log: { version: '1.2', creator: { name: 'bitsgate', version: '0' }, entries: obs.map((o) => harEntry(o)) } });

const outHar = best(() => { for (const o of obs) sink += JSON.stringify(harEntry(o)).length; });
const outNd = best(() => { for (const o of obs) sink += JSON.stringify({ type: 'observation', ...o }).length; });
const inHar = best(() => { const r = fromHar(JSON.parse(har)); sink += r.ok ? r.value.observations.length : 0; });
const inNd = best(() => { for (const l of lines) sink += parseRecordingLine(l).ok ? 1 : 0; });

const rate = (ms: number) => `${Math.round(N / (ms / 1000)).toLocaleString('en-US')}/s`;
console.log(`${N} exchanges, best of ${ROUNDS} rounds (sink ${sink > 0 ? 'ok' : 'empty'})`);
console.log(`(a) out: HAR entry ${rate(outHar)} vs NDJSON line ${rate(outNd)}: ratio ${(outHar / outNd).toFixed(2)}`);
console.log(`(b) in:  HAR ${rate(inHar)} vs NDJSON ${rate(inNd)}: ratio ${(inHar / inNd).toFixed(2)}`);
console.log(`    HAR bytes per exchange ${Math.round(har.length / N)} vs NDJSON ${Math.round(lines.reduce((a, l) => a + l.length + 1, 0) / N)}`);
