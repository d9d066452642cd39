/**
 * The I/O half of `bitsgate check-server`: sends each packet through our BITS client's own
 * code (PacketExchanger.once over PacketTransport: the literal `BITS_POST`, one kept-alive
 * connection), one attempt each (a conformance check judges the first answer, it never
 * retries), and keeps the books the command's promises rest on:
 *
 * - every Ack is kept for the `error-code-format` case;
 * - every session a Create-Session Ack opened is registered until a Close/Cancel Ack (2xx,
 *   or 0x8020001F: already gone) ends it, and re-registered if the server still accepts a
 *   Fragment for it afterwards; `cancelLeftovers()` cancels whatever is still open, also
 *   after Ctrl-C (with a fresh connection and a short timeout, never the aborted signal).
 */
import { PacketExchanger, UploadError } from '../../client/packet-exchange.js';
import { PacketTransport, type PacketRequest, type TransportOptions } from '../../client/packet-transport.js';
import { exponentialBackoff, RetryWindow } from '../../client/retry-policy.js';
import { SessionRoute } from '../../client/session-route.js';
import type { AckSeen, SeenAnswer } from '../../conformance/server/index.js';
import type { HeaderList } from '../../observation.js';
import { BITS_METHOD, decodeAck, ERROR_CODES, PACKET_TYPE_NAMES, type AnsweredPacket, type BitsAck } from '../../protocol/index.js';
import { cancelSessionHeaders, pingHeaders } from '../../protocol/encode.js';

const PACKET_NAMES: Readonly<Record<string, string>> = PACKET_TYPE_NAMES;

export interface PeerOptions {
  tls?: TransportOptions['tls'];
  /** Per-request inactivity limit. */
  timeoutMs: number;
  signal: AbortSignal;
}

export interface Sent {
  seen: SeenAnswer;
  /** The response body (a reply GET). */
  body?: Buffer;
}

export class CheckPeer {
  /** Every Ack of the run, for error-code-format. */
  readonly acks: AckSeen[] = [];
  /** Open sessions: id -> the URL their packets go to. */
  readonly open = new Map<string, URL>();
  private transport: PacketTransport;
  private exchanger: PacketExchanger;

  constructor(private readonly options: PeerOptions) {
    this.transport = new PacketTransport({ idleTimeoutMs: options.timeoutMs, ...(options.tls && { tls: options.tls }) });
    this.exchanger = exchangerOver(this.transport, options.signal);
  }

  /**
   * One packet, one attempt. `what` labels it in reports (`close-mid-upload: Close-Session`);
   * `sessionId` is the session the packet is for (for the open-session books).
   */
  async send(kind: AnsweredPacket, what: string, url: URL, headers: HeaderList, body?: Buffer, sessionId?: string): Promise<Sent> {
    let res;
    try {
      res = (await this.exchanger.once(PACKET_NAMES[kind] ?? kind, () => ({ method: BITS_METHOD, url, headers, ...(body && { body }) }))).res;
    } catch (err) {
      // Interrupted (Ctrl-C) propagates; a lost connection is an answer that never came.
      if (err instanceof UploadError && err.constructor === UploadError) return { seen: { noAnswer: err.message.replace(/^[^:]*: /, '') } };
      throw err;
    }
    this.acks.push({ what, status: res.status, headers: res.headers });
    this.book(kind, url, res.status, res.headers, sessionId);
    return { seen: { status: res.status, headers: res.headers }, body: res.body };
  }

  /** A plain GET (the upload-reply reply), through the same transport. */
  async get(url: URL): Promise<{ status: number; body: Buffer } | { error: string }> {
    try {
      const res = await this.transport.send({ method: 'GET', url, headers: [['Content-Length', '0']] }, this.options.signal);
      return { status: res.status, body: res.body };
    } catch (err) {
      if (this.options.signal.aborted) throw err;
      return { error: (err as Error).message };
    }
  }

  /** The session's packets now go to `url` (BITS-Host-Id): so must its cleanup Cancel. */
  moved(sessionId: string, url: URL): void {
    if (this.open.has(sessionId)) this.open.set(sessionId, url);
  }

  private book(kind: AnsweredPacket, url: URL, status: number, headers: HeaderList, sessionId: string | undefined): void {
    const ack = decodeAck(status, headers);
    const ok = status >= 200 && status < 300;
    if (kind === 'create-session' && ok && ack.sessionId !== undefined) this.open.set(ack.sessionId, url);
    if (sessionId === undefined) return;
    // A Fragment answered with anything but 0x8020001F went to a live session (one the
    // server should have freed, maybe): it is open again until a Close/Cancel ends it.
    if (kind === 'fragment' && ack.errorCode?.value !== ERROR_CODES.BG_E_SESSION_NOT_FOUND) this.open.set(sessionId, url);
    if ((kind === 'close-session' || kind === 'cancel-session') && sessionEnded(status, ack)) this.open.delete(sessionId);
  }

  /**
   * Cancels every session still open, on a fresh connection that ignores the (maybe aborted)
   * run signal. Returns the ids it could not end.
   */
  async cancelLeftovers(): Promise<string[]> {
    this.transport.close();
    if (this.open.size === 0) return [];
    const transport = new PacketTransport({ idleTimeoutMs: Math.min(this.options.timeoutMs, 5000), ...(this.options.tls && { tls: this.options.tls }) });
    const exchanger = exchangerOver(transport, new AbortController().signal);
    const left: string[] = [];
    try {
      for (const [id, url] of [...this.open]) {
        try {
          const { res } = await exchanger.once('Cancel-Session', () => ({ method: BITS_METHOD, url, headers: cancelSessionHeaders(id) }));
          const ack = decodeAck(res.status, res.headers);
          if (sessionEnded(res.status, ack)) this.open.delete(id);
          else left.push(id);
        } catch {
          left.push(id);
        }
      }
    } finally {
      transport.close();
    }
    return left;
  }
}

function exchangerOver(transport: PacketTransport, signal: AbortSignal): PacketExchanger {
  // once() never waits or retries: the route and window are only the exchanger's plumbing.
  const noRoute = new SessionRoute(new URL('http://unused.invalid/'));
  return new PacketExchanger(transport, noRoute, new RetryWindow(0, exponentialBackoff(1, 1)), { log: () => {}, wait: () => {} }, {
    signal,
    noPing: true,
    ping: (): PacketRequest => ({ method: BITS_METHOD, url: new URL('http://unused.invalid/'), headers: pingHeaders() }),
  });
}

/** A Close/Cancel answered 2xx, or 0x8020001F (the session was already gone): nothing left to cancel. */
function sessionEnded(status: number, ack: BitsAck): boolean {
  return (status >= 200 && status < 300) || ack.errorCode?.value === ERROR_CODES.BG_E_SESSION_NOT_FOUND;
}
