import { formatErrorCode } from '../../protocol/index.js';
import { pathOf, hostnameOnly } from '../url.js';
import { type ExchangeContext, type Finding, type Rule, formatDuration, is2xx, q } from './types.js';

/**
 * When a Close-Session is invalid (bits-protocol.md §5). Each rule sees the session as it
 * was before the Close, so "acked < total" means what the server held when asked to commit.
 */

function hasFailureCode(ctx: ExchangeContext): boolean {
  const code = ctx.ack?.errorCode;
  return code !== undefined && code.value >= 0x80000000;
}

/** A server that refused the Close (status or failure HRESULT); a 401/407 auth round is not a refusal. */
export function closeRejected(ctx: ExchangeContext): boolean {
  const status = ctx.obs.status;
  if (status === undefined) return true;
  return !is2xx(status) || hasFailureCode(ctx);
}

export function busyMessage(close: number, others: readonly number[]): string {
  const list = others.slice(0, 5).join(', ') + (others.length > 5 ? ', ...' : '');
  return `Close-Session (exchange ${close}) overlapped ${others.length === 1 ? 'exchange' : 'exchanges'} ${list} of the same session still unanswered`;
}

export const CLOSE_RULES: readonly Rule[] = [
  {
    code: 'close-unknown-session',
    check(ctx) {
      if (ctx.session || ctx.sessionId === undefined) return null;
      const status = ctx.obs.status;
      const rejected = status !== undefined && (!is2xx(status) || hasFailureCode(ctx));
      const answer = status === undefined ? 'no response'
        : `${status}${ctx.ack?.errorCode ? ' ' + formatErrorCode(ctx.ack.errorCode) : ''}`;
      return {
        message: `Close-Session for session ${q(ctx.sessionId)} that no Create-Session Ack seen here issued (server answered ${answer})`,
        severity: rejected ? 'error' : 'warning',
      };
    },
  },
  {
    code: 'close-after-end',
    check(ctx) {
      const s = ctx.session;
      if (!s || (s.state !== 'closed' && s.state !== 'cancelled')) return null;
      return { message: `Close-Session on a session already ${s.state}` };
    },
  },
  {
    code: 'close-after-expiry',
    check(ctx) {
      const s = ctx.session;
      if (!s || s.state === 'closed' || s.state === 'cancelled') return null;
      const idle = ctx.obs.startedAt - s.lastSeen;
      if (s.state !== 'expired' && idle <= ctx.sessionTimeoutMs) return null;
      return {
        message: `Close-Session after ${formatDuration(Math.max(idle, 0))} idle, past the ${formatDuration(ctx.sessionTimeoutMs)} session timeout`,
      };
    },
  },
  {
    code: 'close-incomplete',
    check(ctx) {
      const s = ctx.session;
      // A session that never told its total (no fragment) may be a zero-byte upload: not provable.
      if (!s || s.totalLength === null || s.ackedBytes >= s.totalLength) return null;
      if (s.state === 'closed' || s.state === 'cancelled') return null;
      return { message: `Close-Session after ${s.ackedBytes} of ${s.totalLength} bytes acknowledged` };
    },
  },
  {
    code: 'close-before-reply',
    check(ctx) {
      const s = ctx.session;
      if (!s || s.replyUrl === undefined || s.replyFetched) return null;
      if (s.state === 'closed' || s.state === 'cancelled') return null;
      return { message: `Close-Session before the reply ${q(s.replyUrl)} was fetched` };
    },
  },
  {
    code: 'close-while-busy',
    check(ctx) {
      if (!ctx.session || ctx.busyWith.length === 0) return null;
      return { message: busyMessage(ctx.obs.id, ctx.busyWith), exchanges: ctx.busyWith.slice() };
    },
  },
  {
    code: 'close-url-mismatch',
    check(ctx) {
      const s = ctx.session;
      if (!s) return null;
      const path = pathOf(ctx.obs.url);
      if (path !== s.path) {
        return { message: `Close-Session sent to ${q(path)}, but the session was created at ${q(s.path)}` };
      }
      if (s.hostId !== undefined && ctx.host !== undefined && hostnameOnly(ctx.host) !== hostnameOnly(s.hostId)) {
        return { message: `Close-Session sent to host ${q(ctx.host)}, not the issued BITS-Host-Id ${q(s.hostId)}` };
      }
      return null;
    },
  },
  {
    code: 'close-rejected',
    check(ctx) {
      if (!ctx.session || !closeRejected(ctx)) return null;
      const status = ctx.obs.status;
      if (status === undefined) {
        return {
          message: `Close-Session got no response${ctx.obs.error ? ` (${ctx.obs.error})` : ''}: the commit is uncertain`,
          severity: 'warning',
        };
      }
      if (ctx.obs.responder === 'gateway') {
        return {
          message: `Close-Session got no answer from the server: the gateway answered ${status}${ctx.obs.error ? ` (${ctx.obs.error})` : ''}; the commit is uncertain`,
          severity: 'warning',
        };
      }
      const code = ctx.ack?.errorCode;
      return { message: `Close-Session answered ${status}${code ? ' with ' + formatErrorCode(code) : ''}` };
    },
  },
];

export type { ExchangeContext, Finding };
