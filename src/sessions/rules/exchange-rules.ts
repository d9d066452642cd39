import { ERROR_CONTEXT_NAMES, formatErrorCode, PACKET_TYPE_NAMES, UPLOAD_PROTOCOL_GUID } from '../../protocol/index.js';
import { hostnameOnly } from '../url.js';
import { type ExchangeContext, type Rule, is2xx, q } from './types.js';

/** Default BITSHostIdFallbackTimeout: the client uses the host id for a day, then the original URL. */
const DEFAULT_HOST_ID_FALLBACK_SEC = 86_400;

function packetName(ctx: ExchangeContext): string {
  return ctx.req.type === 'unknown' ? 'BITS packet' : PACKET_TYPE_NAMES[ctx.req.type];
}

/**
 * Whether the Windows client gives up on this status (bits-protocol.md §6): 4xx are fatal
 * except 408/409, 5xx are transient except 501/505.
 */
export function isFatalStatus(status: number): boolean {
  if (status >= 400 && status < 500) return status !== 408 && status !== 409;
  if (status >= 500) return status === 501 || status === 505;
  return false;
}

/** Rules for the Ack of any BITS request that names a session (Close-Session has its own close-rejected). */
export const EXCHANGE_RULES: readonly Rule[] = [
  {
    code: 'ack-session-mismatch',
    check(ctx) {
      const acked = ctx.ack?.sessionId;
      if (acked === undefined || ctx.sessionId === undefined || acked === ctx.sessionId) return null;
      return { message: `${packetName(ctx)} for session ${q(ctx.sessionId)} answered with BITS-Session-Id ${q(acked)}` };
    },
  },
  {
    code: 'ack-range-regressed',
    check(ctx) {
      const s = ctx.session;
      const offset = ctx.ack?.receivedOffset;
      if (!s || offset === undefined || offset >= s.ackedBytes) return null;
      return { message: `BITS-Received-Content-Range ${offset} after the server had acknowledged ${s.ackedBytes} bytes (${s.ackedBytes - offset} bytes lost)` };
    },
  },
  {
    code: 'server-error',
    check(ctx) {
      const status = ctx.obs.status;
      // No decoded Ack: the gateway answered itself (upstream unreachable) or nothing came back.
      if (status === undefined || !ctx.ack || ctx.req.type === 'close-session') return null;
      const code = ctx.ack?.errorCode;
      // 416 on a Fragment is the documented resync signal (IIS adds E_INVALIDARG to it):
      // the client's gap is the finding, judged by fragment-gap, not a server fault.
      if (status === 416 && ctx.req.type === 'fragment') return null;
      const errorStatus = status >= 400;
      if (!errorStatus && !code) return null;
      const context = ctx.ack?.errorContext;
      const ctxText = context === undefined ? '' : ` (context 0x${context.toString(16).toUpperCase()}${ERROR_CONTEXT_NAMES[context] ? ' ' + ERROR_CONTEXT_NAMES[context] : ''})`;
      const message = `${packetName(ctx)} answered ${status}${code ? ' with ' + formatErrorCode(code) : ' without BITS-Error-Code'}${ctxText}`;
      if (errorStatus) return { message, severity: isFatalStatus(status) ? 'error' : 'warning' };
      // A 2xx with an error code is reported, not treated as failure (some servers put 1 on a Ping Ack).
      return { message, severity: code!.value >= 0x80000000 ? 'warning' : 'info' };
    },
  },
  {
    code: 'host-id-ignored',
    check(ctx) {
      const s = ctx.session;
      if (!s || s.hostId === undefined || ctx.host === undefined || ctx.req.type === 'close-session') return null;
      const fallbackMs = (s.hostIdFallbackTimeoutSec ?? DEFAULT_HOST_ID_FALLBACK_SEC) * 1000;
      if (ctx.obs.startedAt - s.firstSeen > fallbackMs) return null;
      if (hostnameOnly(ctx.host) === hostnameOnly(s.hostId)) return null;
      return { message: `${packetName(ctx)} sent to host ${q(ctx.host)}, not the issued BITS-Host-Id ${q(s.hostId)}` };
    },
  },
];

/** Checks on a successful Create-Session Ack: what the client needs to continue. */
export const CREATE_ACK_RULES: readonly Rule[] = [
  {
    code: 'packet-missing-header',
    check(ctx) {
      if (!is2xx(ctx.obs.status) || !ctx.ack?.isAck) return null;
      if (ctx.ack.sessionId === undefined) return { message: `Create-Session Ack ${ctx.obs.status} without BITS-Session-Id`, severity: 'error' };
      if (ctx.ack.protocol === undefined) return { message: `Create-Session Ack ${ctx.obs.status} without BITS-Protocol`, severity: 'warning' };
      return null;
    },
  },
  {
    code: 'protocol-unsupported',
    check(ctx) {
      const p = ctx.ack?.protocol;
      if (!is2xx(ctx.obs.status) || p === undefined || p.toLowerCase() === UPLOAD_PROTOCOL_GUID) return null;
      return { message: `Create-Session Ack chose protocol ${q(p)}, not the BITS 1.5 upload protocol ${UPLOAD_PROTOCOL_GUID}` };
    },
  },
];
