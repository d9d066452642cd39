/** The HTTP/1.1 listener that accepts `BITS_POST`: see types.ts for the contract. */
export type {
  ConnectionInfo, Http1Handler, Http1Request, Http1Response, Http1ServerOptions, RejectInfo,
} from './types.js';
export { createHttp1Server } from './server.js';
export { RequestBodyError } from './connection.js';
export { DEFAULT_LIMITS } from './limits.js';
