import { ERROR_CODES, ERROR_CONTEXT_NAMES, formatErrorCode, PACKET_TYPE_NAMES, sameSessionId, UPLOAD_PROTOCOL_GUID } from '../../protocol/index.js';
import type { Severity } from '../events.js';
import { isLive } from '../lifecycle.js';
import { hostIdBinds, sentToOtherHost } from './close-rules.js';
import { type ExchangeContext, type Rule, is2xx, q } from './types.js';

function packetName(ctx: ExchangeContext): string {
  return ctx.req.type === 'unknown' ? 'BITS packet' : PACKET_TYPE_NAMES[ctx.req.type];
}

/**
 * How bad an error answer is, from what the client does on it (src/protocol/answer.ts, §6):
 * the client gives up (fatal) -> error; it resends or restarts -> warning; it shrinks its
 * fragments (413) -> info, the protocol working. Undefined: not this rule's finding.
 */
function errorAnswerSeverity(ctx: ExchangeContext): Severity | undefined {
  const req = ctx.req.type;
  const lost = ctx.ack?.errorCode?.value === ERROR_CODES.BG_E_SESSION_NOT_FOUND;
  if (req === 'close-session') {
    // A final answer to a live session's Close is close-rejected; a resent Close of a session that
    // already ended expects exactly this answer (close-after-end judges the resend).
    return ctx.answer === 'retry' && (ctx.state === 'unknown' || isLive(ctx.state)) ? 'warning' : undefined;
  }
  if (req === 'cancel-session' && lost) return 'info'; // already gone: what Cancel wanted
  switch (ctx.answer) {
    case 'fatal': return 'error';
    case 'shrink': return 'info';
    case 'resync': return undefined; // 416: fragment-gap judges the client's range, not the server
    default: return 'warning';
  }
}

/** Rules for the Ack of any BITS request that names a session (Close-Session has its own close-rejected). */
export const EXCHANGE_RULES: readonly Rule[] = [
  {
    code: 'ack-session-mismatch',
    check(ctx) {
      const acked = ctx.ack?.sessionId;
      // Case-insensitive for GUIDs: some servers echo the id lower-cased (§8).
      if (acked === undefined || ctx.sessionId === undefined || sameSessionId(acked, ctx.sessionId)) return null;
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
      if (status === undefined || !ctx.ack) return null;
      const code = ctx.ack.errorCode;
      const errorStatus = status >= 400;
      if (!errorStatus && !code) return null;
      const context = ctx.ack.errorContext;
      const ctxText = context === undefined ? '' : ` (context 0x${context.toString(16).toUpperCase()}${ERROR_CONTEXT_NAMES[context] ? ' ' + ERROR_CONTEXT_NAMES[context] : ''})`;
      const message = `${packetName(ctx)} answered ${status}${code ? ' with ' + formatErrorCode(code) : ' without BITS-Error-Code'}${ctxText}`;
      if (errorStatus) {
        const severity = errorAnswerSeverity(ctx);
        return severity === undefined ? null : { message, severity };
      }
      // A 2xx with an error code is reported, not treated as failure (some servers put 1 on a Ping Ack).
      return { message, severity: code!.value >= 0x80000000 ? 'warning' : 'info' };
    },
  },
  {
    code: 'host-id-ignored',
    check(ctx) {
      // Close-Session has its own, stronger finding (close-wrong-host).
      if (ctx.req.type === 'close-session' || ctx.req.type === 'create-session') return null;
      if (!sentToOtherHost(ctx) || !hostIdBinds(ctx, ctx.obs.startedAt)) return null;
      const s = ctx.session!;
      return { message: `${packetName(ctx)} sent to host ${q(ctx.host!)}, not the issued BITS-Host-Id ${q(s.hostId!)}` +
        (s.hostIdFallbackTimeoutSec === undefined ? ' (no fallback timeout was issued, so the client never falls back)' : ' within the fallback timeout') };
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
