/**
 * One BITS packet out, one answer back, with what a Windows client does in between
 * (bits-protocol.md §3, §6). The answer is classified by src/protocol/answer.ts, the one
 * classifier; this file only carries out its verdict:
 *
 *   ok, resync, shrink  -> returned to the caller (the fragment loop acts on 416 and 413)
 *   retry               -> wait (backoff) and resend the same packet
 *   no-answer           -> the connection closed before the Ack (or never opened): wait,
 *                          reconnect, Ping, resend the same packet; a failed connect also
 *                          feeds the BITS-Host-Id fallback timer
 *   session-lost        -> SessionLostError: the caller starts again at Create-Session
 *   auth, fatal         -> UploadError (we send no credentials)
 *
 * Waiting is bounded by the RetryWindow (no progress for --retry-for: give up), announced
 * through onWait, and ends at once when the signal aborts (Ctrl-C).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { classifyAnswer, decodeAck, ERROR_CONTEXT_REMOTE_APPLICATION, type Answer, type AnsweredPacket, type BitsAck } from '../protocol/index.js';
import type { MisbehaveMode } from './misbehave.js';
import { ConnectionLostError, PacketTransport, RequestAbortedError, type PacketRequest, type PacketResponse } from './packet-transport.js';
import type { RetryWindow } from './retry-policy.js';
import type { SessionRoute } from './session-route.js';

export interface Exchange {
  res: PacketResponse;
  ack: BitsAck;
  answer: Answer;
}

/** What the client is waiting for and until when (shown while it waits). */
export interface RetryWait {
  /** The packet to resend, e.g. `Fragment`. */
  packet: string;
  /** Why it failed, e.g. `no answer (ECONNREFUSED)` or `503 is transient`. */
  reason: string;
  /** Failures in a row without progress, this one included. */
  failures: number;
  delayMs: number;
  /** Epoch ms of the next attempt. */
  at: number;
  /** Epoch ms at which the client gives up if nothing moves forward. */
  giveUpAt: number;
}

export interface ExchangeHooks {
  log(line: string): void;
  wait(w: RetryWait): void;
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

/** Ctrl-C (or the caller's AbortSignal): stopped at once, nothing more sent. */
export class UploadInterruptedError extends UploadError {
  override name = 'UploadInterruptedError';
}

/** 0x8020001F on a packet other than Cancel-Session: the server no longer has the session. */
export class SessionLostError extends Error {
  override name = 'SessionLostError';
  /**
   * `afterLostAnswer`: an earlier attempt of the same packet went out on a live connection
   * and its answer never came, so the server may have acted on it (a Close it committed and
   * then released answers a resend with 0x8020001F).
   */
  constructor(readonly packet: string, readonly status: number, readonly afterLostAnswer = false) {
    super(`${packet} answered ${status} (0x8020001F BG_E_SESSION_NOT_FOUND)`);
  }
}

const PACKET_KINDS: Readonly<Record<string, AnsweredPacket>> = {
  Ping: 'ping',
  'Create-Session': 'create-session',
  Fragment: 'fragment',
  'Close-Session': 'close-session',
  'Cancel-Session': 'cancel-session',
};

export class PacketExchanger {
  /** Requests sent; resends after a failure. */
  requests = 0;
  retries = 0;
  /** Set after a connection was lost: Ping on the new connection before resending. */
  private reconnected = false;

  constructor(
    readonly transport: PacketTransport,
    private readonly route: SessionRoute,
    private readonly window: RetryWindow,
    private readonly hooks: ExchangeHooks,
    private readonly options: { noPing?: boolean; signal?: AbortSignal; ping(): PacketRequest; misbehave?: MisbehaveMode },
  ) {}

  /** Packets now go to another host (BITS-Host-Id): Ping it first, as on any new connection (M 3.1.5.1.2). */
  newHost(): void {
    this.reconnected = true;
  }

  /** The job moved forward: close the retry window. */
  progress(): void {
    this.window.progress();
  }

