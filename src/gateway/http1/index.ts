/**
 * The HTTP/1.1 listener that accepts `BITS_POST` (Node's llhttp refuses the method).
 * Contract: types.ts. Choices a consumer may rely on:
 *
 * - Strict RFC 9112 parsing as a proxy: anything ambiguous is 400 (or 431/505) + close, with
 *   a stable reason code (RejectInfo.reason) and not one byte handed to the handler. Beyond
 *   the listed vectors it also rejects a 1.1 request without exactly one valid Host (RFC 9112
 *   §3.2), a request-target other than origin/absolute/asterisk form (no CONNECT tunnels), `Content-Length` with leading zeros, `Transfer-Encoding: gzip, chunked`, and
 *   Content-Length/Transfer-Encoding/Host/Connection/Trailer/Expect in trailers.
 *   Duplicate request headers are joined with ', ' in `headers` (cookie '; ', set-cookie an
 *   array); `rawHeaders`/`headerList` keep every line as sent. The object has no prototype.
 * - One request at a time per connection; the next head is parsed only after `res.end()`
 *   and the body was fully received. A response ended before its body was read drains up to
 *   1 MiB (keep-alive) or, beyond that / for `closeAfter()`, closes the connection
 *   (lingering: the rest is read and dropped for up to 2 s so the client sees the answer).
 *   A final answer to `Expect: 100-continue` without a 100 closes the connection.
 * - `res` emits 'finish' when its last byte reached the socket, and 'close' only when the
 *   connection goes away while it is the current response (or its last write failed); a
 *   response finished on a kept-alive connection never emits 'close'.
 * - The body stream emits 'aborted' then 'error' (code ECONNRESET) on a client disconnect,
 *   or 'aborted' then 'error' (RequestBodyError, code HTTP1_BAD_BODY, `.reason`) on a
 *   malformed chunked body. It never crashes the process when nobody listens.
 * - A client FIN after a complete request is a half-close: the response is still written,
 *   then the connection closes. A FIN in the middle of a body is a disconnect.
 * - Timers: headers timeout runs from accept (first request) or from the first byte of a
 *   later head, never reset per byte; a connection that sent nothing is closed silently
 *   (no onReject). A body that stops arriving for bodyTimeoutMs (counted only while we read,
 *   not while the handler applies backpressure) gets 408 / close. No timeout while the
 *   handler works on its response: that is the consumer's (e.g. the forwarder's upstream timer).
 */
export type {
  ConnectionInfo, Http1Handler, Http1Request, Http1Response, Http1ServerOptions, RejectInfo,
} from './types.js';
export { createHttp1Server } from './server.js';
export { RequestBodyError } from './connection.js';
export { DEFAULT_LIMITS } from './limits.js';
