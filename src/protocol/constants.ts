/** The HTTP method of every BITS request packet. Node's http server refuses it (HPE_INVALID_METHOD). */
export const BITS_METHOD = 'BITS_POST';

/** The BITS 1.5 upload protocol, the only one in use (bits-protocol.md §2). Compare case-insensitively. */
export const UPLOAD_PROTOCOL_GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';

/** Microsoft's server rejects longer session ids; the client echoes the id verbatim. */
export const MAX_SESSION_ID_LENGTH = 100;

/** Header names, lower case, as the decoders look them up. */
export const H = {
  packetType: 'bits-packet-type',
  sessionId: 'bits-session-id',
  supportedProtocols: 'bits-supported-protocols',
  protocol: 'bits-protocol',
  receivedContentRange: 'bits-received-content-range',
  /** A misspelling some servers send; accepted and reported. */
  recievedContentRange: 'bits-recieved-content-range',
  replyUrl: 'bits-reply-url',
  hostId: 'bits-host-id',
  hostIdFallbackTimeout: 'bits-host-id-fallback-timeout',
  errorCode: 'bits-error-code',
  /** [MC-BUP] names the error header `BITS-Error`; the Win32 pages say `BITS-Error-Code`. */
  error: 'bits-error',
  errorContext: 'bits-error-context',
  contentRange: 'content-range',
  contentLength: 'content-length',
  contentName: 'content-name',
  contentEncoding: 'content-encoding',
  host: 'host',
} as const;
