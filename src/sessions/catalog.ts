import type { Severity, Violation, ViolationCode } from './events.js';
import { capMessage } from './retention.js';
import type { Finding } from './rules/types.js';

/** The fixed part of every violation: default severity and what it means for the upload. */
export interface ViolationInfo {
  severity: Severity;
  /** Short noun phrase for reports and the dashboard legend. */
  title: string;
  /** Consequence, then what the client or server should do. */
  explain: string;
}

/**
 * One entry per code in VIOLATION_CODES (the Record type makes a missing one a compile
 * error). Severity here is the default; a rule may raise or lower it for one finding
 * (e.g. an unknown-session Close the server also rejected is an error).
 */
export const VIOLATION_CATALOG: Readonly<Record<ViolationCode, ViolationInfo>> = {
  'close-incomplete': {
    severity: 'error',
    title: 'Close-Session before the upload was complete',
    explain: 'The server deletes the partial upload on Close-Session; BITS never keeps a partial file. The client must send the remaining fragments and close only after the Ack that acknowledges the total length.',
  },
  'close-before-reply': {
    severity: 'error',
    title: 'Close-Session before the reply was fetched',
    explain: 'For upload-reply jobs the reply exists only until Close-Session, so it is lost. The client must GET the BITS-Reply-URL of the final Ack before closing.',
  },
  'close-unknown-session': {
    severity: 'warning',
    title: 'Close-Session for an unknown session',
    explain: 'No Create-Session Ack seen here issued this id. When the server committed it (2xx) the gateway started mid-session and the session is adopted (info); when the server does not know it either (BG_E_SESSION_NOT_FOUND) another server holds it or it never existed: check that every packet of the session passes through the same server and gateway.',
  },
  'close-after-end': {
    severity: 'error',
    title: 'Close-Session on a session that already ended',
    explain: 'The session was already closed or cancelled with a 2xx Ack. A Close resent on another connection, when the connection that carried the Close Ack carried nothing after it (it closed, or the path broke silently), is a legal retry (the Ack was lost; info); a second Close on the same connection, or after that connection went on with other requests, is a client bug: it should stop sending packets for an ended session.',
  },
  'close-while-busy': {
    severity: 'error',
    title: 'Close-Session while another request was in flight',
    explain: 'The request in flight races the commit or deletion on the server: its bytes may be lost or the commit may see a half-written file. The client must wait for every Ack before closing.',
  },
  'close-no-data': {
    severity: 'warning',
    title: 'Close-Session with no data uploaded',
    explain: 'No Fragment of this session was acknowledged, so the server commits nothing (or an empty file). A zero-byte upload is possible and undocumented (some clients send no Fragment for it); otherwise the client closed before sending its data.',
  },
  'close-other-url': {
    severity: 'warning',
    title: 'Close-Session sent to another URL',
    explain: 'Heuristic: the docs never state it, but a different path may reach a server (or vdir) that does not know the session. The client should send every packet of a session to the Create-Session URL.',
  },
  'close-wrong-host': {
    severity: 'error',
    title: 'Close-Session sent past the issued BITS-Host-Id',
    explain: 'The Create-Session Ack named the farm node holding the session (BITS-Host-Id); a Close sent elsewhere within BITS-Host-Id-Fallback-Timeout (or at any time when no timeout was issued: the client never falls back) reaches a node that lacks the session, and the partial file stays on the first node until BITSSessionTimeout.',
  },
  'close-rejected': {
    severity: 'error',
    title: 'Close-Session never confirmed',
    explain: 'The server did not confirm the commit, so the file may not be at its destination. Raised when the session ends unconfirmed: a final answer (4xx, or BG_E_SESSION_NOT_FOUND), or expiry after a 5xx nobody retried. A 5xx the client resends and the server then commits is not a rejection (the 5xx stays reported as server-error). Check the server log for the named error.',
  },
  'close-after-expiry': {
    severity: 'warning',
    title: 'Close-Session after the session timeout',
    explain: 'Measured from the last 2xx Ack of progress. The server deletes sessions idle longer than its timeout (IIS BITSSessionTimeout, 14 days by default), so the upload is already gone. The client must restart the job; raise the timeout if uploads legitimately pause this long.',
  },
  'fragment-gap': {
    severity: 'error',
    title: 'Fragment leaves a gap',
    explain: 'Fragments must be contiguous: a start beyond the bytes the server holds must be answered 416 with BITS-Received-Content-Range, and the client resumes from there. A server that accepts a gap writes a file with a hole.',
  },
  'fragment-overlap': {
    severity: 'info',
    title: 'Fragment retransmits acknowledged bytes',
    explain: 'Usually a retry after a lost Ack; the server keeps only the new bytes. Frequent overlaps waste bandwidth and point at a flaky connection or a server whose Acks do not arrive.',
  },
  'fragment-total-changed': {
    severity: 'error',
    title: 'Fragment changes the total length',
    explain: 'Every fragment of a session must carry the same total in Content-Range. The local file changed during the upload (BG_E_LOCAL_FILE_CHANGED) or the client is broken; the upload must restart with a new session.',
  },
  'fragment-length-mismatch': {
    severity: 'error',
    title: 'Fragment length differs from its range',
    explain: 'Content-Length must equal END-START+1 of Content-Range. The server rejects the fragment (400) or stores the wrong bytes; the client must send exactly the announced range.',
  },
  'fragment-after-end': {
    severity: 'error',
    title: 'Fragment on a session that already ended',
    explain: 'The session was closed, cancelled, failed or expired, so the server no longer holds it and answers BG_E_SESSION_NOT_FOUND; the client must create a new session. Error after a 2xx Close or Cancel; warning after a failure or expiry; info when the server accepts it all the same (the session lives on).',
  },
  'fragment-unknown-session': {
    severity: 'warning',
    title: 'Fragment for an unknown session',
    explain: 'No Create-Session Ack seen here issued this id. When the server acknowledges it the gateway started mid-upload and the session is adopted (info); when the server does not know it either, another server created it and this one answers BG_E_SESSION_NOT_FOUND (warning).',
  },
  'packet-missing-header': {
    severity: 'error',
    title: 'Required BITS header missing',
    explain: 'The peer cannot process the packet without it: the server answers 400 / E_INVALIDARG, the client treats a malformed Ack as BG_E_INVALID_SERVER_RESPONSE. Fix the sender to include every header the packet type requires.',
  },
  'packet-bad-header': {
    severity: 'warning',
    title: 'Malformed or misplaced BITS header',
    explain: 'A BITS header has a value the protocol does not allow, or appears where it does not belong. Strict peers reject the packet; fix the sender to follow the BITS upload protocol.',
  },
  'packet-unknown-type': {
    severity: 'error',
    title: 'Unknown BITS-Packet-Type',
    explain: 'Only Ping, Create-Session, Fragment, Close-Session and Cancel-Session are requests; the server answers anything else with 400. Fix the client.',
  },
  'protocol-unsupported': {
    severity: 'error',
    title: 'No common BITS protocol',
    explain: 'Client and server must agree on {7df0354d-249b-430f-820d-3d2a9bef4931}, the BITS 1.5 upload protocol; otherwise the server answers 400 / E_INVALIDARG and no session exists.',
  },
  'ack-missing': {
    severity: 'error',
    title: 'Response is not a BITS Ack',
    explain: 'Every answer to a BITS packet must carry BITS-Packet-Type: Ack; otherwise the client sees BG_E_INVALID_SERVER_RESPONSE. Usually something in front of the BITS server extension (a proxy, a filter, a disabled vdir) answered instead.',
  },
  'ack-session-mismatch': {
    severity: 'error',
    title: 'Ack names another session',
    explain: 'The Ack carries a BITS-Session-Id other than the request, so client and server disagree on the session. A shared upstream connection or a broken server mixes sessions; pin each client connection to its own upstream.',
  },
  'ack-range-regressed': {
    severity: 'error',
    title: 'Server acknowledged fewer bytes than before',
    explain: 'BITS-Received-Content-Range went down, so bytes the server had confirmed are gone (restart, another farm node, storage failure). The client resumes from the lower offset; investigate the server.',
  },
  'server-error': {
    severity: 'warning',
    title: 'Server reported an error',
    explain: 'The Ack carried an error status or BITS-Error-Code. Severity follows what the client does (src/protocol/answer.ts): it gives up -> error; it resends or restarts -> warning; 413 (send smaller fragments) -> info. The named code says why.',
  },
  'host-id-ignored': {
    severity: 'warning',
    title: 'Packet bypassed the issued BITS-Host-Id',
    explain: 'The Create-Session Ack named the farm node that holds the session; packets sent elsewhere may reach a node that does not know it (BG_E_SESSION_NOT_FOUND). The client should use the host id until BITS-Host-Id-Fallback-Timeout has passed without an answer from it, and forever when no timeout was issued.',
  },
  'auth-channel-binding': {
    severity: 'error',
    title: 'NTLM/Negotiate handshake loops on one connection',
    explain: 'IIS with Extended Protection (extendedProtection tokenChecking="Require") binds NTLM/Kerberos tokens to the TLS channel the client sees, which ends at the gateway, so every handshake through a TLS-terminating proxy fails and the job never authenticates. On the IIS site add flags="Proxy" and the gateway\'s names as SPNs (HTTP/gateway.example.com), or set tokenChecking="None" (README: TLS and farms). If direct access fails too, the credentials are wrong.',
  },
};

/**
 * A violation of `code` from one rule's finding: the catalog's severity unless the finding
 * overrides it, the message capped, the exchange first among those it names.
 */
export function buildViolation(code: ViolationCode, finding: Finding, sessionId: string | undefined, exchange: number, time: number): Violation {
  const info = VIOLATION_CATALOG[code];
  const extra = finding.exchanges;
  const v: Violation = {
    code,
    severity: finding.severity ?? info.severity,
    message: capMessage(finding.message),
    explain: info.explain,
    exchanges: extra && extra.length ? [exchange, ...extra.filter((e) => e !== exchange)] : [exchange],
    time,
  };
  if (sessionId !== undefined) v.sessionId = sessionId;
  return v;
}
