/**
 * The BITS upload client: Ping, Create-Session, contiguous Fragments, the reply GET of
 * upload-reply jobs, Close-Session — over one kept-alive connection.
 *
 * Theory of operation: the server's `BITS-Received-Content-Range` is the only truth
 * about progress. Every Ack (and every 416) sets the next offset; after a lost connection
 * or a transient status we resend the same fragment and let the server's answer say
 * where to continue (it keeps only new bytes of an overlap). Fatal statuses stop the
 * upload with an UploadError naming the packet, the status and the decoded error code.
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
import { BITS_METHOD, UPLOAD_PROTOCOL_GUID, decodeAck, type BitsAck } from '../protocol/index.js';
import type { MisbehaveMode } from './misbehave.js';
import { ConnectionLostError, PacketTransport, type PacketRequest, type PacketResponse } from './packet-transport.js';
import { classifyStatus, exponentialBackoff, type Backoff } from './retry-policy.js';

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
  /** Bytes per Fragment. Default 1 MiB. */
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
  /** Retries per packet for transient failures. Default 5. */
  maxRetries?: number;
  /** First backoff delay; doubles per retry up to backoffMaxMs. Default 250 ms / 8 s. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Inactivity limit per request. Default 60 s. */
  idleTimeoutMs?: number;
  /** Skip the optional Ping. */
  noPing?: boolean;
  onProgress?(progress: UploadProgress): void;
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
  /** Cancel-Session (cancelAfter) answered 2xx. */
  cancelled?: boolean;
  requests: number;
  retries: number;
  /** 416 answers that moved our offset. */
  resyncs: number;
  elapsedMs: number;
  /** What the deliberate protocol error was and how the server answered it. */
  misbehaved?: { mode: MisbehaveMode; detail: string; status?: number };
}

export class UploadError extends Error {
  override name = 'UploadError';
  constructor(
    message: string,
    readonly status?: number,
    readonly errorCode?: string,
  ) {
    super(message);
  }
}

const DEFAULT_FRAGMENT_SIZE = 1024 * 1024;
/** 416 answers tolerated in a row without progress before we call the server broken. */
const MAX_STALLS = 20;

export async function uploadFile(options: UploadOptions): Promise<UploadResult> {
  const url = typeof options.url === 'string' ? new URL(options.url) : options.url;
  if (url.protocol !== 'http:') throw new UploadError(`only http:// URLs are supported, got ${url.protocol}`);
  const fragmentSize = options.fragmentSize ?? DEFAULT_FRAGMENT_SIZE;
  if (!(Number.isSafeInteger(fragmentSize) && fragmentSize > 0)) throw new UploadError('fragment size must be a positive integer');
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
    up.transport.close();
  }
}

class Uploader {
  readonly transport: PacketTransport;
  private readonly backoff: Backoff;
  private readonly maxRetries: number;
  private readonly startedAt = Date.now();
  private readonly result: UploadResult;
  /** Where session packets go: the URL, or the same path on the server's BITS-Host-Id. */
  private target: URL;
  /** Set while packets go to a BITS-Host-Id: when to give up on it and use the URL again. */
  private hostId?: { fallbackMs: number; firstFailure?: number };

  constructor(
    private readonly url: URL,
    private readonly options: UploadOptions,
    private readonly total: number,
    private readonly fragmentSize: number,
  ) {
    this.transport = new PacketTransport({ idleTimeoutMs: options.idleTimeoutMs });
    this.backoff = exponentialBackoff(options.backoffBaseMs ?? 250, options.backoffMaxMs ?? 8000);
    this.maxRetries = options.maxRetries ?? 5;
    this.result = { total, acked: 0, closed: false, requests: 0, retries: 0, resyncs: 0, elapsedMs: 0 };
    this.target = url;
  }

