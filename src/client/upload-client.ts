/**
 * The BITS upload client: Ping, Create-Session, contiguous Fragments, the reply GET of
 * upload-reply jobs, Close-Session — over one kept-alive connection.
 *
 * Theory of operation: the server's `BITS-Received-Content-Range` is the only truth
 * about progress. Every Ack (and every 416) sets the next offset. What each answer means
 * comes from the one classifier (src/protocol/answer.ts); packet-exchange.ts carries out
 * retries, lost Acks and waits; this file runs the job: a 413 shrinks the fragments, a
 * lost session (0x8020001F) starts again at Create-Session from byte 0 (M 3.1.5.2.1), a
 * BITS-Host-Id moves the session's packets to the named node (session-route.ts). The job
 * gives up only after --retry-for without progress (retry-policy.ts), or on a fatal answer.
 *
 * `misbehave` commits one protocol error on purpose (see misbehave.ts), for demos and
 * for testing the gateway's detectors.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  cancelSessionHeaders,
  closeSessionHeaders,
  createSessionHeaders,
  fragmentHeaders,
  pingHeaders,
} from '../protocol/encode.js';
import { BITS_METHOD, UPLOAD_PROTOCOL_GUID } from '../protocol/index.js';
import type { MisbehaveMode } from './misbehave.js';
import {
  codeText,
  PacketExchanger,
  SessionLostError,
  UploadError,
  type Exchange,
  type RetryWait,
} from './packet-exchange.js';
import { PacketTransport, type PacketRequest } from './packet-transport.js';
import { sizeText } from './progress.js';
import {
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_RETRY_FOR_MS,
  exponentialBackoff,
  RetryWindow,
} from './retry-policy.js';
import { SessionRoute } from './session-route.js';

export { UploadError, UploadInterruptedError, type RetryWait } from './packet-exchange.js';

export interface UploadProgress {
  /** Bytes the server has acknowledged. */
  acked: number;
  total: number;
  startedAt: number;
}

export interface UploadOptions {
  /** Destination URL (the remote file name). */
  url: string | URL;
  /** Local file to upload. */
  file: string;
  /** Bytes per Fragment (a 413 lowers it). Default 1 MiB. */
  fragmentSize?: number;
  /** `Content-Name` of the first fragment. Default: the local file's base name. */
  contentName?: string;
  /** Write the upload-reply body here (a path). Otherwise it is returned in the result. */
  replyOut?: string;
  misbehave?: MisbehaveMode;
  /**
   * Cancel the job (Cancel-Session, a legal end: the server deletes the upload) once the
   * server holds at least this many bytes but not all of them. For demos and tests.
   */
  cancelAfter?: number;
  /** Give up after this long without progress (bytes acknowledged, or the job ending). Default 10 min. */
  retryForMs?: number;
  /** Also give up after this many failures in a row without progress. Default: no limit (time decides). */
  maxRetries?: number;
  /** First backoff delay; doubles per failure up to backoffMaxMs. Default 250 ms / 60 s. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Inactivity limit per request. Default 60 s. */
  idleTimeoutMs?: number;
  /** Skip the optional Ping (at the start and after a reconnect). */
  noPing?: boolean;
  /** Abort at once (Ctrl-C): the upload rejects with UploadInterruptedError, nothing more is sent. */
  signal?: AbortSignal;
  /** https:// URLs: a private CA (PEM) to trust beside the bundled roots, or no verification. */
  tls?: { ca?: Buffer; insecure?: boolean };
  onProgress?(progress: UploadProgress): void;
  /** What the client did and why ("413: fragment size 4 MiB -> 1 MiB"). */
  onLog?(line: string): void;
  /** The client is about to wait before resending a packet. */
  onWait?(wait: RetryWait): void;
}

