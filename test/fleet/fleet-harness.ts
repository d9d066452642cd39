/**
 * A fleet on one machine for tests: one real Redis, one shared BITS server (the upstream
 * every gateway forwards to, as in production), N gateways started through src/app.ts,
 * a per-connection round-robin TCP balancer in front, and a client that opens a new
 * connection for every packet (raw BITS_POST), so one session's packets spread over nodes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startApp, type App, type FleetAppOptions } from '../../src/app.js';
import { startBitsServer, type BitsServer } from '../../src/server/index.js';
import { bits, exchange, type RawResponse } from '../server/raw-http.js';
import { TestRedis } from './redis-server.js';

export const GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';

/** Round-robin per accepted connection over the current targets (a target can be swapped). */
export class Balancer {
  readonly targets: number[] = [];
  private next = 0;
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: net.Server) {}

  static async start(targets: number[]): Promise<Balancer> {
    const server = net.createServer();
    const b = new Balancer(server);
    b.targets.push(...targets);
    server.on('connection', (client) => b.relay(client));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return b;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  private relay(client: net.Socket): void {
    const port = this.targets[this.next++ % this.targets.length]!;
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export class Fleet {
  readonly apps: App[] = [];
  /** Each node's log lines (pino JSON, level info and up), by node id. */
  readonly logs = new Map<string, Array<{ msg: string; [k: string]: unknown }>>();
  balancer!: Balancer;
  private constructor(readonly redis: TestRedis, readonly upstream: BitsServer, private readonly dir: string, readonly stream: string) {}

  static async start(nodes: number, fleet: Partial<FleetAppOptions> = {}): Promise<Fleet> {
    const dir = await mkdtemp(join(tmpdir(), 'bitsgate-fleet-'));
    const redis = await TestRedis.start();
    const upstream = await startBitsServer({ root: join(dir, 'root'), listen: { host: '127.0.0.1', port: 0 }, logger: pino({ level: 'silent' }) });
    const f = new Fleet(redis, upstream, dir, `test:${process.pid}:${Date.now()}`);
    for (let i = 0; i < nodes; i++) f.apps.push(await f.startNode(`node-${i}`, fleet));
    f.balancer = await Balancer.start(f.apps.map((a) => a.gateway.address.port));
    return f;
  }

  startNode(node: string, fleet: Partial<FleetAppOptions> = {}): Promise<App> {
    const lines: Array<{ msg: string }> = [];
    this.logs.set(node, lines);
    return startApp({
      logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
      upstream: new URL(this.upstream.url),
      listen: { host: '127.0.0.1', port: 0 },
      dashboard: { host: '127.0.0.1', port: 0 },
      fleet: { url: this.redis.url, stream: this.stream, node, reorderWindowMs: 100, connectTimeoutMs: 3000, ...fleet },
    });
  }

  async close(): Promise<void> {
    await this.balancer?.close();
    for (const a of this.apps) await a.close();
    await this.upstream.close();
    await this.redis.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** One packet on a fresh connection through `port`. */
export function packet(port: number, url: string, fields: [string, string][], body?: Buffer): Promise<RawResponse> {
  return exchange(port, bits(url, fields, body ?? Buffer.alloc(0)));
}

/**
 * A whole upload, every packet on its own connection. `closeEarly` closes before the last
 * fragment (an invalid Close-Session). Returns the session id; throws on a failed request.
 */
export async function upload(port: number, url: string, size: number, fragment: number, closeEarly = false): Promise<string> {
  const create = await packet(port, url, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']]);
  if (create.status !== 200) throw new Error(`Create-Session answered ${create.status}`);
  const id = create.get('BITS-Session-Id')!;
  const data = Buffer.alloc(size, 0x5a);
  for (let start = 0; start < size; start += fragment) {
    const end = Math.min(size, start + fragment) - 1;
    if (closeEarly && end === size - 1) break;
    const r = await packet(port, url, [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', id], ['Content-Range', `bytes ${start}-${end}/${size}`]], data.subarray(start, end + 1));
    if (r.status !== 200) throw new Error(`Fragment ${start}-${end} answered ${r.status}`);
  }
  const close = await packet(port, url, [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', id], ['Content-Length', '0']]);
  if (close.status !== 200) throw new Error(`Close-Session answered ${close.status}`);
  return id;
}

/**
 * `clients` clients uploading one file after another through `port` (4000 bytes in 1000-byte
 * fragments, every packet on its own connection) until stop(): each finished upload and
 * when it began, and every failure.
 */
export function uploadsUntilStopped(port: number, clients: number, name: string): {
  done: Array<{ id: string; began: number }>;
  failures: unknown[];
  stop(): Promise<void>;
} {
  let stopped = false;
  const done: Array<{ id: string; began: number }> = [];
  const failures: unknown[] = [];
  const running = Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; !stopped; i++) {
      const began = Date.now();
      try {
        done.push({ id: await upload(port, `/uploads/${name}-${c}-${i}.bin`, 4000, 1000), began });
      } catch (err) {
        failures.push(err);
      }
    }
  });
  return {
    done,
    failures,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
