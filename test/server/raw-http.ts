/**
 * Test helper: HTTP/1.1 over a raw socket, so requests can use the literal method
 * `BITS_POST` (as real BITS clients do) and responses are read byte-exactly.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  reason: string;
  headers: [string, string][];
  body: Buffer;
  /** Value of the first header named `name` (any case). */
  get(name: string): string | undefined;
}

/** A request head (+ body) with `Host` first; Content-Length added when a body is given and none is set. */
export function buildRequest(method: string, target: string, headers: [string, string][], body?: Buffer): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1'];
  const hasLength = headers.some(([n]) => n.toLowerCase() === 'content-length');
  for (const [n, v] of headers) lines.push(`${n}: ${v}`);
  if (body && !hasLength) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return body ? Buffer.concat([head, body]) : head;
}

export function bits(target: string, headers: [string, string][], body?: Buffer): Buffer {
  return buildRequest('BITS_POST', target, headers, body);
}

/** One kept-alive connection; responses are read in order. */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async more(): Promise<void> {
    if (this.closed) throw new Error(`connection closed; buffered: ${JSON.stringify(this.buffer.toString('latin1').slice(0, 200))}`);
    await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Next response (a 100 Continue is returned on its own). Throws if the connection closes first. */
  async read(): Promise<RawResponse> {
    let end: number;
    while ((end = this.buffer.indexOf('\r\n\r\n')) === -1) await this.more();
    const head = this.buffer.subarray(0, end).toString('latin1');
    const [statusLine, ...lines] = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine!);
    if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
    const headers = lines.map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i), l.slice(i + 1).trim()] as [string, string];
    });
    const get = (name: string) => headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
    const status = Number(m[1]);
    const length = status < 200 ? 0 : Number(get('content-length') ?? NaN);
    if (!Number.isFinite(length)) throw new Error(`response without Content-Length: ${head}`);
    while (this.buffer.length < end + 4 + length) await this.more();
    const body = Buffer.from(this.buffer.subarray(end + 4, end + 4 + length));
    this.buffer = this.buffer.subarray(end + 4 + length);
    return { status, reason: m[2]!, headers, body, get };
  }

  async request(data: Buffer | string): Promise<RawResponse> {
    this.write(data);
    return this.read();
  }

  /** Resolves when the peer has closed the connection. */
  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One request on a fresh connection. */
export async function exchange(port: number, data: Buffer | string): Promise<RawResponse> {
  const c = await RawConnection.open(port);
  try {
    return await c.request(data);
  } finally {
    c.close();
  }
}