export interface UploadResult {
  sessionId?: string;
  total: number;
  /** Bytes the server acknowledged at the end. */
  acked: number;
  replyUrl?: string;
  /** The reply body, when fetched and no replyOut was given. */
  reply?: Buffer;
  /** Close-Session answered 2xx. */
  closed: boolean;
  /** Cancel-Session (cancelAfter) answered 2xx, or the session was already gone. */
  cancelled?: boolean;
  requests: number;
  /** Resends after a failure (each one waited its backoff). */
  retries: number;
  /** 416 answers that moved our offset. */
  resyncs: number;
  /** Sessions started again from byte 0 after 0x8020001F. */
  restarts: number;
  /** The fragment size at the end (lower than asked after a 413). */
  fragmentSize: number;
  elapsedMs: number;
  /** What the deliberate protocol error was and how the server answered it. */
  misbehaved?: { mode: MisbehaveMode; detail: string; status?: number };
}

const DEFAULT_FRAGMENT_SIZE = 1024 * 1024;
/** 416 answers tolerated in a row without progress before we call the server broken. */
const MAX_STALLS = 20;
/** A 413 never takes fragments below this: a server refusing 1 KiB is refusing the upload. */
export const MIN_FRAGMENT_SIZE = 1024;

export async function uploadFile(options: UploadOptions): Promise<UploadResult> {
  const url = typeof options.url === 'string' ? new URL(options.url) : options.url;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UploadError(`only http:// and https:// URLs are supported, got ${url.protocol}`);
  const fragmentSize = options.fragmentSize ?? DEFAULT_FRAGMENT_SIZE;
  if (!(Number.isSafeInteger(fragmentSize) && fragmentSize > 0)) throw new UploadError('fragment size must be a positive integer');
  for (const [name, v] of [['retryForMs', options.retryForMs], ['backoffBaseMs', options.backoffBaseMs], ['backoffMaxMs', options.backoffMaxMs]] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new UploadError(`${name} must be a non-negative number of milliseconds`);
  }
  const stat = await fs.stat(options.file);
  if (!stat.isFile()) throw new UploadError(`${options.file} is not a regular file`);
  const total = stat.size;
  if (options.cancelAfter !== undefined && !(Number.isSafeInteger(options.cancelAfter) && options.cancelAfter >= 0)) {
    throw new UploadError('cancelAfter must be a byte count (a non-negative integer)');
  }
  if (options.misbehave === 'close-early' && total < 2) {
    throw new UploadError('--misbehave close-early needs a file of at least 2 bytes');
  }
  const up = new Uploader(url, options, total, fragmentSize);
  try {
    return await up.run();
  } finally {
    up.close();
  }
}

class Uploader {
  private readonly net: PacketExchanger;
  private readonly route: SessionRoute;
  private readonly startedAt = Date.now();
  private readonly result: UploadResult;
  private fragmentSize: number;
  /** Session restarts since the last progress: the first is immediate, later ones back off. */
  private restartsInARow = 0;

  constructor(
    private readonly url: URL,
    private readonly options: UploadOptions,
    private readonly total: number,
    fragmentSize: number,
  ) {
    this.fragmentSize = fragmentSize;
    this.route = new SessionRoute(url);
    const backoff = exponentialBackoff(options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS, options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS);
    const window = new RetryWindow(options.retryForMs ?? DEFAULT_RETRY_FOR_MS, backoff, options.maxRetries);
    this.net = new PacketExchanger(
      new PacketTransport({ idleTimeoutMs: options.idleTimeoutMs, ...(options.tls && { tls: options.tls }) }),
      this.route,
      window,
      { log: (line) => options.onLog?.(line), wait: (w) => options.onWait?.(w) },
      { noPing: options.noPing, signal: options.signal, ping: () => this.packet(pingHeaders()), misbehave: options.misbehave },
    );
    this.result = { total, acked: 0, closed: false, requests: 0, retries: 0, resyncs: 0, restarts: 0, fragmentSize, elapsedMs: 0 };
  }

  close(): void {
    this.net.transport.close();
  }

  async run(): Promise<UploadResult> {
    try {
      if (!this.options.noPing) await this.ping();
      if (this.options.misbehave === 'unknown-session') {
        await this.closeUnknownSession();
        return this.finish();
      }
      for (;;) {
        try {
          await this.session();
          return this.finish();
        } catch (err) {
          if (!(err instanceof SessionLostError)) throw err;
          if (this.options.misbehave === 'no-restart') {
            throw new UploadError(`${err.message}: giving up (--misbehave no-restart; a Windows client starts again at Create-Session)`, err.status, '0x8020001F BG_E_SESSION_NOT_FOUND');
          }
          await this.restart(err);
        }
      }
    } finally {
      this.result.requests = this.net.requests;
      this.result.retries = this.net.retries;
      this.result.fragmentSize = this.fragmentSize;
    }
  }