  /**
   * Sends `what` until its answer is ok (or a 416/413 the caller handles), following the
   * classifier. `build` is called per attempt: a fragment's file stream cannot be replayed.
   */
  async exchange(what: string, build: () => PacketRequest): Promise<Exchange> {
    const kind = PACKET_KINDS[what] ?? 'unknown';
    let attempts = 0;
    let answerLost = false;
    for (;;) {
      this.checkAborted();
      if (this.reconnected && kind !== 'ping' && !this.options.noPing) {
        const pinged = await this.pingAfterReconnect();
        if (pinged !== true) {
          attempts++;
          await this.waitOrGiveUp(what, `Ping after reconnecting: ${pinged}`, attempts);
          continue;
        }
      }
      attempts++;
      let res: PacketResponse;
      try {
        res = await this.send(build());
      } catch (err) {
        if (!(err instanceof ConnectionLostError)) throw err;
        const reason = this.connectionLost(err);
        if (err.connected) answerLost = true;
        if (err.connected && this.options.misbehave === 'no-resend') {
          throw new UploadError(`${what}: ${reason}; the Ack was lost and we give up (--misbehave no-resend; a Windows client reconnects and resends)`);
        }
        const lostAck = err.connected ? '; the Ack was lost: reconnect, Ping, resend the same packet' : '';
        await this.waitOrGiveUp(what, `${reason}${lostAck}`, attempts);
        continue;
      }
      const { ack, answer } = answerTo(kind, res);
      const failure = `${what} answered ${res.status}${codeText(ack) ? ` (${codeText(ack)})` : ''}`;
      switch (answer.class) {
        case 'ok':
        case 'resync':
        case 'shrink':
          return { res, ack, answer };
        case 'session-lost':
          throw new SessionLostError(what, res.status, answerLost);
        case 'retry':
          if (what === 'Close-Session' && this.options.misbehave === 'no-close-resend') {
            throw new UploadError(`${failure}: taken as final (--misbehave no-close-resend; a Windows client resends Close after a 5xx)`, res.status, codeText(ack));
          }
          await this.waitOrGiveUp(what, `answered ${res.status}${codeText(ack) ? ` (${codeText(ack)})` : ''}: ${answer.why}`, attempts, res.status, codeText(ack));
          continue;
        case 'auth':
          throw new UploadError(`${failure}: the server demands authentication; bitsgate upload sends no credentials`, res.status, codeText(ack));
        default:
          throw new UploadError(`${failure}: ${fatalHint(res.status, ack)}`, res.status, codeText(ack));
      }
    }
  }

  /** One attempt, whatever the answer (for the deliberate protocol errors of --misbehave). */
  async once(what: string, build: () => PacketRequest): Promise<Exchange> {
    this.checkAborted();
    try {
      const res = await this.send(build());
      return { res, ...answerTo(PACKET_KINDS[what] ?? 'unknown', res) };
    } catch (err) {
      if (!(err instanceof ConnectionLostError)) throw err;
      throw new UploadError(`${what}: connection lost (${err.message})`);
    }
  }

  /** Waits the backoff before the next attempt, or throws when the window ran out. */
  async waitOrGiveUp(what: string, reason: string, attempts: number | string, status?: number, code?: string): Promise<void> {
    const now = Date.now();
    const next = this.window.failed(now);
    if (!next.retry) {
      const tries = typeof attempts === 'string' ? attempts : attempts === 1 ? '1 attempt' : `${attempts} attempts`;
      throw new UploadError(`${what}: ${reason}; gave up after ${tries} (${next.why})`, status, code);
    }
    this.retries++;
    this.hooks.wait({ packet: what, reason, failures: next.failures, delayMs: next.delayMs, at: next.at, giveUpAt: next.giveUpAt });
    try {
      await delay(next.delayMs, undefined, { signal: this.options.signal });
    } catch {
      throw interrupted();
    }
  }

  private async send(packet: PacketRequest): Promise<PacketResponse> {
    this.requests++;
    try {
      const res = await this.transport.send(packet, this.options.signal);
      this.route.connected();
      return res;
    } catch (err) {
      if (err instanceof RequestAbortedError) throw interrupted();
      throw err;
    }
  }

  /** Drops the connection; a failed connect counts towards the BITS-Host-Id fallback. */
  private connectionLost(err: ConnectionLostError): string {
    this.transport.close();
    this.reconnected = true;
    if (!err.connected) {
      const fellBack = this.route.connectFailed(Date.now());
      if (fellBack) this.hooks.log(fellBack);
    }
    return `no answer (${err.code}${err.connected ? '' : ', connect failed'})`;
  }

  /** True when the new connection answered a Ping (any status); else why not. */
  private async pingAfterReconnect(): Promise<true | string> {
    try {
      await this.send(this.options.ping());
      this.reconnected = false;
      return true;
    } catch (err) {
      if (!(err instanceof ConnectionLostError)) throw err;
      return this.connectionLost(err);
    }
  }

  private checkAborted(): void {
    if (this.options.signal?.aborted) throw interrupted();
  }
}

function interrupted(): UploadInterruptedError {
  return new UploadInterruptedError('interrupted');
}

/** The Ack decoded and classified (src/protocol/answer.ts is the one classifier). */
function answerTo(kind: AnsweredPacket, res: PacketResponse): { ack: BitsAck; answer: Answer } {
  const ack = decodeAck(res.status, res.headers);
  return { ack, answer: classifyAnswer(kind, res.status, ack.errorCode?.value, ack.errorContext) };
}

export function codeText(ack: BitsAck): string | undefined {
  const c = ack.errorCode;
  return c ? `${c.hex}${c.name ? ' ' + c.name : ''}` : undefined;
}

function fatalHint(status: number, ack: BitsAck): string {
  const name = ack.errorCode?.name;
  if (ack.errorContext === ERROR_CONTEXT_REMOTE_APPLICATION) return `the server application failed (context 0x7); ${status} is fatal for it (§6)`;
  if (name === 'BG_E_TOO_LARGE' || status === 413) return "the file exceeds the server's upload limit";
  if (status === 403) return 'the server refuses uploads to this path';
  if (status === 501) return 'uploads are not enabled for this URL on the server';
  if (status === 404) return 'the URL is not upload-enabled on the server (or a proxy refused BITS_POST)';
  if (status === 400) return 'the server rejected the packet as malformed';
  return 'not retryable';
}
