/**
 * Request router of the BITS server: `BITS_POST` packets go to their handler (session
 * packets run one at a time per session), `GET` serves upload-reply replies, anything
 * else is refused. Headers are decoded only by src/protocol.
 */
import fs from 'node:fs/promises';
import { BITS_METHOD, ERROR_CODES, decodeRequest } from '../protocol/index.js';
import { REPLY_PATH_PREFIX, type ResolvedConfig } from './config.js';
import type { ServerRequest, ServerResponse } from './http-exchange.js';
import { discardBody, sendAck, sendError, sendText } from './replies.js';
import {
  cancelSession,
  closeSession,
  createSession,
  findSession,
  fragment,
  type PacketContext,
} from './session-packets.js';
import type { SessionStore } from './session-store.js';

export type RequestHandler = (req: ServerRequest, res: ServerResponse) => void;

export function createBitsHandler(config: ResolvedConfig, store: SessionStore): RequestHandler {
  return (req, res) => {
    handle(config, store, req, res).catch((err: unknown) => {
      config.logger.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) {
        sendError(req, res, 500, ERROR_CODES.E_FAIL);
      } else if (!res.finished) {
        res.destroy();
      }
    });
  };
}

async function handle(config: ResolvedConfig, store: SessionStore, req: ServerRequest, res: ServerResponse): Promise<void> {
  if (req.method === 'GET' || req.method === 'HEAD') return serveReply(config, store, req, res);
  if (req.method !== BITS_METHOD) {
    discardBody(req, res);
    return sendText(res, 405, 'method not allowed\n', [['Allow', `${BITS_METHOD}, GET`]]);
  }
  const bits = decodeRequest(req.method, req.headerList);
  if (!bits) return sendError(req, res, 400, ERROR_CODES.E_INVALIDARG);
  const ctx: PacketContext = { config, store, req, res, bits };
  switch (bits.type) {
    case 'ping':
      discardBody(req, res);
      return sendAck(res, 200);
    case 'create-session':
      return createSession(ctx);
    case 'fragment':
    case 'close-session':
    case 'cancel-session': {
      const session = findSession(ctx);
      if (!session) return;
      return store.exclusive(session, async () => {
        // The session may have ended while this request waited in its queue.
        if (session.ended) return void findSession(ctx);
        if (bits.type === 'fragment') return fragment(ctx, session);
        if (bits.type === 'close-session') return closeSession(ctx, session);
        return cancelSession(ctx, session);
      });
    }
    default:
      return sendError(req, res, 400, ERROR_CODES.E_INVALIDARG);
  }
}

async function serveReply(config: ResolvedConfig, store: SessionStore, req: ServerRequest, res: ServerResponse): Promise<void> {
  discardBody(req, res);
  const path = req.url.split('?')[0]!;
  const reply = path.startsWith(REPLY_PATH_PREFIX) ? store.getReply(path.slice(REPLY_PATH_PREFIX.length)) : undefined;
  // An application's reply is at most MAX_REPLY_BYTES (notification.ts): read in one piece.
  const body = reply?.kind === 'body' ? reply.body
    : reply?.kind === 'file' ? await fs.readFile(config.work.entry(reply.name)).catch(() => undefined)
    : undefined;
  if (!body) return sendText(res, 404, 'not found\n');
  config.logger.info({ token: path.slice(REPLY_PATH_PREFIX.length) }, 'reply served');
  res.writeHead(200, [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(body.length)],
    ['Cache-Control', 'no-store'],
  ]);
  res.end(req.method === 'HEAD' ? undefined : body);
}