  /** The optional first Ping. No session exists yet, so a 0x8020001F on it loses nothing. */
  private async ping(): Promise<void> {
    try {
      await this.net.exchange('Ping', () => this.packet(pingHeaders()));
    } catch (err) {
      if (!(err instanceof SessionLostError)) throw err;
      this.log(`${err.message}: no session yet, going on`);
    }
  }

  /** One session, Create-Session to Close-Session (or Cancel-Session). */
  private async session(): Promise<void> {
    const mode = this.options.misbehave;
    this.route.reset();
    const created = await this.net.exchange('Create-Session', () => this.packet(createSessionHeaders([UPLOAD_PROTOCOL_GUID])));
    const sessionId = created.ack.sessionId;
    if (sessionId === undefined) {
      throw new UploadError(`Create-Session answered ${created.res.status} without BITS-Session-Id`, created.res.status);
    }
    this.result.sessionId = sessionId;
    if (created.ack.hostId !== undefined) {
      const before = this.route.current.host;
      this.log(this.route.follow(created.ack.hostId, created.ack.hostIdFallbackTimeoutSec));
      if (this.route.current.host !== before) this.net.newHost();
    }
    await this.sendFragments(sessionId);
    if (this.cancelDue()) {
      await this.cancel(sessionId);
      return;
    }
    await this.fetchReply();
    await this.closeSession(sessionId);
    this.result.closed = true;
    this.net.progress();
    if (mode === 'double-close') {
      const again = await this.net.once('Close-Session', () => this.packet(closeSessionHeaders(sessionId)));
      this.result.misbehaved = { mode, detail: `closed the session twice; second Close answered ${describe(again)}`, status: again.res.status };
    }
  }

  /**
   * Close-Session, with one reading of our own: every byte was acknowledged, the first Close
   * went out and its Ack was lost, and the resend is answered 0x8020001F. The server took the
   * first Close, committed and released the session (bits-protocol.md §5: the id is freed once
   * the Close Ack is sent), so the upload is done. Starting again, as §6 says for a lost
   * session, would be refused (the file now exists) and report a complete upload as failed.
   */
  private async closeSession(sessionId: string): Promise<void> {
    try {
      await this.net.exchange('Close-Session', () => this.packet(closeSessionHeaders(sessionId)));
    } catch (err) {
      if (this.options.misbehave === 'resend-close-4xx' && err instanceof UploadError && err.status !== undefined && err.status >= 400 && err.status < 500) {
        await this.resendRejectedClose(sessionId, err.status);
        return;
      }
      if (!(err instanceof SessionLostError) || !err.afterLostAnswer) throw err;
      this.log(`${err.message} after the first Close's Ack was lost: the server already committed and released the session; done`);
    }
  }

  /** --misbehave resend-close-4xx: a 1xx-4xx Close Ack is final (§3, §6), and we resend anyway. */
  private async resendRejectedClose(sessionId: string, status: number): Promise<void> {
    const mode = 'resend-close-4xx';
    this.log(`Close-Session answered ${status}: resending it anyway (--misbehave ${mode})`);
    await this.net.waitOrGiveUp('Close-Session', `answered ${status}, resent anyway (--misbehave ${mode})`, 1, status);
    const again = await this.net.exchange('Close-Session', () => this.packet(closeSessionHeaders(sessionId)));
    this.result.misbehaved = { mode, detail: `resent Close-Session after a ${status}; the resend was answered ${describe(again)}`, status };
  }

