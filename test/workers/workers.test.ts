import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBitsServer, type BitsServer } from '../../src/server/index.js';
import { bits, RawConnection } from '../server/raw-http.js';
import { GatewayProcess, startRecordingRelay, waitFor, type RecordingRelay } from './harness.js';

/**
 * `bitsgate --workers 2` as shipped (bin/bitsgate.js, dist/ built): a real BITS server
 * behind a recording relay, uploads over many client connections in parallel.
 */

const GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';
const SIZE = 3000;
const FRAGMENT = 1000;

interface SessionSummary { id: string; state: string; ackedBytes: number; violations: string[] }
interface SessionDetail extends SessionSummary { timeline: Array<{ node?: string; connectionId: number }> }

let dir: string;
let server: BitsServer;
let relay: RecordingRelay;
let gw: GatewayProcess & { port: number; dashboard: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitsgate-workers-'));
  server = await startBitsServer({ root: join(dir, 'root'), listen: { host: '127.0.0.1', port: 0 }, logger: pino({ level: 'silent' }) });
  relay = await startRecordingRelay(Number(new URL(server.url).port));
  gw = await GatewayProcess.start([
    '--workers', '2', '--upstream', `http://127.0.0.1:${relay.port}`, '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0',
    '--shutdown-grace', '10s',
  ]);
}, 40_000);

