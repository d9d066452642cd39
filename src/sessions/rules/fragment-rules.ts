import { type Rule, q } from './types.js';

/**
 * Fragment rules (bits-protocol.md §4). R is what the server had acknowledged before this
 * fragment: S = R is normal, S < R a retransmission, S > R a gap. They run only while the
 * server holds the session (lifecycle.ts, rule set `fragment`); fragment-unknown-session and
 * fragment-after-end are lifecycle findings (lifecycle-findings.ts).
 */
export const FRAGMENT_RULES: readonly Rule[] = [
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
      if (!s || !r || r.start <= s.ackedBytes) return null;
      const status = ctx.obs.status;
      // A 416 is the protocol working: the server names R and the client resumes from it.
      const handled = ctx.answer === 'resync';
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
      if (!s || !r || r.start >= s.ackedBytes) return null;
      const repeated = Math.min(r.end + 1, s.ackedBytes) - r.start;
      return {
        message: `Fragment bytes ${r.start}-${r.end} resends ${repeated} bytes the server had already acknowledged (${s.ackedBytes})`,
      };
    },
  },
];

export { q };
