/**
 * TLS in front of the strict HTTP/1.1 listener.
 *
 * Theory of operation. The listening socket is a plain `net.Server` (allowHalfOpen, so a
 * client's close_notify/FIN after its request still gets the answer). Each accepted socket
 * is peeked: a first byte 0x16 is a TLS handshake record and the socket is handed to a
 * tls.Server that never listens itself (it keeps its handshake timeout, SNI and
 * `tlsClientError`); anything else is plain HTTP spoken to the TLS port and gets a short
 * 400 instead of the 0 bytes OpenSSL would answer (a `BITS_POST` arrives there as
 * WRONG_VERSION_NUMBER, which nobody could tell from a broken handshake). Decrypted
 * sockets go to `onSecureConnection` (the HTTP/1.1 listener), unchanged.
 *
 * Certificates reload in place (`reload()`: SIGHUP, or a change of the files): the default
 * context through setSecureContext (full options each time: it rebuilds everything), the
 * SNI names through our own Map read by SNICallback (addContext would only append).
 * Established connections keep the context they negotiated.
 *
 * Every failure is reported once through `onTlsError` with a bounded cause; the socket is
 * destroyed (Node's handshake timeout only emits, it does not close). Nothing here throws
 * into the event loop.
 */
import { unwatchFile, watchFile } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { contextForName, credentialFiles, explainCredentialError, loadCredentials, type TlsCredentials } from './tls-credentials.js';

export type TlsErrorCause =
  | 'plain-http'
  | 'handshake-timeout'
  | 'client-certificate'
  | 'protocol-version'
  | 'no-application-protocol'
  | 'handshake-aborted'
  | 'handshake-failed'
  | 'reload-failed';

export interface TlsErrorReport {
  cause: TlsErrorCause;
  /** OpenSSL / Node error code when there is one. */
  code?: string;
  message: string;
  remoteAddress?: string;
}

export interface TlsListenerOptions {
  credentials: TlsCredentials;
  /** A handshake not complete in this long closes the socket (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Reload when a certificate file changes, polled at this interval (0: never). */
  watchIntervalMs?: number;
  onSecureConnection(socket: tls.TLSSocket): void;
  onTlsError?(report: TlsErrorReport): void;
  /** After a successful reload (for the log). */
  onReload?(): void;
  /**
   * 48 bytes of session ticket keys. Node draws random ones per process, so the workers of
   * `--workers N` (src/workers/) share one set drawn by the primary: a ticket issued by one
   * worker resumes on another.
   */
  ticketKeys?: Buffer;
}

export interface TlsListener {
  /** The listening socket (not yet listening). */
  server: net.Server;
  /** Re-reads every certificate; keeps the old ones when any file fails. */
  reload(): Promise<void>;
  /** Stops watching and destroys every socket still open. */
  close(): void;
}

export const TLS_DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  watchIntervalMs: 2_000,
} as const;

const TLS_HANDSHAKE_RECORD = 0x16;
const PLAIN_HTTP_BODY = 'This port speaks HTTPS: use an https:// URL.\n';
const PLAIN_HTTP_ANSWER =
  'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n' +
  `Content-Length: ${Buffer.byteLength(PLAIN_HTTP_BODY)}\r\nConnection: close\r\n\r\n${PLAIN_HTTP_BODY}`;
/** After answering plain HTTP, read and drop input this long so the client sees the 400, not a reset. */
const LINGER_MS = 2_000;

