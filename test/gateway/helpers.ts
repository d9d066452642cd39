/**
 * Test doubles for the gateway tests: a tiny raw-socket HTTP/1.1 upstream that accepts
 * any method (BITS_POST included) and records exactly what reached it, a raw upstream for
 * misbehaving canned answers, and a raw client that writes bytes and parses responses.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach } from 'vitest';
import type { Gateway } from '../../src/gateway/index.js';
import type { ExchangeStart, Observation, ObservationSink } from '../../src/observation.js';

export interface SeenRequest {
  /** Which upstream TCP connection carried it (1, 2, ... in accept order). */
  socketId: number;
  method: string;
  url: string;
  version: string;
  /** Header fields as received: original names, order, duplicates. */
  headers: Array<[string, string]>;
  bodyBytes: number;
  sha256: string;
  /** Request head bytes exactly as received (latin1). */
  rawHead: string;
}

export interface UpstreamReply {
  status: number;
  headers?: Array<[string, string]>;
  body?: string | Buffer;
  /** Extra raw bytes written after the response (misbehaviour). */
  trailing?: string;
  /** Close the connection after the response. */
  close?: boolean;
}

export type UpstreamHandler = (req: SeenRequest) => UpstreamReply | Promise<UpstreamReply> | 'hang' | 'close' | 'reset';

export interface TestUpstream {
  port: number;
  url: URL;
  requests: SeenRequest[];
  /** Sockets accepted so far. */
  accepted: number;
  /** Sockets currently open. */
  open: number;
  /** Resolves when `n` upstream sockets have closed in total. */
  closedCount(): number;
  close(): Promise<void>;
}

function header(headers: Array<[string, string]>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/** A correct keep-alive HTTP/1.1 server on raw sockets (Node's http.Server refuses BITS_POST). */
export async function startUpstream(
  handler: UpstreamHandler = () => ({ status: 200, headers: [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0']] }),
  /** Serve HTTPS with these options (the handle's url is then https://). */
  tlsOptions?: tls.TlsOptions,
): Promise<TestUpstream> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  let closed = 0;
  const onSocket = (socket: net.Socket) => {
    const socketId = ++accepted;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      closed++;
    });
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    // Parser state: head, then body by length or chunked.
    let current: (SeenRequest & { remaining: number; chunked: boolean; hash: ReturnType<typeof createHash> }) | null = null;
    let chunkState: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
    let chunkLeft = 0;
    let queue = Promise.resolve();
    const finish = () => {
      const req = current!;
      current = null;
      const seen: SeenRequest = {
        socketId: req.socketId, method: req.method, url: req.url, version: req.version,
        headers: req.headers, bodyBytes: req.bodyBytes, sha256: req.hash.digest('hex'), rawHead: req.rawHead,
      };
      requests.push(seen);
      // Answer in order even when the handler is async (pipelining).
      queue = queue.then(async () => {
        const reply = await handler(seen);
        if (socket.destroyed) return;
        if (reply === 'hang') return;
        if (reply === 'close') return void socket.end();
        if (reply === 'reset') return void socket.resetAndDestroy();
        const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body ?? Buffer.alloc(0);
        let head = `HTTP/1.1 ${reply.status} ${reply.status === 200 ? 'OK' : 'Status'}\r\n`;
        for (const [n, v] of reply.headers ?? []) head += `${n}: ${v}\r\n`;
        socket.write(Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body, Buffer.from(reply.trailing ?? '', 'latin1')]));
        if (reply.close) socket.end();
      });
    };
    const feed = () => {
      for (;;) {
        if (!current) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const rawHead = buf.subarray(0, end + 4).toString('latin1');
          buf = buf.subarray(end + 4);
          const [line, ...fields] = rawHead.slice(0, -4).split('\r\n');
          const [method, url, version] = line!.split(' ');
          const headers = fields.map((f) => {
            const i = f.indexOf(':');
            return [f.slice(0, i), f.slice(i + 1).trim()] as [string, string];
          });
          const te = header(headers, 'transfer-encoding');
          const cl = header(headers, 'content-length');
          current = {
            socketId, method: method!, url: url!, version: version!, headers, bodyBytes: 0, sha256: '', rawHead,
            remaining: cl ? Number(cl) : 0, chunked: te !== undefined && /chunked/i.test(te), hash: createHash('sha256'),
          };
          chunkState = 'size';
          if (!current.chunked && current.remaining === 0) finish();
          continue;
        }
        if (!current.chunked) {
          if (buf.length === 0) return;
          const take = Math.min(buf.length, current.remaining);
          current.hash.update(buf.subarray(0, take));
          current.bodyBytes += take;
          current.remaining -= take;
          buf = buf.subarray(take);
          if (current.remaining === 0) finish();
          continue;
        }
        if (chunkState === 'size' || chunkState === 'trailer' || chunkState === 'data-crlf') {
          const nl = buf.indexOf('\r\n');
          if (nl < 0) return;
          const line = buf.subarray(0, nl).toString('latin1');
          buf = buf.subarray(nl + 2);
          if (chunkState === 'data-crlf') chunkState = 'size';
          else if (chunkState === 'trailer') {
            if (line === '') finish();
          } else {
            chunkLeft = parseInt(line, 16);
            chunkState = chunkLeft === 0 ? 'trailer' : 'data';
          }
          continue;
        }
        if (buf.length === 0) return;
        const take = Math.min(buf.length, chunkLeft);
        current.hash.update(buf.subarray(0, take));
        current.bodyBytes += take;
        chunkLeft -= take;
        buf = buf.subarray(take);
        if (chunkLeft === 0) chunkState = 'data-crlf';
      }
    };
    socket.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      feed();
    });
  };
  const server = tlsOptions ? tls.createServer(tlsOptions, onSocket) : net.createServer(onSocket);
  const handle = await listenUpstream(server, sockets, requests, () => accepted, () => closed);
  if (tlsOptions) handle.url.protocol = 'https:';
  return handle;
}

