/**
 * What works direct must work through the gateway (issue 15, part 10): two server
 * behaviours seen on independent BITS servers, played by a scripted BITS server on raw
 * sockets, and our upload client (it writes BITS_POST) run against it directly and through
 * the gateway. Through the gateway, no 502 may appear where the server never sent one.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/client/index.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import type { Observation } from '../../src/observation.js';

const PROTOCOL = '{7df0354d-249b-430f-820d-3d2a9bef4931}';
const SESSION = '{5b0f6c1e-2d3a-4e8b-9c7d-1a2b3c4d5e6f}';

type Quirk = 'close-after-every-response' | 'close-on-connection-header';

interface ScriptedBits {
  port: number;
  /** Bytes of the committed file, once Close-Session arrived. */
  committed: Buffer | undefined;
  connections: number;
  close(): Promise<void>;
}

/** A minimal BITS upload server with one quirk; Content-Length bodies only, like BITS clients send. */
async function startQuirkyServer(quirk: Quirk): Promise<ScriptedBits> {
  let data = Buffer.alloc(0);
  const sockets = new Set<net.Socket>();
  const handle: ScriptedBits = { port: 0, committed: undefined, connections: 0, close: async () => {} };
  const server = net.createServer((socket) => {
    handle.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let closing = false; // what arrives after the decision to close is never answered
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0 || closing) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n').slice(1);
        const get = (n: string) => lines.find((l) => l.toLowerCase().startsWith(`${n.toLowerCase()}:`))?.split(':').slice(1).join(':').trim();
        const length = Number(get('Content-Length') ?? 0);
        if (buf.length < end + 4 + length) return;
        const body = buf.subarray(end + 4, end + 4 + length);
        buf = buf.subarray(end + 4 + length);
        const headers = [['BITS-Packet-Type', 'Ack']];
        switch (get('BITS-Packet-Type')?.toLowerCase()) {
          case 'create-session':
            data = Buffer.alloc(0);
            headers.push(['BITS-Protocol', PROTOCOL], ['BITS-Session-Id', SESSION]);
            break;
          case 'fragment': {
            const start = Number(/bytes (\d+)-/.exec(get('Content-Range') ?? '')?.[1] ?? -1);
            if (start === data.length) data = Buffer.concat([data, body]);
            headers.push(['BITS-Session-Id', SESSION], ['BITS-Received-Content-Range', String(data.length)]);
            break;
          }
          case 'close-session':
            handle.committed = data;
            headers.push(['BITS-Session-Id', SESSION]);
            break;
        }
        socket.write(`HTTP/1.1 200 OK\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}Content-Length: 0\r\n\r\n`);
        // Neither says `Connection: close`; both just close, the first a moment after its
        // response (long enough for a client's next request to be on its way).
        if (quirk === 'close-after-every-response' || get('Connection') !== undefined) {
          closing = true;
          setTimeout(() => socket.end(), quirk === 'close-after-every-response' ? 20 : 0);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  handle.port = (server.address() as net.AddressInfo).port;
  handle.close = () => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  });
  return handle;
}

let dir: string;
let file: string;
let content: Buffer;
const running: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-quirky-'));
  content = randomBytes(5 * 4096 + 123);
  file = path.join(dir, 'in.bin');
  await fs.writeFile(file, content);
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const r of running.splice(0)) await r.close();
});

const sha = (b: Buffer | undefined) => createHash('sha256').update(b ?? Buffer.alloc(0)).digest('hex');
// noPing: after a lost Ack the client reconnects and Pings first, and against a server that
// answers one request per connection that Ping uses the connection up (a client matter, not
// the gateway's); the test is about what the gateway makes of the closes.
const upload = (port: number) => uploadFile({ url: `http://127.0.0.1:${port}/up/f.bin`, file, fragmentSize: 4096, backoffBaseMs: 10, backoffMaxMs: 50, retryForMs: 3_000, noPing: true });

describe.each<Quirk>(['close-after-every-response', 'close-on-connection-header'])('a BITS server that does %s', (quirk) => {
  it('completes the upload direct', async () => {
    const server = await startQuirkyServer(quirk);
    running.push(server);
    const r = await upload(server.port);
    expect(r.closed).toBe(true);
    expect(sha(server.committed)).toBe(sha(content));
  });

  it('completes the upload through the gateway, with no 502 the server never sent', async () => {
    const server = await startQuirkyServer(quirk);
    const seen: Observation[] = [];
    const gateway: Gateway = await startGateway({
      upstream: new URL(`http://127.0.0.1:${server.port}`), listen: { host: '127.0.0.1', port: 0 },
      sinks: [{ onObservation: (o) => seen.push(o) }],
    });
    running.push(gateway, server);
    const r = await upload(gateway.address.port);
    expect(r.closed).toBe(true);
    expect(sha(server.committed)).toBe(sha(content));
    expect(seen.filter((o) => o.status === 502)).toEqual([]);
    // Requests that met a closing upstream connection are recorded as such, never answered.
    for (const o of seen.filter((x) => x.status === undefined)) expect(o.error).toBe('upstream-closed');
    if (quirk === 'close-on-connection-header') {
      // The gateway adds no Connection header of its own: the server closes exactly as often
      // as it does for the client direct (our client's agent sends `Connection: keep-alive`).
      const direct = await startQuirkyServer(quirk);
      running.push(direct);
      await upload(direct.port);
      expect(server.connections).toBe(direct.connections);
    }
  });
});
