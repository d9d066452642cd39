/**
 * createHttp1Server: a net.Server whose connections speak HTTP/1.1 through our own strict
 * parser, because Node's llhttp refuses the `BITS_POST` method.
 */
import * as net from 'node:net';
import { Http1Connection } from './connection.js';
import { resolveLimits } from './limits.js';
import type { Http1Handler, Http1ServerOptions } from './types.js';

export function createHttp1Server(handler: Http1Handler, options: Http1ServerOptions = {}): net.Server {
  const limits = resolveLimits({
    ...(options.headersTimeoutMs !== undefined && { headersTimeoutMs: options.headersTimeoutMs }),
    ...(options.maxHeadBytes !== undefined && { maxHeadBytes: options.maxHeadBytes }),
    ...(options.keepAliveTimeoutMs !== undefined && { keepAliveTimeoutMs: options.keepAliveTimeoutMs }),
    ...(options.maxChunkExtensionBytes !== undefined && { maxChunkExtensionBytes: options.maxChunkExtensionBytes }),
    ...(options.bodyTimeoutMs !== undefined && { bodyTimeoutMs: options.bodyTimeoutMs }),
  });
  const hooks = {
    ...(options.onReject && { onReject: options.onReject }),
    ...(options.onConnection && { onConnection: options.onConnection }),
    ...(options.onConnectionClose && { onConnectionClose: options.onConnectionClose }),
  };
  // allowHalfOpen: a client that half-closes after its request must still get the response.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  server.on('connection', (socket) => {
    new Http1Connection(socket, handler, limits, hooks);
  });
  return server;
}
