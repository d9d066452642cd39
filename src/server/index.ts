/**
 * The embedded BITS upload server: `bitsgate serve`, and the default upstream of
 * `npm start`. It runs on the gateway's HTTP/1.1 listener because Node's http.Server
 * refuses the `BITS_POST` method.
 */
import fs from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { createHttp1Server } from '../gateway/http1/index.js';
import { createBitsHandler } from './bits-handler.js';
import {
  DEFAULT_HOST_ID_FALLBACK_TIMEOUT_S,
  DEFAULT_LISTEN,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_SESSION_TIMEOUT_MS,
  checkReplyPrefix,
  silentLogger,
  type BitsServerOptions,
  type ResolvedConfig,
} from './config.js';
import { SessionStore } from './session-store.js';
import { WORK_DIR_NAME } from './upload-path.js';

export type { BitsServerOptions, ReplyMode, Logger } from './config.js';
export { checkReplyPrefix } from './config.js';

export interface BitsServer {
  /** Base URL, e.g. `http://127.0.0.1:8090/`. */
  url: string;
  address: { host: string; port: number };
  /** Sessions currently open (for tests and the status line). */
  sessionCount(): number;
  close(): Promise<void>;
}

export async function startBitsServer(options: BitsServerOptions): Promise<BitsServer> {
  if (options.replyPrefix !== undefined) {
    const prefix = checkReplyPrefix(options.replyPrefix);
    if (!prefix.ok) throw new RangeError(`replyPrefix ${prefix.reason}`);
  }
  const root = path.resolve(options.root);
  await fs.mkdir(root, { recursive: true });
  const realRoot = await fs.realpath(root);
  const workDir = path.join(realRoot, WORK_DIR_NAME);
  await fs.mkdir(workDir, { recursive: true, mode: 0o700 });
  await removeStaleTempFiles(workDir);

  const config: ResolvedConfig = {
    realRoot,
    workDir,
    hostId: options.hostId,
    hostIdFallbackTimeout: options.hostIdFallbackTimeout ?? DEFAULT_HOST_ID_FALLBACK_TIMEOUT_S,
    maxUpload: options.maxUpload ?? Number.MAX_SAFE_INTEGER,
    replyMode: options.replyMode ?? 'none',
    replyPrefix: options.replyPrefix,
    allowOverwrite: options.allowOverwrite ?? false,
    sessionTimeoutMs: options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
    maxSessions: options.maxSessions ?? DEFAULT_MAX_SESSIONS,
    logger: options.logger ?? silentLogger,
    now: Date.now,
  };
  const store = new SessionStore();
  const server = createHttp1Server(createBitsHandler(config, store));
  // Kept-alive client connections would hold close() open forever: track and end them.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  // Sweep often enough that a session never outlives its timeout by much more than a quarter.
  const sweepEvery = Math.min(60_000, Math.max(50, Math.floor(config.sessionTimeoutMs / 4)));
  const sweeper = setInterval(() => {
    for (const session of store.expire(config.now(), config.sessionTimeoutMs)) {
      config.logger.info({ sessionId: session.id }, 'session expired');
      void session.file.discard();
    }
  }, sweepEvery);
  sweeper.unref();

  const listen = options.listen ?? DEFAULT_LISTEN;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After listen, a server error (e.g. EMFILE on accept) must not crash the process.
  server.on('error', (err) => config.logger.error({ err }, 'server error'));
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${host}:${bound.port}/`,
    address: { host: bound.address, port: bound.port },
    sessionCount: () => store.size,
    async close() {
      clearInterval(sweeper);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      // Sessions live in memory only: their temp files are useless after shutdown.
      const open = [...store.all()];
      for (const session of open) store.remove(session);
      await Promise.all(open.map((s) => s.file.discard()));
    },
  };
}

async function removeStaleTempFiles(workDir: string): Promise<void> {
  const names = await fs.readdir(workDir).catch(() => [] as string[]);
  await Promise.all(
    names.filter((n) => n.endsWith('.part')).map((n) => fs.rm(path.join(workDir, n), { force: true }).catch(() => {})),
  );
}
