/** Raw-socket helpers for the HTTP/1.1 listener tests: real bytes, loopback, port 0, everything closed. */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { createHttp1Server } from '../../../src/gateway/http1/index.js';
import type {
  ConnectionInfo, Http1Handler, Http1ServerOptions, RejectInfo,
} from '../../../src/gateway/http1/index.js';

export interface TestServer {
  port: number;
  server: net.Server;
  rejects: RejectInfo[];
  connections: ConnectionInfo[];
  closed: ConnectionInfo[];
  close(): Promise<void>;
}

export async function startServer(handler: Http1Handler, options: Http1ServerOptions = {}): Promise<TestServer> {
  const rejects: RejectInfo[] = [];
  const connections: ConnectionInfo[] = [];
  const closed: ConnectionInfo[] = [];
  const sockets = new Set<net.Socket>();
  const server = createHttp1Server(handler, {
    ...options,
    onReject: (info) => {
      rejects.push(info);
      options.onReject?.(info);
    },
    onConnection: (c) => {
      connections.push(c);
      sockets.add(c.socket);
      options.onConnection?.(c);
    },
    onConnectionClose: (c) => {
      closed.push(c);
      sockets.delete(c.socket);
      options.onConnectionClose?.(c);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port, server, rejects, connections, closed,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** A client socket that records everything it receives and when the server closed. */
export class Client {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  ended = false;
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => { this.chunks.push(c); this.wake(); });
    socket.on('end', () => { this.ended = true; this.wake(); });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => {});
  }

  static async open(port: number): Promise<Client> {
    return new Client(await connect(port));
  }

  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  get text(): string {
    return this.received.toString('latin1');
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Waits until `pred` holds (re-checked on every event), or fails after `ms`. */
  async until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received so far: ${JSON.stringify(this.text.slice(0, 500))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Waits for the server's FIN (end) — the connection was closed by the server. */
  untilEnded(ms = 5000): Promise<void> {
    return this.until(() => this.ended || this.closed, ms, 'server close');
  }

  untilText(s: string, ms = 5000): Promise<void> {
    return this.until(() => this.text.includes(s), ms, JSON.stringify(s));
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** Sends `bytes`, waits for the server to close, returns everything received. */
export async function exchange(port: number, bytes: string | Buffer, ms = 5000): Promise<string> {
  const c = await Client.open(port);
  try {
    c.write(bytes);
    await c.untilEnded(ms);
    return c.text;
  } finally {
    c.destroy();
  }
}

export function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** The exact bytes of a listener-generated error response. */
export function errorBytes(status: number, text: string, reason: string): string {
  const body = `${status} ${text}: ${reason}\n`;
  return `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
}

/** The listener a test file starts per test; `useServerFixture` closes it after each test. */
export interface ServerFixture {
  srv: TestServer | undefined;
  /** A client connected to `srv`, destroyed after the test. */
  open: () => Promise<Client>;
}

/** Registers an afterEach that destroys the clients, then closes `srv` and clears it. */
export function useServerFixture(): ServerFixture {
  const clients: Client[] = [];
  const fx: ServerFixture = {
    srv: undefined,
    open: async () => {
      const c = await Client.open(fx.srv!.port);
      clients.push(c);
      return c;
    },
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await fx.srv?.close();
    fx.srv = undefined;
  });
  return fx;
}