/** Listens on a loopback port; the handle reads the counters live and `close` destroys open sockets first. */
async function listenUpstream(
  server: net.Server, sockets: Set<net.Socket>, requests: SeenRequest[], accepted: () => number, closed: () => number,
): Promise<TestUpstream> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: new URL(`http://127.0.0.1:${port}`),
    requests,
    get accepted() {
      return accepted();
    },
    get open() {
      return sockets.size;
    },
    closedCount: closed,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A raw upstream that runs `onData` for every chunk a connection receives (canned misbehaviour). */
export async function startRawUpstream(onRequest: (socket: net.Socket, index: number) => void): Promise<TestUpstream & { sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  let closed = 0;
  let index = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      closed++;
    });
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      // Requests in these tests have no body: one head = one request.
      while (buf.includes('\r\n\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        onRequest(socket, index++);
      }
    });
  });
  // Object.assign, not a spread: the handle's getters must stay live.
  return Object.assign(await listenUpstream(server, sockets, [], () => accepted, () => closed), { sockets });
}

export interface ParsedResponse {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

/** A raw client connection that collects responses as they arrive. */
export class RawClient {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private readonly responses: ParsedResponse[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  /** Every byte received (latin1), for exact assertions. */
  raw = '';
  /** Off: only collect `raw` (e.g. for HEAD responses, which this parser cannot frame). */
  parsing = true;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d) => {
      this.raw += d.toString('latin1');
      if (!this.parsing) return;
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** A TLS connection (no SNI unless `servername` is given, as Node's tls.connect). */
  static connectTls(port: number, options: tls.ConnectionOptions): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ port, host: '127.0.0.1', ...options }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private parse(): void {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString('latin1');
      const [line, ...fields] = head.split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(line!);
      if (!m) throw new Error(`bad status line ${JSON.stringify(line)}`);
      const headers = fields.map((f) => {
        const i = f.indexOf(':');
        return [f.slice(0, i), f.slice(i + 1).trim()] as [string, string];
      });
      const status = Number(m[1]);
      const rest = this.buf.subarray(end + 4);
      if (status >= 100 && status < 200) {
        this.responses.push({ status, reason: m[2]!, headers, body: Buffer.alloc(0) });
        this.buf = rest;
        this.wake();
        continue;
      }
      const cl = header(headers, 'content-length');
      const te = header(headers, 'transfer-encoding');
      let body: Buffer;
      let consumed: number;
      if (te && /chunked/i.test(te)) {
        const parts: Buffer[] = [];
        let pos = 0;
        for (;;) {
          const nl = rest.indexOf('\r\n', pos);
          if (nl < 0) return;
          const size = parseInt(rest.subarray(pos, nl).toString('latin1'), 16);
          if (size === 0) {
            if (rest.length < nl + 4) return;
            consumed = nl + 4;
            break;
          }
          if (rest.length < nl + 2 + size + 2) return;
          parts.push(rest.subarray(nl + 2, nl + 2 + size));
          pos = nl + 2 + size + 2;
        }
        body = Buffer.concat(parts);
      } else if (cl !== undefined) {
        if (rest.length < Number(cl)) return;
        body = rest.subarray(0, Number(cl));
        consumed = Number(cl);
      } else if (status === 204 || status === 304) {
        body = Buffer.alloc(0);
        consumed = 0;
      } else {
        // Close-delimited: complete only once the connection closed.
        if (!this.closed) return;
        body = rest;
        consumed = rest.length;
      }
      this.responses.push({ status, reason: m[2]!, headers, body: Buffer.from(body) });
      this.buf = rest.subarray(consumed);
      this.wake();
    }
  }

