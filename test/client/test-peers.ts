/**
 * Test peers for the client: a TCP relay that can cut a connection on cue, and a
 * scripted BITS server that answers each request from a function (to force 416s, 413s,
 * 5xx on Close, lost Acks...). Both can go down (port closed, live connections cut) and
 * come back up on the same port, to stage an outage.
 */
import net from 'node:net';

/** Closing the port and reopening it: an outage as a client sees it (ECONNREFUSED meanwhile). */
export interface Switchable {
  port: number;
  /** Stop listening and cut every live connection. */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

function switchable(server: net.Server, sockets: Set<net.Socket>): Promise<Switchable> {
  let port = 0;
  let listening = false;
  const down = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      if (!listening) return r();
      listening = false;
      server.close(() => r());
    });
  const up = () =>
    new Promise<void>((r, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        listening = true;
        port = (server.address() as net.AddressInfo).port;
        r();
      });
    });
  const handle: Switchable = {
    get port() {
      return port;
    },
    down,
    up,
    close: down,
  };
  return up().then(() => handle);
}

export interface Relay extends Switchable {
  /** Client→server bytes seen in total. */
  upBytes(): number;
}

/**
 * Relays 127.0.0.1:port ↔ target. `cut(upBytes, downChunk)` is asked on every chunk in
 * either direction; when it returns true, both sockets of that connection are destroyed.
 */
export async function startRelay(targetPort: number, cut: (ev: { dir: 'up' | 'down'; upTotal: number; chunk: Buffer }) => boolean): Promise<Relay> {
  let upTotal = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      upTotal += chunk.length;
      if (cut({ dir: 'up', upTotal, chunk })) return kill();
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cut({ dir: 'down', upTotal, chunk })) return kill();
      client.write(chunk);
    });
    for (const s of [client, upstream]) {
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        kill();
      });
    }
  });
  return Object.assign(await switchable(server, sockets), { upBytes: () => upTotal });
}

export interface SeenRequest {
  /** Date.now() when the whole request had arrived. */
  at: number;
  /** Which TCP connection carried it (1, 2, ... in accept order). */
  connection: number;
  method: string;
  target: string;
  headers: [string, string][];
  body: Buffer;
  get(name: string): string | undefined;
}

export interface Scripted extends Switchable {
  requests: SeenRequest[];
}

export interface ScriptedAnswer {
  status: number;
  headers: [string, string][];
  body?: string;
}

/**
 * A minimal HTTP/1.1 server (Content-Length bodies only) answering from `answer`. The
 * answer 'drop' closes the connection after the whole request arrived, without a byte of
 * response: the lost Ack.
 */
export async function startScriptedServer(answer: (req: SeenRequest, index: number) => ScriptedAnswer | 'drop'): Promise<Scripted> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const [line, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
        const [method, target] = line!.split(' ');
        const headers = lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as [string, string]);
        const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n.toLowerCase())?.[1];
        const length = Number(get('content-length') ?? 0);
        if (buf.length < end + 4 + length) return;
        const req: SeenRequest = { at: Date.now(), connection, method: method!, target: target!, headers, body: buf.subarray(end + 4, end + 4 + length), get };
        buf = buf.subarray(end + 4 + length);
        requests.push(req);
        const res = answer(req, requests.length - 1);
        if (res === 'drop') {
          socket.destroy();
          return;
        }
        const body = Buffer.from(res.body ?? '');
        const head = [`HTTP/1.1 ${res.status} X`, ...res.headers.map(([n, v]) => `${n}: ${v}`), `Content-Length: ${body.length}`].join('\r\n');
        socket.write(Buffer.concat([Buffer.from(head + '\r\n\r\n'), body]));
      }
    });
  });
  return Object.assign(await switchable(server, sockets), { requests });
}
