/**
 * How an upstream failure is reported: the status the client gets (when no response head
 * was sent yet) and the short reason recorded in the observation.
 */

export type UpstreamFailure =
  | 'upstream-refused'
  | 'upstream-reset'
  | 'upstream-closed'
  | 'upstream-timeout'
  | 'upstream-unreachable'
  | 'bad-upstream-response'
  | 'upstream-error';

export interface FailureReply {
  error: UpstreamFailure;
  status: 502 | 504;
}

/** Classifies an error from Node's http client (the proxyReq / proxyRes streams). */
export function classifyUpstreamError(err: unknown): FailureReply {
  const e = err as { code?: string; message?: string } | null;
  const code = e?.code ?? '';
  if (code === 'ECONNREFUSED') return { error: 'upstream-refused', status: 502 };
  // Node reports "socket hang up" when the upstream closed before any response byte.
  if (code === 'ECONNRESET' && e?.message === 'socket hang up') return { error: 'upstream-closed', status: 502 };
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return { error: 'upstream-reset', status: 502 };
  if (code.startsWith('HPE_')) return { error: 'bad-upstream-response', status: 502 };
  if (code === 'ETIMEDOUT') return { error: 'upstream-timeout', status: 504 };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') {
    return { error: 'upstream-unreachable', status: 502 };
  }
  return { error: 'upstream-error', status: 502 };
}

/** One-line plain-text bodies: no upstream detail, nothing a browser would render. */
export const GATEWAY_BODIES: Readonly<Record<number, string>> = {
  502: 'Bad Gateway: the upstream server failed to answer\n',
  504: 'Gateway Timeout: the upstream server did not answer in time\n',
};