  /**
   * 0x8020001F: the server lost the session (restarted, expired it, or a farm node that
   * lacks it answered). Windows starts again at Create-Session and sends every byte again.
   */
  private async restart(lost: SessionLostError): Promise<void> {
    this.result.restarts++;
    this.restartsInARow++;
    const held = this.result.acked;
    this.result.acked = 0;
    this.result.sessionId = undefined;
    this.result.replyUrl = undefined;
    this.result.reply = undefined;
    this.log(`session lost (0x8020001F): restarting from byte 0 (${lost.packet} answered ${lost.status}; ${held} of ${this.total} bytes had been acknowledged)`);
    this.options.onProgress?.({ acked: 0, total: this.total, startedAt: this.startedAt });
    if (this.restartsInARow === 1) return;
    // A server that loses every new session would otherwise be hammered in a tight loop.
    await this.net.waitOrGiveUp(lost.packet, `session lost (0x8020001F) ${this.restartsInARow} times in a row`, `${this.restartsInARow} sessions`, lost.status, '0x8020001F BG_E_SESSION_NOT_FOUND');
  }

  private async sendFragments(sessionId: string): Promise<void> {
    const mode = this.options.misbehave;
    let offset = 0;
    let sentFirst = false;
    let gapDone = false;
    let stalls = 0;
    while (offset < this.total) {
      if (this.cancelDue()) return;
      if (mode === 'close-early' && sentFirst) {
        this.result.misbehaved = { mode, detail: `closed after ${offset} of ${this.total} bytes` };
        return;
      }
      let start = offset;
      let size = this.fragmentSize;
      if (mode === 'close-early') size = Math.min(size, Math.ceil(this.total / 2));
      if (mode === 'gap' && !gapDone && this.total >= 2) {
        gapDone = true;
        start = Math.min(this.total - 1, offset + Math.max(1, Math.min(size, Math.floor(this.total / 2))));
        this.result.misbehaved = { mode, detail: `sent bytes from ${start} while the server held ${offset}` };
      }
      const end = Math.min(start + size, this.total) - 1;
      // Content-Name belongs to the first fragment of each session, a restarted one too.
      const contentName = sentFirst ? undefined : headerSafe(this.options.contentName ?? path.basename(this.options.file));
      const { res, ack, answer } = await this.net.exchange(
        'Fragment',
        () => this.packet(fragmentHeaders({ sessionId, start, end, total: this.total, contentName }), createReadStream(this.options.file, { start, end })),
      );
      if (answer.class === 'shrink') {
        if (mode === 'no-shrink') {
          // One thing wrong: the same size again. Bounded, so a server that always says 413 ends it.
          if (++stalls > MAX_STALLS) throw new UploadError(`no progress after ${MAX_STALLS} fragments at offset ${offset}`, res.status);
          this.result.misbehaved = { mode, detail: `resent ${end - start + 1} bytes after a 413`, status: res.status };
          this.log(`413: resending the same ${sizeText(end - start + 1)} fragment (--misbehave no-shrink)`);
          continue;
        }
        this.shrink(end - start + 1, res.status, ack);
        continue;
      }
      sentFirst = true;
      const next = ack.receivedOffset;
      if (answer.class === 'resync') {
        if (next === undefined) throw new UploadError('Fragment answered 416 without BITS-Received-Content-Range', 416);
        this.result.resyncs++;
        if (mode === 'ignore-range') {
          if (++stalls > MAX_STALLS) throw new UploadError(`no progress after ${MAX_STALLS} fragments at offset ${offset}`, res.status);
          this.result.misbehaved = { mode, detail: `416 named ${next}; restarted at 0`, status: 416 };
          this.log(`416: the server holds ${next} bytes; restarting at 0 anyway (--misbehave ignore-range)`);
          offset = 0;
          continue;
        }
        this.log(`416: the server holds ${next} bytes; resuming there (we had sent from ${start})`);
        if (mode === 'gap' && this.result.misbehaved) this.result.misbehaved.status = 416;
      }
      const advanced = next ?? (answer.class === 'resync' ? offset : end + 1);
      if (advanced > this.total) {
        throw new UploadError(`server acknowledged ${advanced} bytes of a ${this.total}-byte file`, res.status);
      }
      stalls = advanced > offset ? 0 : stalls + 1;
      if (stalls > MAX_STALLS) throw new UploadError(`no progress after ${MAX_STALLS} fragments at offset ${offset}`, res.status);
      if (advanced > offset) {
        this.net.progress();
        this.restartsInARow = 0;
      }
      offset = advanced;
      this.result.acked = offset;
      if (offset === this.total && ack.replyUrl !== undefined) this.result.replyUrl = ack.replyUrl;
      this.options.onProgress?.({ acked: offset, total: this.total, startedAt: this.startedAt });
    }
  }

