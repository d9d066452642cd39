/**
 * The BITS protocol decoder: pure functions from header lists to typed packets. Used by the
 * gateway, our server and client, the session tracker and `analyze`. Never throws on input.
 */
export { BITS_METHOD, UPLOAD_PROTOCOL_GUID, MAX_SESSION_ID_LENGTH } from './constants.js';
export { type Decoded, type Problem, type ProblemCode, type Severity, PROBLEM_CODES } from './decoded.js';
export { headerValue, headerValues, isToken, TCHAR } from './headers.js';
export { type PacketType, parsePacketType, PACKET_TYPE_NAMES } from './packet-type.js';
export { type ByteRange, parseContentRange, parseReceivedContentRange, parseDecimal } from './content-range.js';
export { isGuid, parseSessionId, parseSupportedProtocols, sameSessionId, sessionIdKey } from './session-id.js';
export {
  type ErrorCode,
  type ErrorCodeName,
  ERROR_CODES,
  ERROR_CONTEXT_NAMES,
  describeErrorCode,
  formatErrorCode,
  formatHex,
  HTTP_ERROR_BASE,
  parseErrorCode,
  parseErrorContext,
} from './error-codes.js';
export { type BitsRequest, decodeRequest } from './request.js';
export { type BitsAck, decodeAck } from './ack.js';
export { decodeExchange, decodeExchangeWithHead } from './exchange.js';
export { type Answer, type AnswerClass, type AnsweredPacket, classifyAnswer, endsSession } from './answer.js';
export { ERROR_CONTEXT_REMOTE_APPLICATION } from './encode.js';