  async run(): Promise<UploadResult> {
    const mode = this.options.misbehave;
    if (!this.options.noPing) await this.send('Ping', () => this.packet(pingHeaders()));
    if (mode === 'unknown-session') {
      await this.closeUnknownSession();
      return this.finish();
    }
    const created = await this.send('Create-Session', () => this.packet(createSessionHeaders([UPLOAD_PROTOCOL_GUID])));
    const sessionId = created.ack.sessionId;
    if (sessionId === undefined) {
      throw new UploadError(`Create-Session answered ${created.res.status} without BITS-Session-Id`, created.res.status);
    }
    this.result.sessionId = sessionId;
    if (created.ack.hostId !== undefined) this.followHostId(created.ack.hostId, created.ack.hostIdFallbackTimeoutSec);
    await this.sendFragments(sessionId);
    if (this.cancelDue()) {
      const { res } = await this.send('Cancel-Session', () => this.packet(cancelSessionHeaders(sessionId)));
      this.result.cancelled = res.status >= 200 && res.status < 300;
      return this.finish();
    }
    await this.fetchReply();
    await this.close(sessionId);
    if (mode === 'double-close') {
      const again = await this.sendOnce('Close-Session', () => this.packet(closeSessionHeaders(sessionId)));
      this.result.misbehaved = { mode, detail: `closed the session twice; second Close answered ${describe(again)}`, status: again.res.status };
    }
    return this.finish();
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
      const contentName = sentFirst ? undefined : headerSafe(this.options.contentName ?? path.basename(this.options.file));
      sentFirst = true;
      const { res, ack } = await this.send(
        'Fragment',
        () => this.packet(fragmentHeaders({ sessionId, start, end, total: this.total, contentName }), createReadStream(this.options.file, { start, end })),
        [416],
      );
      const next = ack.receivedOffset;
      if (res.status === 416) {
        if (next === undefined) throw new UploadError('Fragment answered 416 without BITS-Received-Content-Range', 416);
        this.result.resyncs++;
        if (mode === 'gap' && this.result.misbehaved) this.result.misbehaved.status = 416;
      }
      const advanced = next ?? (res.status === 416 ? offset : end + 1);
      if (advanced > this.total) {
        throw new UploadError(`server acknowledged ${advanced} bytes of a ${this.total}-byte file`, res.status);
      }
      stalls = advanced > offset ? 0 : stalls + 1;
      if (stalls > MAX_STALLS) throw new UploadError(`no progress after ${MAX_STALLS} fragments at offset ${offset}`, res.status);
      offset = advanced;
      this.result.acked = offset;
      if (offset === this.total && ack.replyUrl !== undefined) this.result.replyUrl = ack.replyUrl;
      this.options.onProgress?.({ acked: offset, total: this.total, startedAt: this.startedAt });
    }
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
    if (target.protocol !== 'http:') throw new UploadError(`BITS-Reply-URL is not http:// (${target.protocol})`);
    const { res } = await this.send('reply GET', () => ({ method: 'GET', url: target, headers: [] }));
    if (this.options.replyOut !== undefined) await fs.writeFile(this.options.replyOut, res.body);
    else this.result.reply = res.body;
  }

  private async close(sessionId: string): Promise<void> {
    const { res } = await this.send('Close-Session', () => this.packet(closeSessionHeaders(sessionId)));
    this.result.closed = res.status >= 200 && res.status < 300;
  }

  private async closeUnknownSession(): Promise<void> {
    const bogus = `{${randomUUID()}}`;
    const r = await this.sendOnce('Close-Session', () => this.packet(closeSessionHeaders(bogus)));
    this.result.misbehaved = {
      mode: 'unknown-session',
      detail: `closed never-issued session ${bogus}; server answered ${describe(r)}`,
      status: r.res.status,
    };
  }

  private packet(headers: PacketRequest['headers'], body?: PacketRequest['body']): PacketRequest {
    return { method: BITS_METHOD, url: this.target, headers, body };
  }

  /**
   * A web farm names the node holding the session (bits-protocol.md §7): later packets go
   * to the same path on that host (`host` or `host:port`). If it stays unreachable for the
   * fallback timeout — or longer than our retries last — we return to the original URL.
   */
  private followHostId(hostId: string, fallbackSec: number | undefined): void {
    const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/.exec(hostId);
    if (!m) return; // not a host name: ignore rather than send packets somewhere odd
    const next = new URL(this.url.href);
    next.hostname = m[1]!;
    if (m[2] !== undefined) next.port = m[2];
    this.target = next;
    this.hostId = { fallbackMs: (fallbackSec ?? 86_400) * 1000 };
  }

  /** After a connection failure: true when we switched from the host id back to the URL. */
  private maybeFallBack(retriesExhausted: boolean): boolean {
    const h = this.hostId;
    if (!h) return false;
    const now = Date.now();
    h.firstFailure ??= now;
    if (!retriesExhausted && now - h.firstFailure < h.fallbackMs) return false;
    this.hostId = undefined;
    this.target = this.url;
    return true;
  }

  /** One attempt, whatever the answer (for the deliberate errors). */
  private async sendOnce(what: string, build: () => PacketRequest): Promise<{ res: PacketResponse; ack: BitsAck }> {
    this.result.requests++;
    try {
      const res = await this.transport.send(build());
      return { res, ack: decodeAck(res.status, res.headers) };
    } catch (err) {
      throw new UploadError(`${what}: connection lost (${(err as Error).message})`);
    }
  }

  /**
   * Send until a 2xx (or a status in `handled`), retrying transient failures with backoff.
   * `build` is called per attempt: a fragment's file stream cannot be replayed.
   */
  private async send(what: string, build: () => PacketRequest, handled: number[] = []): Promise<{ res: PacketResponse; ack: BitsAck }> {
    for (let attempt = 0; ; attempt++) {
      let failure: string;
      let lastStatus: number | undefined;
      let lastCode: string | undefined;
      this.result.requests++;
      try {
        const res = await this.transport.send(build());
        const ack = decodeAck(res.status, res.headers);
        if (handled.includes(res.status)) return { res, ack };
        const verdict = classifyStatus(res.status, ack.errorCode?.value);
        if (verdict === 'ok') return { res, ack };
        lastStatus = res.status;
        lastCode = ack.errorCode ? `${ack.errorCode.hex}${ack.errorCode.name ? ' ' + ack.errorCode.name : ''}` : undefined;
        failure = `${what} answered ${res.status}${lastCode ? ` (${lastCode})` : ''}`;
        if (verdict === 'fatal') throw new UploadError(`${failure}: ${fatalHint(res.status, ack)}`, res.status, lastCode);
      } catch (err) {
        if (!(err instanceof ConnectionLostError)) throw err;
        failure = `${what}: connection lost (${err.code})`;
        // Start the retry on a fresh connection.
        this.transport.close();
        if (this.maybeFallBack(attempt >= this.maxRetries)) attempt = -1;
      }
      if (attempt >= this.maxRetries) {
        throw new UploadError(`${failure}; gave up after ${attempt + 1} attempts`, lastStatus, lastCode);
      }
      this.result.retries++;
      await sleep(this.backoff.delay(attempt + 1));
    }
  }

  private finish(): UploadResult {
    this.result.elapsedMs = Date.now() - this.startedAt;
    return this.result;
  }
}

function describe(r: { res: PacketResponse; ack: BitsAck }): string {
  const code = r.ack.errorCode;
  return `${r.res.status}${code ? ` ${code.hex}${code.name ? ' ' + code.name : ''}` : ''}`;
}

function fatalHint(status: number, ack: BitsAck): string {
  const name = ack.errorCode?.name;
  if (name === 'BG_E_SESSION_NOT_FOUND') return 'the server no longer knows the session (expired or never created)';
  if (name === 'BG_E_TOO_LARGE' || status === 413) return "the file exceeds the server's upload limit";
  if (status === 403) return 'the server refuses uploads to this path';
  if (status === 501) return 'uploads are not enabled for this URL on the server';
  if (status === 404) return 'the URL is not upload-enabled on the server (or a proxy refused BITS_POST)';
  if (status === 400) return 'the server rejected the packet as malformed';
  return 'not retryable';
}

/**
 * A file name as a header value: printable ASCII stays, anything else (non-ASCII letters,
 * control characters) is percent-encoded as UTF-8, so no name can break the head.
 */
export function headerSafe(name: string): string {
  return name.replace(/[^\x20-\x7e]|%/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%EF%BF%BD'; // a lone surrogate: U+FFFD
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
