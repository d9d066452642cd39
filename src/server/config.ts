/** Options of the embedded BITS server, with IIS's defaults where IIS has one. */

export type ReplyMode = 'none' | 'sha256';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface BitsServerOptions {
  /** Upload root; created if missing. Destinations are paths under it. */
  root: string;
  /** Where to listen; port 0 picks a free port. Default 127.0.0.1:8090. */
  listen?: { host: string; port: number };
  /** `BITS-Host-Id` for Create-Session Acks (IIS BITSHostId). */
  hostId?: string;
  /** Seconds (IIS BITSHostIdFallbackTimeout); sent with hostId. */
  hostIdFallbackTimeout?: number;
  /** Largest upload in bytes (IIS BITSMaximumUploadSize). Default: unlimited. */
  maxUpload?: number;
  /** `sha256`: act as an upload-reply server whose reply is the upload's digest. */
  replyMode?: ReplyMode;
  /** Replace existing destinations (IIS BITSAllowOverwrites). Default false → 409. */
  allowOverwrite?: boolean;
  /** Idle time after which a session is deleted (IIS BITSSessionTimeout, 14 days). */
  sessionTimeoutMs?: number;
  /** Open sessions at most (IIS caps sessions per user at 50); beyond: 503. Default 10 000. */
  maxSessions?: number;
  logger?: Logger;
}

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 8090 };
export const DEFAULT_SESSION_TIMEOUT_MS = 14 * 24 * 3600 * 1000;
export const DEFAULT_HOST_ID_FALLBACK_TIMEOUT_S = 86_400;
export const DEFAULT_MAX_SESSIONS = 10_000;

/** URL path prefix under which upload-reply replies are served by GET. */
export const REPLY_PATH_PREFIX = '/.bitsgate-reply/';

export interface ResolvedConfig {
  /** Real path of the root (symlinks resolved). */
  realRoot: string;
  /** Hidden directory for temp files under the root. */
  workDir: string;
  hostId?: string;
  hostIdFallbackTimeout?: number;
  maxUpload: number;
  replyMode: ReplyMode;
  allowOverwrite: boolean;
  sessionTimeoutMs: number;
  maxSessions: number;
  logger: Logger;
  now: () => number;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
