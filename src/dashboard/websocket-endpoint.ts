/**
 * `/events`: accepts WebSocket upgrades (ws in noServer mode, so every check runs before
 * the handshake is answered) and connects each socket to the hub.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AccessPolicy } from './access-control.js';
import type { DashboardHub } from './hub.js';

/** Browsers never send anything but pongs; anything large is not our UI. */
const MAX_CLIENT_PAYLOAD = 4096;
/** Each client costs a bounded queue; the number of clients is bounded too. */
export const DEFAULT_MAX_CLIENTS = 100;

function reject(socket: Duplex, status: number, reason: string): void {
  const body = reason + '\n';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.on('error', () => {});
}

/** `?since=N` as a safe integer, or undefined when absent or malformed (-> fresh snapshot). */
export function parseSince(value: string | null): number | undefined {
  if (value === null || !/^\d{1,16}$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

export class WebSocketEndpoint {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_PAYLOAD, perMessageDeflate: false });

  constructor(
    private readonly hub: DashboardHub,
    private readonly policy: AccessPolicy,
    private readonly maxClients = DEFAULT_MAX_CLIENTS,
  ) {}

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const host = req.headers.host;
    if (!this.policy.checkHost(host)) return reject(socket, 403, 'Forbidden host');
    if (url.pathname !== '/events') return reject(socket, 404, 'Not Found');
    if (!this.policy.checkOrigin(req.headers.origin, host)) return reject(socket, 403, 'Forbidden origin');
    if (this.policy.authenticate(req, url.searchParams.get('token')) !== 'ok') return reject(socket, 401, 'Unauthorized');
    if (this.hub.clientCount >= this.maxClients) return reject(socket, 503, 'Too many dashboard clients');
    const since = parseSince(url.searchParams.get('since'));
    const instance = url.searchParams.get('instance') ?? undefined;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, since, instance));
  }

  private attach(ws: WebSocket, since: number | undefined, instance: string | undefined): void {
    const client = this.hub.connect(
      {
        send: (data, done) => ws.send(data, done),
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        ping: () => ws.ping(),
        terminate: () => ws.terminate(),
      },
      since,
      instance,
    );
    ws.on('pong', () => this.hub.pong(client));
    ws.on('close', () => this.hub.disconnect(client));
    ws.on('error', () => ws.terminate());
    // The dashboard is read-only: client messages are ignored.
  }

  dropAll(): void {
    for (const ws of this.wss.clients) ws.terminate();
  }

  close(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}
