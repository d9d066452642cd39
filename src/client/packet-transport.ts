/**
 * Sends one BITS packet (or the reply GET) and returns the whole response.
 *
 * Why Node's http client and not a raw socket: it writes the method `BITS_POST` verbatim
 * (only Node's *server* refuses it), its response parser already handles Content-Length,
 * chunked and close-delimited bodies strictly, and a dedicated keep-alive Agent with
 * maxSockets 1 gives exactly the "one kept-alive connection" a BITS client uses, which
 * reconnects by itself after the server or a proxy closes it.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import type { HeaderList } from '../observation.js';

export interface PacketResponse {
  status: number;
  headers: HeaderList;
  body: Buffer;
}

/** The connection broke or timed out before a complete response: a transient failure. */
export class ConnectionLostError extends Error {
  override name = 'ConnectionLostError';
  constructor(
    readonly code: string,
    message: string,
    /** A connection to the server was open for this request (false: the connect itself failed). */
    readonly connected: boolean,
  ) {
    super(message);
  }
}

/** The caller aborted the request (Ctrl-C): not a failure of the server. */
export class RequestAbortedError extends Error {
  override name = 'RequestAbortedError';
}

export interface TransportOptions {
  /** Inactivity limit per request (no bytes either way). */
  idleTimeoutMs?: number;
  /** Largest response body we accept (Acks are empty; replies are small). */
  maxResponseBytes?: number;
  /** Extra headers on every request (e.g. a test marker). */
  headers?: HeaderList;
  /** https:// URLs: trust this CA too (PEM), or accept any certificate. */
  tls?: { ca?: Buffer; insecure?: boolean };
}

export interface PacketRequest {
  method: string;
  url: URL;
  headers: HeaderList;
  /** A Buffer, or a stream whose length the headers' Content-Length states. */
  body?: Buffer | Readable;
}

export class PacketTransport {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  /** The same single kept-alive connection, over TLS (created on the first https:// request). */
  private httpsAgent: https.Agent | undefined;
  private readonly tlsOptions: TransportOptions['tls'];
  private readonly idleTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly extraHeaders: HeaderList;

  constructor(options: TransportOptions = {}) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.maxResponseBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
    this.extraHeaders = options.headers ?? [];
    this.tlsOptions = options.tls;
  }

  private agentFor(url: URL): http.Agent {
    if (url.protocol !== 'https:') return this.agent;
    this.httpsAgent ??= new https.Agent({
      keepAlive: true, maxSockets: 1, maxFreeSockets: 1, minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'],
      // `ca` replaces the trusted list: keep the bundled roots beside the private CA.
      ...(this.tlsOptions?.ca && { ca: [...tls.rootCertificates, this.tlsOptions.ca.toString('utf8')] }),
      rejectUnauthorized: !this.tlsOptions?.insecure,
    });
    return this.httpsAgent;
  }

  send(packet: PacketRequest, signal?: AbortSignal): Promise<PacketResponse> {
    return new Promise<PacketResponse>((resolve, reject) => {
      let settled = false;
      let connected = false;
      const settle = () => {
        settled = true;
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (code: string, message: string) => {
        if (settled) return;
        settle();
        req.destroy();
        if (packet.body && !Buffer.isBuffer(packet.body)) packet.body.destroy();
        reject(new ConnectionLostError(code, message, connected));
      };
      const onAbort = () => {
        if (settled) return;
        settle();
        req.destroy();
        if (packet.body && !Buffer.isBuffer(packet.body)) packet.body.destroy();
        reject(new RequestAbortedError('aborted'));
      };
      const flat: string[] = [];
      // Host first, as every client writes it; header order and case are kept as given.
      flat.push('Host', packet.url.host);
      for (const [name, value] of [...packet.headers, ...this.extraHeaders]) flat.push(name, value);
      const secure = packet.url.protocol === 'https:';
      const hostname = packet.url.hostname.replace(/^\[|\]$/g, '');
      const req = (secure ? https : http).request({
        agent: this.agentFor(packet.url),
        method: packet.method,
        host: hostname,
        port: packet.url.port || (secure ? 443 : 80),
        // Host is in the raw header list, where Node's SNI-from-Host logic cannot see it.
        ...(secure && !net.isIP(hostname) && { servername: hostname }),
        path: packet.url.pathname + packet.url.search,
        headers: flat as unknown as http.OutgoingHttpHeaders,
        setHost: false,
      });
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      // A kept-alive socket is connected already; a new one is once 'connect' fires. A
      // failed connect (refused, unreachable) is what the BITS-Host-Id fallback timer counts.
      req.on('socket', (socket) => {
        if (!socket.connecting) connected = true;
        else socket.once('connect', () => (connected = true));
      });
      req.setTimeout(this.idleTimeoutMs, () => fail('ETIMEDOUT', `no response activity for ${this.idleTimeoutMs} ms`));
      req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'ECONNRESET', err.message));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxResponseBytes) {
            fail('ETOOBIG', `response body larger than ${this.maxResponseBytes} bytes`);
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'ECONNRESET', err.message));
        res.on('aborted', () => fail('ECONNRESET', 'response aborted'));
        res.on('end', () => {
          if (settled) return;
          if (!res.complete) return fail('ECONNRESET', 'response ended early');
          settle();
          if (!req.writableFinished) {
            // The server answered before reading the whole body (a 416, 413, 500...). Node's
            // client then waits forever for a 'drain' (seen on Node 20): drop the connection
            // instead; the next packet opens a fresh one.
            if (packet.body && !Buffer.isBuffer(packet.body)) {
              packet.body.unpipe(req);
              packet.body.destroy();
            }
            req.destroy();
          }
          const raw = res.rawHeaders;
          const headers: [string, string][] = [];
          for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i]!, raw[i + 1]!]);
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
        });
      });
      const body = packet.body;
      if (body === undefined) {
        req.end();
      } else if (Buffer.isBuffer(body)) {
        req.end(body);
      } else {
        body.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'EIO', `reading the file: ${err.message}`));
        body.pipe(req);
      }
    });
  }

  /** Drop the connection (used after errors, and when done). */
  close(): void {
    this.agent.destroy();
    this.httpsAgent?.destroy();
  }
}