  /** Waits until `n` responses (interim ones included) arrived, or rejects after `ms`. */
  async responsesAfter(n: number, ms = 5_000): Promise<ParsedResponse[]> {
    const deadline = Date.now() + ms;
    while (this.responses.length < n) {
      if (this.closed) {
        this.parse();
        if (this.responses.length >= n) break;
        throw new Error(`connection closed after ${this.responses.length} of ${n} responses; got ${JSON.stringify(this.raw.slice(0, 300))}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${this.responses.length} of ${n} responses; got ${JSON.stringify(this.raw.slice(0, 300))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.responses.slice(0, n);
  }

  /** Resolves true when the connection closes within `ms`. */
  async waitClosed(ms = 5_000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function headerOf(res: { headers: Array<[string, string]> }, name: string): string | undefined {
  return header(res.headers, name);
}

/** Collects observations and exchange starts. */
export class CollectingSink implements ObservationSink {
  /** Every sink created, so afterEach hooks can check the one-observation-per-exchange rule. */
  static readonly all: CollectingSink[] = [];
  starts: ExchangeStart[] = [];
  observations: Observation[] = [];
  /** Exchange ids observed more than once (must stay empty). */
  duplicates: number[] = [];
  private waiters: Array<() => void> = [];
  constructor() {
    CollectingSink.all.push(this);
  }
  onExchangeStart(start: ExchangeStart): void {
    this.starts.push(start);
  }
  onObservation(obs: Observation): void {
    if (this.observations.some((o) => o.id === obs.id)) this.duplicates.push(obs.id);
    this.observations.push(obs);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  async waitFor(n: number, ms = 5_000): Promise<Observation[]> {
    const deadline = Date.now() + ms;
    while (this.observations.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.observations.length} of ${n} observations`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.observations;
  }
}

export const PROTOCOL_GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';

/** A BITS_POST request as a real client writes it. */
export function bitsPost(path: string, fields: Array<[string, string]>, body: Buffer | string = ''): Buffer {
  let head = `BITS_POST ${path} HTTP/1.1\r\nHost: files.example.com\r\n`;
  for (const [n, v] of fields) head += `${n}: ${v}\r\n`;
  return Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), typeof body === 'string' ? Buffer.from(body, 'latin1') : body]);
}

export async function waitUntil(cond: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** afterEach check: no exchange was observed twice, and every started exchange ended. */
export async function expectOneObservationPerExchange(): Promise<void> {
  const sinks = CollectingSink.all.splice(0);
  // Give racing end paths (client close after a failure) time to show a duplicate.
  await new Promise((r) => setTimeout(r, 30));
  for (const sink of sinks) {
    if (sink.duplicates.length) throw new Error(`exchanges observed twice: ${sink.duplicates.join(', ')}`);
    const ended = new Set(sink.observations.map((o) => o.id));
    const open = sink.starts.filter((s) => !ended.has(s.id)).map((s) => s.id);
    if (open.length) throw new Error(`exchanges started but never observed: ${open.join(', ')}`);
  }
}

/** What a gateway test file starts per test; `useGatewayFixture` closes it all after each test. */
export interface GatewayFixture<U extends TestUpstream = TestUpstream> {
  upstream: U | undefined;
  gateway: Gateway | undefined;
  extraServer: net.Server | undefined;
  /** A raw client connected to the gateway, destroyed after the test. */
  client: () => Promise<RawClient>;
}

/**
 * Registers an afterEach that destroys the clients, checks `expectOneObservationPerExchange()`,
 * then closes the gateway, the upstream and the extra server and clears them.
 */
export function useGatewayFixture<U extends TestUpstream = TestUpstream>(): GatewayFixture<U> {
  const clients: RawClient[] = [];
  const fx: GatewayFixture<U> = {
    upstream: undefined,
    gateway: undefined,
    extraServer: undefined,
    client: async () => {
      const c = await RawClient.connect(fx.gateway!.address.port);
      clients.push(c);
      return c;
    },
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await expectOneObservationPerExchange();
    await fx.gateway?.close();
    await fx.upstream?.close();
    if (fx.extraServer) await new Promise<void>((r) => fx.extraServer!.close(() => r()));
    fx.gateway = undefined;
    fx.upstream = undefined;
    fx.extraServer = undefined;
  });
  return fx;
}
