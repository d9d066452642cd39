/**
 * The four session packets as the IIS BITS extension answers them (bits-protocol.md
 * §2–§5): Create-Session, Fragment, Close-Session, Cancel-Session.
 *
 * Fragments must be contiguous with what we hold (R): S = R appends, S < R keeps only
 * the bytes past R, S > R is a gap answered with 416 and R. R only moves once a whole
 * fragment body has been written, so a connection dropped mid-body leaves R where it was
 * and the client resumes from our Ack. Close commits a complete upload atomically and
 * deletes an incomplete one, as IIS does.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ERROR_CODES, UPLOAD_PROTOCOL_GUID, type BitsRequest } from '../protocol/index.js';
import { cleanText } from '../sinks/logger.js';
import { isUploadReply, REPLY_PATH_PREFIX, type ResolvedConfig } from './config.js';
import type { ServerRequest, ServerResponse } from './http-exchange.js';
import { discardBody, sendAck, sendError } from './replies.js';
import type { SessionStore, UploadSession } from './session-store.js';
import { UploadFile } from './upload-file.js';
import { isInside, resolveUploadPath } from './upload-path.js';

/** HRESULT_FROM_WIN32(ERROR_FILE_EXISTS): what Windows reports for an existing file. */
const E_FILE_EXISTS = 0x80070050;

export interface PacketContext {
  config: ResolvedConfig;
  store: SessionStore;
  req: ServerRequest;
  res: ServerResponse;
  bits: BitsRequest;
}

function statusCode(status: 400 | 403): number {
  return status === 403 ? ERROR_CODES.E_ACCESSDENIED : ERROR_CODES.E_INVALIDARG;
}

export async function createSession(ctx: PacketContext): Promise<void> {
  const { config, store, req, res, bits } = ctx;
  const offered = bits.supportedProtocols ?? [];
  const protocol = offered.find((p) => p.toLowerCase() === UPLOAD_PROTOCOL_GUID.toLowerCase());
  if (protocol === undefined) {
    return sendError(req, res, 400, ERROR_CODES.E_INVALIDARG);
  }
  const target = resolveUploadPath(config.realRoot, req.url);
  if (!target.ok) return sendError(req, res, target.status, statusCode(target.status));
  const destination = target.value.absolute;
  if (!(await parentStaysInside(config.realRoot, destination))) {
    return sendError(req, res, 403, ERROR_CODES.E_ACCESSDENIED);
  }
  const existing = await fs.lstat(destination).catch(() => null);
  if (existing && (existing.isDirectory() || !config.allowOverwrite)) {
    return sendError(req, res, 409, E_FILE_EXISTS);
  }
  if (store.size >= config.maxSessions) {
    // Transient for BITS clients: they retry later, when sessions have closed or expired.
    return sendError(req, res, 503, ERROR_CODES.E_FAIL);
  }
  const session = store.create({
    urlPath: req.url.split('?')[0]!,
    destination,
    file: UploadFile.inDirectory(config.workDir),
    uploadReply: isUploadReply(config, target.value.decodedPath),
    now: config.now(),
  });
  config.logger.info(
    { sessionId: session.id, file: cleanText(target.value.relative), kind: session.uploadReply ? 'upload-reply' : 'upload' },
    'session created',
  );
  discardBody(req, res);
  sendAck(res, 200, {
    protocol,
    sessionId: session.id,
    acceptIdentity: true,
    hostId: config.hostId,
    hostIdFallbackTimeout: config.hostId !== undefined ? config.hostIdFallbackTimeout : undefined,
  });
}

/** Find the session a packet names, or answer as IIS does: 500 + BG_E_SESSION_NOT_FOUND. */
export function findSession(ctx: PacketContext): UploadSession | undefined {
  const { store, req, res, bits } = ctx;
  if (bits.sessionId === undefined) {
    sendError(req, res, 400, ERROR_CODES.E_INVALIDARG);
    return undefined;
  }
  const session = store.get(bits.sessionId);
  if (!session || session.ended) {
    sendError(req, res, 500, ERROR_CODES.BG_E_SESSION_NOT_FOUND, { sessionId: bits.sessionId });
    return undefined;
  }
  return session;
}

