import type { TlsCredentials } from '../gateway/tls-credentials.js';
/** Options of the embedded BITS server, with IIS's defaults where IIS has one. */
import type { DirHandle } from './dir-handle.js';
import type { NotificationConfig } from './notification.js';
import type { CommitOps } from './upload-file.js';

export type ReplyMode = 'none' | 'sha256';

/**
 * When a complete plain upload reaches its destination (bits-protocol.md §5, a Conflict):
 * `final-fragment` as the Win32 docs describe IIS (written at the final Fragment Ack; a later
 * Cancel-Session keeps it), `close` as [MC-BUP] 1.3.2 reads (moved on Close-Session).
 */
export type CommitOn = 'final-fragment' | 'close';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface BitsServerOptions {
  /** Serve HTTPS (the TLS listener of the gateway, src/gateway/tls-listener.ts). */
  tls?: TlsCredentials;
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
  /**
   * With `replyMode: 'sha256'`: only uploads whose (decoded) URL path starts with this
   * prefix are upload-reply jobs; the others are plain uploads. IIS configures
   * upload-reply per virtual directory (BITSServerNotificationType), so one server hosts
   * both kinds side by side. Absent: every URL is upload-reply. Checked by checkReplyPrefix.
   */
  replyPrefix?: string;
  /**
   * Upload-reply through a real server application (IIS BITSServerNotificationType 1|2 and
   * BITSServerNotificationURL). Exclusive with `replyMode: 'sha256'`; `replyPrefix` applies.
   */
  notification?: { url: string; type: 1 | 2; timeoutMs?: number };
  /** Replace existing destinations (IIS BITSAllowOverwrites). Default false → 403 + 0x80070005. */
  allowOverwrite?: boolean;
  /** Time without progress (a 2xx Ack) after which a session is deleted (IIS BITSSessionTimeout, 14 days). */
  sessionTimeoutMs?: number;
  /** See CommitOn. Default `final-fragment` (IIS as the Win32 docs describe it). */
  commitOn?: CommitOn;
  /**
   * Sessions per user (IIS BITSSessionLimitEnable / BITSNumberOfSessionsLimit, default 50);
   * 0 disables. Never refused at Create-Session: the cleanup deletes each user's NEWEST
   * sessions over the limit, as IIS's does. Our server has no authentication, so a user is
   * a client address.
   */
  sessionLimit?: number;
  /** Period of that cleanup (IIS BITSCleanupCount/Units, every 12 h by default). */
  cleanupIntervalMs?: number;
  logger?: Logger;
  /** Clock (tests). Default Date.now. */
  now?: () => number;
  /** File-system calls of a commit (tests inject a failure). */
  commitOps?: Partial<CommitOps>;
}

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 8090 };
export const DEFAULT_SESSION_TIMEOUT_MS = 14 * 24 * 3600 * 1000;
export const DEFAULT_HOST_ID_FALLBACK_TIMEOUT_S = 86_400;
export const DEFAULT_SESSION_LIMIT = 50;
export const DEFAULT_CLEANUP_INTERVAL_MS = 12 * 3600 * 1000;
/** IIS: an application must answer within 5 minutes or the file is posted again. */
export const DEFAULT_NOTIFICATION_TIMEOUT_MS = 5 * 60 * 1000;

/** URL path prefix under which upload-reply replies are served by GET. */
export const REPLY_PATH_PREFIX = '/.bitsgate-reply/';

export interface ResolvedConfig {
  /** Real path of the root (symlinks resolved). */
  realRoot: string;
  /** The root, held open: destinations are created under it (dir-handle.ts). */
  root: DirHandle;
  /** Hidden directory for temp files under the root, held open. */
  work: DirHandle;
  hostId?: string;
  hostIdFallbackTimeout?: number;
  maxUpload: number;
  replyMode: ReplyMode;
  /** Undefined: reply mode (if any) applies to every URL. */
  replyPrefix?: string;
  notification?: NotificationConfig;
  allowOverwrite: boolean;
  sessionTimeoutMs: number;
  commitOn: CommitOn;
  sessionLimit: number;
  logger: Logger;
  now: () => number;
  commitOps: CommitOps;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

const MAX_REPLY_PREFIX = 1024;

/**
 * Validates a reply prefix. It is compared with the decoded, normalised URL path of
 * Create-Session (the path the file would land at), so it is given decoded too: a plain
 * absolute path such as `/reply/`. `/reply` (no trailing slash) also matches `/reply-x.bin`.
 */
export function checkReplyPrefix(prefix: string): { ok: true; value: string } | { ok: false; reason: string } {
  if (!prefix.startsWith('/')) return { ok: false, reason: `must start with "/" (e.g. /reply/), got ${JSON.stringify(prefix.slice(0, 100))}` };
  if (prefix.length > MAX_REPLY_PREFIX) return { ok: false, reason: `longer than ${MAX_REPLY_PREFIX} characters` };
  if (/[\x00-\x1f\x7f?#\\]/.test(prefix)) {
    return { ok: false, reason: 'must be a plain path: no query (?), fragment (#), backslash or control characters' };
  }
  // Upload paths never contain these (see upload-path.ts), so such a prefix could never match.
  const segments = prefix.slice(1).split('/');
  if (segments.slice(0, -1).some((s) => s === '')) return { ok: false, reason: 'has an empty path segment (//)' };
  if (segments.some((s) => s === '.' || s === '..')) return { ok: false, reason: 'has a "." or ".." segment' };
  return { ok: true, value: prefix };
}

/** Whether an upload to `urlPath` (decoded, `/a/b.bin`) is an upload-reply job. */
export function isUploadReply(config: Pick<ResolvedConfig, 'replyMode' | 'replyPrefix' | 'notification'>, urlPath: string): boolean {
  if (config.replyMode === 'none' && !config.notification) return false;
  return config.replyPrefix === undefined || urlPath.startsWith(config.replyPrefix);
}
