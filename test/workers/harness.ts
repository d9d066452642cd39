/**
 * The real `bin/bitsgate.js --workers N` as a child process (dist/ must be built: `npm run
 * build`), its JSON log lines, its worker processes, and a recording TCP relay to put
 * between it and a BITS server: per upstream TCP connection, which client connections'
 * requests it carried (the `X-Test-Conn` header the test client sends on every request).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

export const BIN = join(__dirname, '..', '..', 'bin', 'bitsgate.js');

export class GatewayProcess {
  out = '';
  readonly exited: Promise<number | null>;
  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d) => (this.out += d));
    child.stderr!.on('data', (d) => (this.out += d));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(args: string[]): Promise<GatewayProcess & { port: number; dashboard: string }> {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const gw = new GatewayProcess(child);
    await waitFor(() => gw.out.includes('"gateway listening"') || child.exitCode !== null, 30_000, 'gateway listening');
    const line = gw.logLines().find((l) => l.msg === 'gateway listening');
    if (!line) throw new Error(`gateway did not start:\n${gw.out}`);
    return Object.assign(gw, { port: Number(new URL(line.listen as string).port), dashboard: line.dashboard as string });
  }

  logLines(): Array<Record<string, unknown>> {
    return this.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** The worker processes (Linux: the kernel's list of this process's children). */
  workerPids(): number[] {
    const pid = this.child.pid!;
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  }

  async api<T>(path: string): Promise<T> {
    return (await fetch(new URL(path, (this as unknown as { dashboard: string }).dashboard))).json() as Promise<T>;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    for (const pid of this.safeWorkerPids()) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }

  private safeWorkerPids(): number[] {
    try { return this.workerPids(); } catch { return []; }
  }
}

export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const TEST_CONN = /X-Test-Conn: ([\w-]+)\r\n/g;

export interface RecordingRelay {
  port: number;
  /** Per upstream TCP connection accepted (in order): the X-Test-Conn values of its requests. */
  connections: string[][];
  /** Requests carrying `X-Slow: 1` are held here until releaseSlow(). */
  held: number;
  releaseSlow(): void;
  close(): Promise<void>;
}

/** A TCP relay to `targetPort` that reads which client connection each request came for. */
export async function startRecordingRelay(targetPort: number): Promise<RecordingRelay> {
  const sockets = new Set<net.Socket>();
  const slow: Array<() => void> = [];
  const relay: RecordingRelay = {
    port: 0,
    connections: [],
    held: 0,
    releaseSlow() {
      for (const go of slow.splice(0)) go();
      relay.held = 0;
    },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
  const server = net.createServer((client) => {
    const seen: string[] = [];
    relay.connections.push(seen);
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    let tail = '';
    client.on('data', (chunk: Buffer) => {
      // Bodies are test bytes (0x5a): a header is only ever found in a request head.
      const text = tail + chunk.toString('latin1');
      for (const m of text.matchAll(TEST_CONN)) if (m.index! + m[0].length > tail.length) seen.push(m[1]!);
      tail = text.slice(-64);
      if (/X-Slow: 1\r\n/.test(text)) {
        client.pause();
        relay.held++;
        slow.push(() => { upstream.write(chunk); client.resume(); });
        return;
      }
      upstream.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  relay.port = (server.address() as net.AddressInfo).port;
  return relay;
}
