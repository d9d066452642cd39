/**
 * Writing Acks and plain responses. Every response carries Content-Length (BITS clients
 * and proxies read Acks on kept-alive connections) and every error Ack carries
 * BITS-Error-Code and BITS-Error-Context.
 */
import { ackHeaders, type AckFields } from '../protocol/encode.js';
import type { ServerRequest, ServerResponse } from './http-exchange.js';

export function sendAck(res: ServerResponse, status: number, fields: AckFields = {}): void {
  res.writeHead(status, [...ackHeaders(fields), ['Content-Length', '0']]);
  res.end();
}

export function sendError(
  req: ServerRequest,
  res: ServerResponse,
  status: number,
  errorCode: number,
  fields: Omit<AckFields, 'errorCode'> = {},
): void {
  discardBody(req, res);
  sendAck(res, status, { ...fields, errorCode });
}

export function sendText(res: ServerResponse, status: number, text: string, extra: [string, string][] = []): void {
  const body = Buffer.from(text, 'utf8');
  res.writeHead(status, [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(body.length)],
    ['X-Content-Type-Options', 'nosniff'],
    ...extra,
  ]);
  res.end(body);
}

/**
 * A request we answer without using its body. The listener drains a small unread body
 * (keeping the connection) or lingers and closes after a big one, so the client always
 * reads our answer. A client still waiting for `100 Continue` gets none: we close after
 * the response instead of inviting bytes nobody wants (RFC 9110 §10.1.1).
 */
export function discardBody(req: ServerRequest, res: ServerResponse): void {
  if (req.complete) return;
  if (req.expectContinue) res.closeAfter();
}
