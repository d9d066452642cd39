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
  | 'upstream-certificate'
  | 'upstream-tls'
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
  // The upstream's certificate was refused (expired, wrong name, unknown CA): --upstream-ca,
  // --upstream-servername, or a new certificate on the server.
  if (UPSTREAM_CERT_CODES.has(code)) return { error: 'upstream-certificate', status: 502 };
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { error: 'upstream-tls', status: 502 };
  if (code === 'ETIMEDOUT') return { error: 'upstream-timeout', status: 504 };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') {
    return { error: 'upstream-unreachable', status: 502 };
  }
  return { error: 'upstream-error', status: 502 };
}

const UPSTREAM_CERT_CODES = new Set([
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_REVOKED', 'CERT_SIGNATURE_FAILURE',
]);

/** One-line plain-text bodies: no upstream detail, nothing a browser would render. */
export const GATEWAY_BODIES: Readonly<Record<number, string>> = {
  400: 'Bad Request: the Host header is empty\n',
  421: 'Misdirected Request: no upstream serves this host name\n',
  502: 'Bad Gateway: the upstream server failed to answer\n',
  504: 'Gateway Timeout: the upstream server did not answer in time\n',
};
