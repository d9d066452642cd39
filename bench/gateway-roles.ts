/**
 * The child processes of bench/gateway.bench.ts, each on its own event loop:
 *
 *   upstream - a minimal raw-socket BITS server: parses heads, skips bodies, answers an Ack;
 *   pipe     - a bare Node TCP pipe to the upstream (the ceiling of any Node proxy here);
 *   noop     - startGateway with one no-op sink: the forwarding engine alone;
 *   floor-clientrequest, floor-raw - Ping yardsticks (bench/gateway-floors.ts), not products;
 *   shipped  - the product exactly as `bitsgate --upstream URL` builds it: the gateway
 *              command's own option parser and startFromOptions (src/app.ts), default log
 *              level (JSON lines on stdout, which the load generator drains), metrics,
 *              tracker, event bus and dashboard.
 *
 * Each child reports its ports over the IPC channel and answers `cpu` / `rss` requests
 * with its own process.cpuUsage() / memoryUsage, so CPU per Ping is the gateway's own.
 */
import net from 'node:net';
import { listenClientRequestFloor, listenRawFloor } from './gateway-floors.js';

const ACK: Buffer = Buffer.from('HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\n\r\n', 'latin1');
const CRLFCRLF: Buffer = Buffer.from('\r\n\r\n');

export interface RoleReady {
  port: number;
  /** The dashboard's http:// URL (shipped only). */
  dashboard?: string;
}

export type ParentRequest = { id: number; kind: 'cpu' | 'rss' };
export type ChildReply = { id: number; cpu?: NodeJS.CpuUsage; rss?: number };

function ready(msg: RoleReady): void {
  process.send!({ ready: msg });
  process.on('message', (m: ParentRequest) => {
    const reply: ChildReply = { id: m.id };
    if (m.kind === 'cpu') reply.cpu = process.cpuUsage();
    else reply.rss = process.memoryUsage.rss();
    process.send!(reply);
  });
  // The load generator going away must take us with it (no stray processes).
  // exit() rather than the default signal death, so --cpu-prof writes its profile.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

/**
 * The fast upstream's connection handler: parses heads, skips Content-Length bodies without
 * copying, answers an Ack (plain TCP or a TLS socket; the TLS bench reuses it).
 */
export function answerAcks(socket: net.Socket): void {
  socket.setNoDelay(true);
  let head: Buffer = Buffer.alloc(0);
  let skip = 0;
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    let data: Buffer = chunk;
    while (data.length > 0) {
      if (skip > 0) {
        const n = Math.min(skip, data.length);
        skip -= n;
        data = data.subarray(n);
        if (skip === 0) socket.write(ACK);
        continue;
      }
      head = head.length ? Buffer.concat([head, data]) : data;
      const end = head.indexOf(CRLFCRLF);
      if (end < 0) return;
      const text = head.subarray(0, end).toString('latin1');
      data = head.subarray(end + 4);
      head = Buffer.alloc(0);
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(text);
      skip = m ? Number(m[1]) : 0;
      if (skip === 0) socket.write(ACK);
    }
  });
}

/** Fast upstream on plain TCP. */
export function runUpstream(): void {
  const server = net.createServer(answerAcks);
  server.listen(0, '127.0.0.1', () => ready({ port: (server.address() as net.AddressInfo).port }));
}

/** A raw TCP pipe, the ceiling of any Node proxy on this machine. */
export function runPipe(upstreamPort: number): void {
  const server = net.createServer((client) => {
    const up = net.connect(upstreamPort, '127.0.0.1');
    client.setNoDelay(true);
    up.setNoDelay(true);
    client.pipe(up).pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
  });
  server.listen(0, '127.0.0.1', () => ready({ port: (server.address() as net.AddressInfo).port }));
}

/** The forwarding engine with a sink that does nothing: what the gateway costs without its sinks. */
export async function runNoopGateway(upstreamPort: number): Promise<void> {
  const { startGateway } = await import('../src/gateway/index.js');
  const gateway = await startGateway({
    upstream: new URL(`http://127.0.0.1:${upstreamPort}`),
    listen: { host: '127.0.0.1', port: 0 },
    sinks: [{ onObservation: () => {} }],
  });
  ready({ port: gateway.address.port });
}

/** `bitsgate --upstream URL`, built by the gateway command's own code. */
export async function runShippedGateway(upstreamPort: number): Promise<void> {
  const { parseGatewayArgs, startFromOptions } = await import('../src/commands/gateway.js');
  const { createLogger } = await import('../src/sinks/logger.js');
  const opts = parseGatewayArgs([
    '--upstream', `http://127.0.0.1:${upstreamPort}`, '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0',
  ]);
  // stdout is a pipe, as under a service manager: JSON lines, as the command chooses.
  const logger = createLogger({ level: opts.logLevel });
  const app = await startFromOptions(opts, logger);
  ready({ port: app.gateway.address.port, dashboard: app.dashboard!.url });
}

/** The Ping yardsticks of bench/gateway-floors.ts (`clientrequest` or `raw`). */
export function runFloor(kind: string, upstreamPort: number): void {
  const listen = kind === 'raw' ? listenRawFloor : listenClientRequestFloor;
  listen(upstreamPort, (port) => ready({ port }));
}