export async function createTlsListener(options: TlsListenerOptions): Promise<TlsListener> {
  const handshakeTimeout = options.handshakeTimeoutMs ?? TLS_DEFAULTS.handshakeTimeoutMs;
  const report = (r: TlsErrorReport) => options.onTlsError?.(r);
  let loaded = await loadCredentials(options.credentials);
  const wantClientCert = options.credentials.clientCaFile !== undefined;

  const tlsServer = tls.createServer({
    ...loaded.defaultOptions,
    ALPNProtocols: ['http/1.1'],
    handshakeTimeout,
    requestCert: wantClientCert,
    rejectUnauthorized: wantClientCert,
    SNICallback: (servername, cb) => cb(null, contextForName(loaded.byName, servername)),
    ...(options.ticketKeys && { ticketKeys: options.ticketKeys }),
  });
  tlsServer.on('secureConnection', (socket: tls.TLSSocket) => options.onSecureConnection(socket));
  tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    report({ ...classifyHandshakeError(err), remoteAddress: socket.remoteAddress });
    socket.destroy();
  });

  // Every accepted socket until it closes: close() ends those still in their handshake
  // (established ones are the HTTP listener's, and are closed by it first).
  const pending = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false });
  server.on('connection', (raw) => {
    pending.add(raw);
    raw.on('error', noop);
    const remoteAddress = raw.remoteAddress;
    // Before the first byte no TLS timer runs yet: a client that sends nothing is cut here.
    const silent = setTimeout(() => {
      report({ cause: 'handshake-timeout', message: 'no bytes before the handshake timeout', remoteAddress });
      raw.destroy();
    }, handshakeTimeout);
    raw.once('close', () => {
      clearTimeout(silent);
      pending.delete(raw);
    });
    raw.once('data', (chunk: Buffer) => {
      clearTimeout(silent);
      raw.pause();
      raw.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        // The TLS socket reads what was unshifted before it takes over the handle.
        tlsServer.emit('connection', raw);
        return;
      }
      report({ cause: 'plain-http', message: `plain ${describeFirstLine(chunk)} sent to the TLS port`, remoteAddress });
      answerPlainHttp(raw);
    });
  });
  const reload = async (): Promise<void> => {
    try {
      const next = await loadCredentials(options.credentials);
      tlsServer.setSecureContext(next.defaultOptions);
      loaded = next;
      options.onReload?.();
    } catch (err) {
      report({ cause: 'reload-failed', message: `certificates not reloaded, the previous ones stay in use: ${explainCredentialError(err)}` });
    }
  };

  const files = credentialFiles(options.credentials);
  const interval = options.watchIntervalMs ?? TLS_DEFAULTS.watchIntervalMs;
  let debounce: NodeJS.Timeout | undefined;
  const onFileChange = (curr: { mtimeMs: number }, prev: { mtimeMs: number }) => {
    if (curr.mtimeMs === prev.mtimeMs) return;
    // A renewal writes the certificate and the key one after the other: reload once, after both.
    clearTimeout(debounce);
    debounce = setTimeout(() => void reload(), Math.min(500, interval));
    debounce.unref();
  };
  if (interval > 0) {
    // Polling (watchFile), not fs.watch: it survives files replaced by rename (certbot,
    // win-acme) and behaves the same on Windows.
    for (const file of files) watchFile(file, { interval, persistent: false }, onFileChange);
  }

  return {
    server,
    reload,
    close() {
      clearTimeout(debounce);
      for (const file of files) unwatchFile(file, onFileChange);
      for (const raw of pending) raw.destroy();
      pending.clear();
    },
  };
}

/** Bounded cause of a failed handshake (labels a metric: never free text). */
export function classifyHandshakeError(err: NodeJS.ErrnoException): Omit<TlsErrorReport, 'remoteAddress'> {
  const code = err.code ?? '';
  const message = err.message;
  const cause: TlsErrorCause =
    code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake-timeout'
      // Before the PROTOCOL test: ERR_SSL_NO_APPLICATION_PROTOCOL contains "PROTOCOL" too.
      : /APPLICATION_PROTOCOL/.test(code) ? 'no-application-protocol'
        : /CERTIFICATE|UNKNOWN_CA|CERT_/.test(code) ? 'client-certificate'
          : /PROTOCOL|VERSION/.test(code) ? 'protocol-version'
            : code === 'ECONNRESET' || code === 'EPIPE' ? 'handshake-aborted'
              : 'handshake-failed';
  return { cause, ...(code && { code }), message };
}

function answerPlainHttp(raw: net.Socket): void {
  raw.end(PLAIN_HTTP_ANSWER);
  raw.resume();
  raw.on('data', noop);
  setTimeout(() => raw.destroy(), LINGER_MS).unref();
}

/** `BITS_POST /x` from the first bytes, printable ASCII only (log-safe). */
function describeFirstLine(chunk: Buffer): string {
  const line = chunk.subarray(0, 64).toString('latin1').split('\r\n')[0]!.split(' ').slice(0, 2).join(' ');
  const safe = line.replace(/[^\x21-\x7e ]/g, '?');
  return safe ? `"${safe}"` : 'bytes';
}

function noop(): void {}