export async function fragment(ctx: PacketContext, session: UploadSession): Promise<void> {
  const { config, req, res, bits } = ctx;
  const ack = { sessionId: session.id };
  if (session.ended) return sendError(req, res, 500, ERROR_CODES.BG_E_SESSION_NOT_FOUND, ack);
  const range = bits.range;
  if (!range || range.start > range.end || range.end >= range.total) {
    return sendError(req, res, 400, ERROR_CODES.E_INVALIDARG, ack);
  }
  // BITS supports identity only; the decoder reports any other Content-Encoding.
  if (bits.problems.some((p) => p.header === 'Content-Encoding')) {
    return sendError(req, res, 400, ERROR_CODES.E_INVALIDARG, ack);
  }
  const length = range.end - range.start + 1;
  if (req.contentLength === null || req.contentLength !== length) {
    return sendError(req, res, 400, ERROR_CODES.E_INVALIDARG, ack);
  }
  if (session.total !== null && range.total !== session.total) {
    return sendError(req, res, 400, ERROR_CODES.E_INVALIDARG, ack);
  }
  if (range.total > config.maxUpload) {
    return sendError(req, res, 413, ERROR_CODES.BG_E_TOO_LARGE, ack);
  }
  if (range.start > session.received) {
    return sendError(req, res, 416, ERROR_CODES.E_INVALIDARG, { ...ack, receivedOffset: session.received });
  }
  session.total = range.total;
  if (session.contentName === undefined && bits.contentName !== undefined) session.contentName = bits.contentName;
  if (req.expectContinue && !req.complete) res.writeContinue();
  const skip = Math.max(0, session.received - range.start);
  const consumed = await session.file.writeFrom(req, range.start + skip, Math.min(skip, length));
  session.lastActive = config.now();
  if (consumed !== length) {
    // The body ended early: the connection is gone, nobody can read an Ack.
    res.destroy();
    return;
  }
  session.received = Math.max(session.received, range.end + 1);
  let replyUrl: string | undefined;
  if (session.received === session.total) {
    if (session.uploadReply && !session.reply) {
      const digest = await sha256File(session.file.tempPath);
      ctx.store.setReply(session, Buffer.from(`${digest}\n`, 'utf8'));
    }
    if (session.reply) replyUrl = replyUrlFor(req, session.reply.token);
  }
  sendAck(res, 200, { ...ack, receivedOffset: session.received, replyUrl });
}

export async function closeSession(ctx: PacketContext, session: UploadSession): Promise<void> {
  const { config, store, req, res } = ctx;
  discardBody(req, res);
  store.remove(session);
  // A zero-byte upload is complete without any fragment (bits-protocol.md §4).
  const complete = session.total === null ? session.received === 0 : session.received === session.total;
  if (!complete) {
    await session.file.discard();
    config.logger.info({ sessionId: session.id, received: session.received, total: session.total }, 'incomplete upload deleted');
    return sendAck(res, 200, { sessionId: session.id });
  }
  let result;
  try {
    result = await session.file.commit(session.destination, config.realRoot, config.allowOverwrite);
  } catch (err) {
    result = { ok: false as const, status: 500 as const, reason: String(err) };
  }
  if (!result.ok) {
    await session.file.discard();
    config.logger.warn({ sessionId: session.id, reason: result.reason }, 'commit failed');
    const code = result.status === 409 ? E_FILE_EXISTS : result.status === 403 ? ERROR_CODES.E_ACCESSDENIED : ERROR_CODES.E_FAIL;
    return sendAck(res, result.status, { sessionId: session.id, errorCode: code });
  }
  config.logger.info({ sessionId: session.id, bytes: session.received }, 'upload committed');
  sendAck(res, 200, { sessionId: session.id });
}

export async function cancelSession(ctx: PacketContext, session: UploadSession): Promise<void> {
  const { config, store, req, res } = ctx;
  discardBody(req, res);
  store.remove(session);
  await session.file.discard();
  config.logger.info({ sessionId: session.id }, 'session cancelled');
  sendAck(res, 200, { sessionId: session.id });
}

/**
 * The nearest existing ancestor of the destination must resolve inside the root: a
 * symlinked directory under the root must not lead the upload elsewhere.
 */
async function parentStaysInside(realRoot: string, destination: string): Promise<boolean> {
  let dir = path.dirname(destination);
  for (;;) {
    try {
      return isInside(realRoot, await fs.realpath(dir));
    } catch {
      const up = path.dirname(dir);
      if (up === dir) return false;
      dir = up;
    }
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

// An absolute URL on the host the client used (so a gateway in front sees the GET), when
// the Host header is a plain host[:port]; a path otherwise — it is untrusted input.
function replyUrlFor(req: ServerRequest, token: string): string {
  const host = req.headers.host;
  const path = REPLY_PATH_PREFIX + token;
  if (typeof host === 'string' && host.length <= 255 && /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/.test(host)) {
    return `http://${host}${path}`;
  }
  return path;
}
