/**
 * The words and severities of the findings a lifecycle transition proves (lifecycle.ts says
 * WHICH transition raises WHICH code; this file says how each reads). Each builder sees the
 * exchange with the session as it was before it.
 */
import { formatErrorCode } from '../../protocol/index.js';
import type { ViolationCode } from '../events.js';
import type { Session } from '../session.js';
import { type ExchangeContext, type Finding, q } from './types.js';

function answerText(ctx: ExchangeContext): string {
  const status = ctx.obs.status;
  if (status === undefined) return `no response${ctx.obs.error ? ` (${ctx.obs.error})` : ''}`;
  const code = ctx.ack?.errorCode;
  const by = ctx.obs.responder === 'gateway' ? ' from the gateway' : '';
  return `${status}${code ? ' ' + formatErrorCode(code) : ''}${by}`;
}

/** The server's answer proves it holds the session (it acknowledged a range or committed). */
function serverKnowsIt(ctx: ExchangeContext): boolean {
  return ctx.answer === 'ok' || ctx.answer === 'resync';
}
/** The server's answer proves it does not hold the session. */
function serverDeniesIt(ctx: ExchangeContext): boolean {
  return ctx.answer === 'session-lost' || ctx.answer === 'fatal';
}

/**
 * A Close-Session on a closed session is a legal retry when its Ack was lost (§5): it comes on
 * another connection than the one that carried the 2xx Close Ack, and that connection carried
 * nothing after the Ack. Usually the gateway has seen that connection close; when the network
 * path broke silently it may still look open (no FIN arrives), and it is idle. A second Close
 * on the same connection, or after that connection went on with other requests (so the client
 * had its Ack), is a real double close.
 */
export function isRetryAfterLostAck(ctx: ExchangeContext): boolean {
  const s = ctx.session;
  return s !== undefined && s.closeConnection !== undefined && s.closeConnection !== ctx.obs.connectionId && s.closeConnectionReused !== true;
}

/**
 * The findings of the `idle-timeout` rows (lifecycle.ts): no exchange, so they see the session
 * only. close-rejected: a session still `closing` (a Close answered 5xx or not at all) never confirmed.
 */
export const IDLE_TIMEOUT_FINDINGS: Readonly<Partial<Record<ViolationCode, (session: Session) => Finding>>> = {
  'close-rejected': (session) => ({
    message: `Close-Session answered ${session.closeRetriedAfter ?? 'with an error'} and no resent Close was confirmed before the session expired: the commit was never confirmed`,
  }),
};

export const LIFECYCLE_FINDINGS: Readonly<Partial<Record<ViolationCode, (ctx: ExchangeContext) => Finding>>> = {
  'fragment-unknown-session': (ctx) => {
    const known = serverKnowsIt(ctx);
    return {
      message: `Fragment for session ${q(ctx.sessionId ?? '')} that no Create-Session Ack seen here issued (server answered ${answerText(ctx)}` +
        (known ? ': session adopted)' : ')'),
      severity: serverDeniesIt(ctx) ? 'warning' : 'info',
    };
  },
  'fragment-after-end': (ctx) => {
    const r = ctx.req.range;
    const what = `Fragment${r ? ` bytes ${r.start}-${r.end}/${r.total}` : ''} on a session already ${ctx.state}`;
    if (ctx.state === 'failed' && serverKnowsIt(ctx)) {
      return { message: `${what}; the server accepted it, so the session lives on`, severity: 'info' };
    }
    if (ctx.state === 'failed' || ctx.state === 'expired') {
      return { message: `${what} (server answered ${answerText(ctx)}); the client must restart at Create-Session`, severity: 'warning' };
    }
    const endedBy = ctx.session?.endRequestedAt;
    if (endedBy !== undefined && ctx.obs.startedAt < endedBy) {
      // Sent before the Close/Cancel that ended the session, answered after it: not a packet
      // after the end. One mistake, one verdict: a real race is close-while-busy's.
      return { message: `${what}, but sent before the packet that ended it and answered after (server answered ${answerText(ctx)}); close-while-busy judges the overlap`, severity: 'info' };
    }
    return { message: what, severity: 'error' };
  },
  'close-unknown-session': (ctx) => {
    const known = serverKnowsIt(ctx);
    return {
      message: `Close-Session for session ${q(ctx.sessionId ?? '')} that no Create-Session Ack seen here issued (server answered ${answerText(ctx)}` +
        (known ? ': the server committed it; the gateway started mid-session)' : ')'),
      severity: serverDeniesIt(ctx) ? 'warning' : 'info',
    };
  },
  'close-rejected': (ctx) => {
    const first = ctx.session?.closeRetriedAfter;
    if (ctx.state === 'closing' && ctx.answer === 'session-lost') {
      // Reading (§3 Ack for Close, §5 close-after-end, §6): a Close answered 5xx or not at all
      // is resent, and §5 lists that resend among Closes of a session that may already be
      // closed: the first Close may have committed. A server that committed and released the
      // session answers the resend exactly 0x8020001F, so the commit is unverifiable (warning),
      // whether the earlier Close got a 5xx or no answer. One rule for both; a final answer
      // other than 0x8020001F still says nothing was committed (error, below).
      const unanswered = ctx.session?.closeUnanswered === true;
      const which = unanswered && !first?.startsWith('no answer') ? 'unanswered' : 'first';
      return {
        message: `Close-Session answered ${answerText(ctx)} after an earlier Close got ${unanswered ? 'no answer' : first ?? 'no 2xx'}: the server had released the session, so the ${which} Close may have committed it; unverifiable`,
        severity: 'warning',
      };
    }
    return {
      message: `Close-Session answered ${answerText(ctx)}${first ? ` after an earlier ${first}` : ''}: the commit was never confirmed`,
    };
  },
  'close-after-end': (ctx) => {
    const s = ctx.session;
    if (ctx.state === 'closed' && isRetryAfterLostAck(ctx)) {
      const how = s!.closeConnectionDropped ? 'closed right after its 2xx Close Ack' : 'carried nothing after its 2xx Close Ack';
      return {
        message: `Close-Session resent on connection ${ctx.obs.connectionId} after connection ${s!.closeConnection} ${how}` +
          ` (the Ack was lost; server answered ${answerText(ctx)}): a legal retry`,
        severity: 'info',
      };
    }
    const same = s?.closeConnection === ctx.obs.connectionId ? ' on the same connection'
      : s?.closeConnectionReused ? ` after connection ${s.closeConnection} went on past its 2xx Close Ack` : '';
    return { message: `Close-Session on a session already ${ctx.state}${same} (server answered ${answerText(ctx)})`, severity: 'error' };
  },
};
