import { type Rule, is2xx, q } from './types.js';

/**
 * Fragment rules (bits-protocol.md §4). R is what the server had acknowledged before this
 * fragment: S = R is normal, S < R a retransmission, S > R a gap.
 */
export const FRAGMENT_RULES: readonly Rule[] = [
  {
    code: 'fragment-unknown-session',
    check(ctx) {
      if (ctx.session || ctx.sessionId === undefined) return null;
      // Accepted by the server: the gateway started mid-upload; the session is adopted.
      const accepted = is2xx(ctx.obs.status);
      return {
        message: `Fragment for session ${q(ctx.sessionId)} that no Create-Session Ack seen here issued` +
          (accepted ? ' (server accepted it: session adopted)' : ''),
        severity: accepted ? 'info' : 'warning',
      };
    },
  },
  {
    code: 'fragment-after-end',
    check(ctx) {
      const s = ctx.session;
      if (!s || (s.state !== 'closed' && s.state !== 'cancelled' && s.state !== 'failed' && s.state !== 'expired')) return null;
      const r = ctx.req.range;
      return { message: `Fragment${r ? ` bytes ${r.start}-${r.end}/${r.total}` : ''} on a session already ${s.state}` };
    },
  },
  {
    code: 'fragment-total-changed',
    check(ctx) {
      const s = ctx.session;
      const r = ctx.req.range;
      if (!s || !r || s.totalLength === null || r.total === s.totalLength) return null;
      return { message: `Fragment total length ${r.total} differs from the session's ${s.totalLength}` };
    },
  },
  {
    code: 'fragment-gap',
    check(ctx) {
      const s = ctx.session;
      const r = ctx.req.range;
      if (!s || !r || r.start <= s.ackedBytes || isEnded(s.state)) return null;
      const status = ctx.obs.status;
      // A 416 is the protocol working: the server names R and the client resumes from it.
      const handled = status === 416;
      return {
        message: `Fragment starts at ${r.start} but the server had acknowledged only ${s.ackedBytes} bytes (gap of ${r.start - s.ackedBytes})` +
          (status === undefined ? '' : handled ? '; server answered 416' : `; server answered ${status}`),
        severity: handled ? 'warning' : 'error',
      };
    },
  },
  {
    code: 'fragment-overlap',
    check(ctx) {
      const s = ctx.session;
      const r = ctx.req.range;
      if (!s || !r || r.start >= s.ackedBytes || isEnded(s.state)) return null;
      const repeated = Math.min(r.end + 1, s.ackedBytes) - r.start;
      return {
        message: `Fragment bytes ${r.start}-${r.end} resends ${repeated} bytes the server had already acknowledged (${s.ackedBytes})`,
      };
    },
  },
];

function isEnded(state: string): boolean {
  return state === 'closed' || state === 'cancelled' || state === 'failed' || state === 'expired';
}