  /** 413 on a Fragment (M 3.1.5.2.4): send smaller fragments, down to MIN_FRAGMENT_SIZE. */
  private shrink(sent: number, status: number, ack: Exchange['ack']): void {
    const code = codeText(ack);
    if (sent <= MIN_FRAGMENT_SIZE) {
      const why = ack.errorCode?.name === 'BG_E_TOO_LARGE' ? "the file exceeds the server's upload limit" : `a ${sent}-byte fragment is refused; smaller ones will not help`;
      throw new UploadError(`Fragment answered ${status}${code ? ` (${code})` : ''}: ${why}`, status, code);
    }
    const next = Math.max(MIN_FRAGMENT_SIZE, Math.floor(sent / 4));
    const from = sent === this.fragmentSize ? '' : ` on a ${sizeText(sent)} fragment`;
    this.log(`413${from}: fragment size ${sizeText(this.fragmentSize)} -> ${sizeText(next)}`);
    this.fragmentSize = next;
  }

  private async cancel(sessionId: string): Promise<void> {
    try {
      await this.net.exchange('Cancel-Session', () => this.packet(cancelSessionHeaders(sessionId)));
    } catch (err) {
      // 0x8020001F on Cancel: the session is already gone, which is what Cancel asked for.
      if (!(err instanceof UploadError && err.errorCode?.startsWith('0x8020001F'))) throw err;
      this.log('Cancel-Session answered 0x8020001F: the session was already gone');
    }
    this.result.cancelled = true;
    this.net.progress();
  }

  private cancelDue(): boolean {
    const at = this.options.cancelAfter;
    return at !== undefined && this.result.acked >= at && this.result.acked < this.total;
  }

  private async fetchReply(): Promise<void> {
    const replyUrl = this.result.replyUrl;
    if (replyUrl === undefined) return;
    if (this.options.misbehave === 'skip-reply') {
      this.result.misbehaved = { mode: 'skip-reply', detail: `closed without fetching ${replyUrl}` };
      return;
    }
    let target: URL;
    try {
      target = new URL(replyUrl, this.url);
    } catch {
      throw new UploadError(`server sent an invalid BITS-Reply-URL ${JSON.stringify(replyUrl.slice(0, 200))}`);
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new UploadError(`BITS-Reply-URL is not http(s):// (${target.protocol})`);
    const { res } = await this.net.exchange('reply GET', () => ({ method: 'GET', url: target, headers: [] }));
    if (this.options.replyOut !== undefined) await fs.writeFile(this.options.replyOut, res.body);
    else this.result.reply = res.body;
    this.net.progress();
  }

  private async closeUnknownSession(): Promise<void> {
    const bogus = `{${randomUUID()}}`;
    const r = await this.net.once('Close-Session', () => this.packet(closeSessionHeaders(bogus)));
    this.result.misbehaved = {
      mode: 'unknown-session',
      detail: `closed never-issued session ${bogus}; server answered ${describe(r)}`,
      status: r.res.status,
    };
  }

  private packet(headers: PacketRequest['headers'], body?: PacketRequest['body']): PacketRequest {
    return { method: BITS_METHOD, url: this.route.current, headers, body };
  }

  private log(line: string): void {
    this.options.onLog?.(line);
  }

  private finish(): UploadResult {
    this.result.elapsedMs = Date.now() - this.startedAt;
    return this.result;
  }
}

function describe(r: Exchange): string {
  const code = codeText(r.ack);
  return `${r.res.status}${code ? ` ${code}` : ''}`;
}


/**
 * A file name as a header value: printable ASCII stays, anything else (non-ASCII letters,
 * control characters) is percent-encoded as UTF-8, so no name can break the head.
 */
function headerSafe(name: string): string {
  return name.replace(/[^\x20-\x7e]|%/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%EF%BF%BD'; // a lone surrogate: U+FFFD
    }
  });
}
