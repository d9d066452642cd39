/**
 * The embedded BITS upload server: `bitsgate serve`, and the default upstream of
 * `npm start`. It runs on the gateway's HTTP/1.1 listener because Node's http.Server
 * refuses the `BITS_POST` method.
 */
import type { AddressInfo, Socket } from 'node:net';
import { createHttp1Server } from '../gateway/http1/index.js';
import { createTlsListener } from '../gateway/tls-listener.js';
import { createBitsHandler } from './bits-handler.js';
import {
  DEFAULT_CLEANUP_INTERVAL_MS,
  DEFAULT_HOST_ID_FALLBACK_TIMEOUT_S,
  DEFAULT_LISTEN,
  DEFAULT_NOTIFICATION_TIMEOUT_MS,
  DEFAULT_SESSION_LIMIT,
  DEFAULT_SESSION_TIMEOUT_MS,
  checkReplyPrefix,
  silentLogger,
  type BitsServerOptions,
  type ResolvedConfig,
} from './config.js';
import { SessionStore, type UploadSession } from './session-store.js';
import { releaseFiles } from './upload-completion.js';
import { realCommitOps } from './upload-file.js';
import { openRootAndWorkDir } from './work-dir.js';

export type { BitsServerOptions, CommitOn, ReplyMode, Logger } from './config.js';
export { checkReplyPrefix } from './config.js';
export { ServerStartError } from './work-dir.js';
export type { CommitOps } from './upload-file.js';

export interface BitsServer {
  /** Base URL, e.g. `http://127.0.0.1:8090/`. */
  url: string;
  address: { host: string; port: number };
  /** Sessions currently open (for tests and the status line). */
  sessionCount(): number;
  /**
   * Run IIS's cleanup now (also run every cleanupIntervalMs): sessions without progress for
   * the session timeout, then each user's newest sessions over the session limit.
   */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}

export async function startBitsServer(options: BitsServerOptions): Promise<BitsServer> {
  if (options.replyPrefix !== undefined) {
    const prefix = checkReplyPrefix(options.replyPrefix);
    if (!prefix.ok) throw new RangeError(`replyPrefix ${prefix.reason}`);
  }
  if (options.notification && options.replyMode === 'sha256') {
    throw new RangeError('notification and replyMode sha256 are two server applications; choose one');
  }
  const opened = await openRootAndWorkDir(options.root);

  const config: ResolvedConfig = {
    realRoot: opened.realRoot,
    root: opened.root,
    work: opened.work,
    hostId: options.hostId,
    hostIdFallbackTimeout: options.hostIdFallbackTimeout ?? DEFAULT_HOST_ID_FALLBACK_TIMEOUT_S,
    maxUpload: options.maxUpload ?? Number.MAX_SAFE_INTEGER,
    replyMode: options.replyMode ?? 'none',
    replyPrefix: options.replyPrefix,
    notification: options.notification && {
      url: options.notification.url,
      type: options.notification.type,
      timeoutMs: options.notification.timeoutMs ?? DEFAULT_NOTIFICATION_TIMEOUT_MS,
    },
    allowOverwrite: options.allowOverwrite ?? false,
    sessionTimeoutMs: options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
    commitOn: options.commitOn ?? 'final-fragment',
    sessionLimit: options.sessionLimit ?? DEFAULT_SESSION_LIMIT,
    logger: options.logger ?? silentLogger,
    now: options.now ?? Date.now,
    commitOps: { ...realCommitOps, ...options.commitOps },
  };
  const store = new SessionStore();
  const server = createHttp1Server(createBitsHandler(config, store));
  // Kept-alive client connections would hold close() open forever: track and end them.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const drop = (sessions: UploadSession[], why: string) =>
    Promise.all(sessions.map((session) => {
      config.logger.info({ sessionId: session.id, user: session.user }, why);
      return releaseFiles(config, session);
    }));
  const expire = () => drop(store.expire(config.now(), config.sessionTimeoutMs), 'session expired');
  const cleanup = async () => {
    await expire();
    await drop(store.overLimit(config.sessionLimit), 'session deleted: over the per-user session limit (newest first)');
  };
  // Sweep often enough that a session never outlives its timeout by much more than a quarter.
  const sweepEvery = Math.min(60_000, Math.max(50, Math.floor(config.sessionTimeoutMs / 4)));
  const sweeper = setInterval(() => void expire(), sweepEvery);
  sweeper.unref();
  const cleaner = setInterval(() => void cleanup(), Math.min(options.cleanupIntervalMs ?? DEFAULT_CLEANUP_INTERVAL_MS, 2 ** 31 - 1));
  cleaner.unref();

  // With TLS the HTTP/1.1 server never listens itself: decrypted sockets are handed to it.
  let tlsListener: Awaited<ReturnType<typeof createTlsListener>> | undefined;
  let listening: typeof server = server;
  const listen = options.listen ?? DEFAULT_LISTEN;
  try {
    if (options.tls) {
      tlsListener = await createTlsListener({
        credentials: options.tls,
        onSecureConnection: (socket) => server.emit('connection', socket),
        onTlsError: (r) => config.logger.warn({ cause: r.cause, code: r.code }, `tls: ${r.message}`),
      });
      listening = tlsListener.server;
    }
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(listen.port, listen.host, () => {
        listening.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    tlsListener?.close();
    clearInterval(sweeper);
    clearInterval(cleaner);
    await opened.work.close();
    await opened.root.close();
    throw err;
  }
  // After listen, a server error (e.g. EMFILE on accept) must not crash the process.
  listening.on('error', (err) => config.logger.error({ err }, 'server error'));
  const bound = listening.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `${tlsListener ? 'https' : 'http'}://${host}:${bound.port}/`,
    address: { host: bound.address, port: bound.port },
    sessionCount: () => store.size,
    cleanup,
    async close() {
      clearInterval(sweeper);
      clearInterval(cleaner);
      await new Promise<void>((resolve) => {
        listening.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        tlsListener?.close();
      });
      // Sessions live in memory only: their temp files are useless after shutdown.
      const open = [...store.all()];
      for (const session of open) store.remove(session);
      await Promise.all(open.map((s) => releaseFiles(config, s)));
      await opened.work.close();
      await opened.root.close();
    },
  };
}
