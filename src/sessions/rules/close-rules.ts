import { pathOf, hostnameOnly, hostOfUrl } from '../url.js';
import { type ExchangeContext, type Finding, type Rule, formatDuration, q } from './types.js';

/**
 * When a Close-Session is invalid (bits-protocol.md §5, table "Close-Session is invalid
 * when"). They judge the FIRST Close of a session (lifecycle.ts, rule set `close`; the
 * tracker keeps Session.closeJudged): a Close resent after a 5xx, no answer, a final answer or a
 * lost Ack repeats the client's decision and is judged by the lifecycle table alone. Each rule
 * sees the session as it was before the Close, so "acked < total" means what the server held
 * when asked to commit. Lifecycle codes (close-unknown-session, close-after-end,
 * close-rejected) are raised by the table: see lifecycle-findings.ts.
 */

export function busyMessage(close: number, others: readonly number[]): string {
  const list = others.slice(0, 5).join(', ') + (others.length > 5 ? ', ...' : '');
  return `Close-Session (exchange ${close}) overlapped ${others.length === 1 ? 'exchange' : 'exchanges'} ${list} of the same session still unanswered`;
}

/** Whether BITS-Host-Id still binds a packet sent at `at` (§3 BITS-Host-Id-Fallback-Timeout). */
export function hostIdBinds(ctx: ExchangeContext, at: number): boolean {
  const s = ctx.session;
  if (!s || s.hostId === undefined) return false;
  // Absent fallback header: the client never falls back to the URL's host (§3).
  if (s.hostIdFallbackTimeoutSec === undefined) return true;
  // The client's timer starts on a failed connect and resets on success: it may fall back
  // once the host id has gone unanswered longer than the timeout. The last exchange the
  // host-id host answered bounds the earliest failed connect from below.
  return at - s.hostIdLastAnswered <= s.hostIdFallbackTimeoutSec * 1000;
}

export function sentToOtherHost(ctx: ExchangeContext): boolean {
  const s = ctx.session;
  return s?.hostId !== undefined && ctx.host !== undefined && hostnameOnly(ctx.host) !== hostnameOnly(s.hostId);
}

/** The reply URL's host reaches this gateway (a path does; an absolute URL when its host was seen here). */
function replyVisibleHere(ctx: ExchangeContext, replyUrl: string): boolean {
  const host = hostOfUrl(replyUrl);
  if (host === undefined) return true;
  const name = hostnameOnly(host);
  const s = ctx.session!;
  if (s.host !== undefined && hostnameOnly(s.host) === name) return true;
  if (s.hostId !== undefined && hostnameOnly(s.hostId) === name) return true;
  return ctx.gatewayHosts.has(name);
}

export const CLOSE_RULES: readonly Rule[] = [
  {
    code: 'close-after-expiry',
    check(ctx) {
      const s = ctx.session;
      if (!s) return null;
      // §5: idle since the last 2xx progress, not since any packet (failed ones included).
      const idle = ctx.obs.startedAt - s.lastProgress;
      if (idle <= ctx.sessionTimeoutMs) return null;
      return {
        message: `Close-Session after ${formatDuration(Math.max(idle, 0))} without progress (last 2xx Ack), past the ${formatDuration(ctx.sessionTimeoutMs)} session timeout`,
      };
    },
  },
  {
    code: 'close-incomplete',
    check(ctx) {
      const s = ctx.session;
      // Without a fragment the total is unknown (a zero-byte file is possible): close-no-data says so.
      if (!s || s.totalLength === null || s.ackedBytes >= s.totalLength) return null;
      return { message: `Close-Session after ${s.ackedBytes} of ${s.totalLength} bytes acknowledged` };
    },
  },
  {
    code: 'close-no-data',
    check(ctx) {
      const s = ctx.session;
      // A fragment was sent (total known): close-incomplete is the finding. Adopted: history unknown.
      if (!s || s.totalLength !== null || s.adopted) return null;
      return { message: 'Close-Session with no Fragment acknowledged: nothing was uploaded, unless the file really is 0 bytes' };
    },
  },
  {
    code: 'close-before-reply',
    check(ctx) {
      const s = ctx.session;
      if (!s || s.replyUrl === undefined || s.replyFetched) return null;
      if (!replyVisibleHere(ctx, s.replyUrl)) {
        return {
          message: `Close-Session before a fetch of the reply ${q(s.replyUrl)} was seen; that host does not reach this gateway, so the fetch is unverifiable`,
          severity: 'info',
        };
      }
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
    code: 'close-other-url',
    check(ctx) {
      const s = ctx.session;
      if (!s) return null;
      const path = pathOf(ctx.obs.url);
      if (path === s.path) return null;
      return { message: `Close-Session sent to ${q(path)}, but the session was created at ${q(s.path)}` };
    },
  },
  {
    code: 'close-wrong-host',
    check(ctx) {
      const s = ctx.session;
      if (!s || !sentToOtherHost(ctx) || !hostIdBinds(ctx, ctx.obs.startedAt)) return null;
      const timeout = s.hostIdFallbackTimeoutSec === undefined ? 'no fallback timeout was issued, so the client never falls back'
        : `within the ${formatDuration(s.hostIdFallbackTimeoutSec * 1000)} fallback timeout`;
      return { message: `Close-Session sent to host ${q(ctx.host!)}, not the issued BITS-Host-Id ${q(s.hostId!)} (${timeout})` };
    },
  },
];

export type { ExchangeContext, Finding };