afterAll(async () => {
  gw?.kill();
  await relay?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * One upload over three client connections, each request tagged with its connection:
 * Create-Session + Fragment 1 on the first, Fragment 2 on the second, Fragment 3 + Close
 * on the third (a client that reconnects mid-upload).
 */
async function upload(name: string): Promise<string> {
  const url = `/up/${name}.bin`;
  const data = Buffer.alloc(SIZE, 0x5a);
  const fragment = (id: string, start: number): Buffer => bits(url, [
    ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', id], ['Content-Range', `bytes ${start}-${start + FRAGMENT - 1}/${SIZE}`],
  ], data.subarray(start, start + FRAGMENT));
  const tagged = (conn: string, req: Buffer): Buffer => {
    const at = req.indexOf('\r\n') + 2;
    return Buffer.concat([req.subarray(0, at), Buffer.from(`X-Test-Conn: ${conn}\r\n`, 'latin1'), req.subarray(at)]);
  };
  const a = await RawConnection.open(gw.port);
  const create = await a.request(tagged(`${name}-a`, bits(url, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']])));
  expect(create.status).toBe(200);
  const id = create.get('BITS-Session-Id')!;
  expect((await a.request(tagged(`${name}-a`, fragment(id, 0)))).status).toBe(200);
  a.close();
  const b = await RawConnection.open(gw.port);
  expect((await b.request(tagged(`${name}-b`, fragment(id, 1000)))).status).toBe(200);
  b.close();
  const c = await RawConnection.open(gw.port);
  expect((await c.request(tagged(`${name}-c`, fragment(id, 2000)))).status).toBe(200);
  const close = await c.request(tagged(`${name}-c`, bits(url, [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', id], ['Content-Length', '0']])));
  expect(close.status).toBe(200);
  c.close();
  return id;
}

function refuses(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => resolve(true));
    s.on('connect', () => { s.destroy(); resolve(false); });
  });
}

/** /api/sessions once every session of `ids` is closed (or after 5 s, for the assertion to show what it is). */
async function sessionsWhenClosed(ids: string[]): Promise<SessionSummary[]> {
  let sessions: SessionSummary[] = [];
  const deadline = Date.now() + 5_000;
  do {
    sessions = await gw.api<SessionSummary[]>('/api/sessions');
    if (ids.every((id) => sessions.find((s) => s.id === id)?.state === 'closed')) break;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < deadline);
  return sessions;
}

describe('bitsgate --workers 2', () => {
  it('uploads over many connections in parallel: one session view, every session closed, no violation, both workers served', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => upload(`par-${i}`)));
    const sessions = await sessionsWhenClosed(ids);
    expect(ids.map((id) => sessions.find((s) => s.id === id)).map((s) => [s?.state, s?.ackedBytes, s?.violations]))
      .toEqual(ids.map(() => ['closed', SIZE, []]));
    expect(await gw.api<unknown[]>('/api/violations')).toEqual([]);
    expect(gw.logLines().find((l) => l.msg === 'gateway listening')).toMatchObject({ workers: 2 });
    // The workers' identity on every exchange: both workers relayed exchanges.
    const nodes = new Set<string>();
    const connections = new Set<number>();
    for (const id of ids) {
      const detail = await gw.api<SessionDetail>(`/api/sessions/${encodeURIComponent(id)}`);
      expect(detail.timeline).toHaveLength(5);
      for (const p of detail.timeline) {
        nodes.add(p.node ?? '(none)');
        connections.add(p.connectionId);
      }
    }
    expect([...nodes].map((n) => n.replace(/^.*#/, '#')).sort()).toEqual(['#w1', '#w2']);
    // 18 client connections, each known by its own id to the one tracker (ids renumbered by the primary).
    expect(connections.size).toBe(18);
  }, 40_000);

  it('keeps upstream pinning: every upstream connection carried exactly one client connection\'s requests', () => {
    const perUpstream = relay.connections.filter((c) => c.length > 0);
    expect(perUpstream.length).toBe(18);
    for (const conns of perUpstream) expect(new Set(conns).size).toBe(1);
    // ... and every client connection used one upstream connection.
    const owners = new Map<string, number>();
    for (const conns of perUpstream) owners.set(conns[0]!, (owners.get(conns[0]!) ?? 0) + 1);
    expect([...owners.values()].every((n) => n === 1)).toBe(true);
    expect(owners.size).toBe(18);
  });

  it('replaces a killed worker, logs the client connections it took with it, and keeps serving', async () => {
    const before = gw.workerPids();
    expect(before).toHaveLength(2);
    // Two kept-alive connections with an exchange each: round-robin puts one on each worker.
    const held = await Promise.all([RawConnection.open(gw.port), RawConnection.open(gw.port)]);
    for (const c of held) expect((await c.request(bits('/up/ping', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300)); // let the Pings' observations reach the primary
    process.kill(before[0]!, 'SIGKILL');
    await waitFor(() => gw.logLines().some((l) => l.msg === 'worker restarted and listening'), 15_000, 'worker restarted');
    const exit = gw.logLines().find((l) => l.msg === 'worker exited unexpectedly; its client connections are lost; starting it again')!;
    expect(exit).toMatchObject({ level: 40, pid: before[0], signal: 'SIGKILL', lostConnections: 1 });
    const after = gw.workerPids();
    expect(after).toHaveLength(2);
    expect(after).toContain(before[1]);
    expect(after).not.toContain(before[0]);
    for (const c of held) c.close();
    // Serving on both workers again: a few uploads all close cleanly.
    const ids = await Promise.all(Array.from({ length: 2 }, (_, i) => upload(`after-${i}`)));
    const sessions = await sessionsWhenClosed(ids);
    expect(ids.map((id) => sessions.find((s) => s.id === id)?.violations)).toEqual([[], []]);
    const metrics = await (await fetch(new URL('/metrics', gw.dashboard))).text();
    expect(metrics).toMatch(/^bitsgate_worker_restarts_total 1$/m);
    expect(metrics).toMatch(/^bitsgate_workers 2$/m);
  }, 40_000);

  it('SIGTERM: stops accepting, lets the exchange in flight finish, exits 0', async () => {
    const busy = await RawConnection.open(gw.port);
    busy.write(bits('/up/slow', [['BITS-Packet-Type', 'Ping'], ['X-Slow', '1'], ['Content-Length', '0']]));
    await waitFor(() => relay.held === 1, 5_000, 'the slow request at the relay');
    gw.child.kill('SIGTERM');
    await waitFor(() => gw.out.includes('shutting down'), 5_000, 'shutdown log line');
    // No new connections once every worker stopped accepting (the primary then closes the listening socket).
    const deadline = Date.now() + 5_000;
    while (!(await refuses(gw.port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await refuses(gw.port)).toBe(true);
    relay.releaseSlow();
    const answer = await busy.read();
    expect(answer.status).toBe(200);
    expect(answer.get('Connection')).toBe('close');
    expect(await gw.exited).toBe(0);
    expect(gw.logLines().at(-1)?.msg).toBe('stopped');
  }, 40_000);
});
