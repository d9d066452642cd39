/**
 * The four session packets as the IIS BITS extension answers them (bits-protocol.md
 * §2–§6): Create-Session, Fragment, Close-Session, Cancel-Session.
 *
 * Fragments must be contiguous with what we hold (R): S = R appends, S < R keeps only
 * the bytes past R, S > R is a gap answered with 416 and R. R only moves once a whole
 * fragment body has been written, so a connection dropped mid-body leaves R where it was
 * and the client resumes from our Ack. Once R = T the upload is complete and
 * upload-completion.ts runs the application and the commit; Close deletes an incomplete
 * upload, as IIS does. Only a 2xx Ack counts as progress for the idle timeout.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import { ERROR_CODES, UPLOAD_PROTOCOL_GUID, type BitsRequest } from '../protocol/index.js';
import type { AckFields } from '../protocol/encode.js';
import { cleanText } from '../sinks/logger.js';
import { isUploadReply, REPLY_PATH_PREFIX, type ResolvedConfig } from './config.js';
import type { ServerRequest, ServerResponse } from './http-exchange.js';
import { discardBody, sendAck, sendError } from './replies.js';
import type { SessionStore, UploadSession } from './session-store.js';
import { completeUpload, failureEndsSession, releaseFiles, type CompletionPoint, type FailureAck } from './upload-completion.js';
import { UploadFile } from './upload-file.js';
import { isInside, resolveUploadPath } from './upload-path.js';

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
  if (!target.ok) {
    config.logger.info({ url: cleanText(req.url.slice(0, 300)), reason: target.reason }, 'create-session refused');
    return sendError(req, res, target.status, statusCode(target.status));
  }
  const destination = target.value.absolute;
  if (!(await parentStaysInside(config.realRoot, destination))) {
    return sendError(req, res, 403, ERROR_CODES.E_ACCESSDENIED);
  }
  // §6: 403 + E_ACCESSDENIED, "target exists (no overwrite)"; a directory is never replaced.
  const existing = await fs.lstat(destination).catch(() => null);
  if (existing && (existing.isDirectory() || !config.allowOverwrite)) {
    return sendError(req, res, 403, ERROR_CODES.E_ACCESSDENIED);
  }
  const q = req.url.indexOf('?');
  const session = store.create({
    urlPath: q === -1 ? req.url : req.url.slice(0, q),
    query: q === -1 ? '' : req.url.slice(q),
    originalUrl: absoluteUrl(req, req.url),
    destination,
    segments: target.value.segments,
    file: UploadFile.inDirectory(config.work),
    uploadReply: isUploadReply(config, target.value.decodedPath),
    user: req.socket?.remoteAddress ?? '',
    now: config.now(),
  });
  // The built-in application always keeps the file (an application decides otherwise, §7).
  if (session.uploadReply && !config.notification) session.copyToDestination = true;
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

/** A 2xx Ack: the one thing that counts as progress for the idle timeout. */
function progress(ctx: PacketContext, session: UploadSession, fields: AckFields): void {
  session.lastActive = ctx.config.now();
  sendAck(ctx.res, 200, { ...fields, sessionId: session.id });
}

export async function fragment(ctx: PacketContext, session: UploadSession): Promise<void> {
  const { config, req, res, bits } = ctx;
  const ack = { sessionId: session.id };
  if (session.ended) return sendError(req, res, 500, ERROR_CODES.BG_E_SESSION_NOT_FOUND, ack);
  // The decoder sets range only when S <= E < T holds; a bad Content-Range leaves it unset.
  const range = bits.range;
  if (!range) {
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
  // §6: 500 + BG_E_TOO_LARGE, which the client hands to the application. A 413 would tell a
  // Windows client to shrink its fragments (M 3.1.5.2.4), forever.
  if (range.total > config.maxUpload) {
    return sendError(req, res, 500, ERROR_CODES.BG_E_TOO_LARGE, ack);
  }
  if (range.start > session.received) {
    return sendError(req, res, 416, ERROR_CODES.S_OK, { ...ack, receivedOffset: session.received });
  }
  session.total = range.total;
  if (session.contentName === undefined && bits.contentName !== undefined) session.contentName = bits.contentName;
  if (req.expectContinue && !req.complete) res.writeContinue();
  const skip = Math.max(0, session.received - range.start);
  // Nothing new (a resent final fragment, after a lost Ack or a failure): read, write nothing.
  const consumed = skip >= length
    ? await countBody(req)
    : await session.file.writeFrom(req, range.start + skip, skip);
  if (consumed !== length) {
    // The body ended early: the connection is gone, nobody can read an Ack.
    res.destroy();
    return;
  }
  session.received = Math.max(session.received, range.end + 1);
  if (session.received === session.total) {
    const failure = await completeUpload(config, ctx.store, session, 'fragment');
    if (failure) return answerFailure(ctx, session, 'fragment', failure, { receivedOffset: session.received });
  }
  const replyUrl = session.received === session.total ? replyUrlOf(req, session) : undefined;
  progress(ctx, session, { receivedOffset: session.received, replyUrl });
}

export async function closeSession(ctx: PacketContext, session: UploadSession): Promise<void> {
  const { config, store, req } = ctx;
  discardBody(req, ctx.res);
  // A zero-byte upload is complete without any fragment (bits-protocol.md §4).
  const complete = session.total === null ? session.received === 0 : session.received === session.total;
  if (!complete) {
    store.remove(session);
    await releaseFiles(config, session);
    config.logger.info({ sessionId: session.id, received: session.received, total: session.total }, 'incomplete upload deleted');
    return sendAck(ctx.res, 200, { sessionId: session.id });
  }
  const failure = await completeUpload(config, store, session, 'close-session');
  // The session stays when the client will resend Close (5xx): the retry commits.
  if (failure) return answerFailure(ctx, session, 'close-session', failure);
  store.remove(session);
  await releaseFiles(config, session);
  config.logger.info({ sessionId: session.id, committed: session.committed }, 'session closed');
  sendAck(ctx.res, 200, { sessionId: session.id });
}

/**
 * Cancel deletes the session, its temp file and its reply. A file already written to its
 * destination (at the final fragment, the default commit point) stays: after the last
 * fragment Cancel cancels only the reply part of an upload-reply job ([W]).
 */
export async function cancelSession(ctx: PacketContext, session: UploadSession): Promise<void> {
  const { config, store, req, res } = ctx;
  discardBody(req, res);
  store.remove(session);
  await releaseFiles(config, session);
  config.logger.info({ sessionId: session.id, kept: session.committed }, 'session cancelled');
  sendAck(res, 200, { sessionId: session.id });
}

function answerFailure(ctx: PacketContext, session: UploadSession, packet: CompletionPoint, failure: FailureAck, fields: AckFields = {}): Promise<void> {
  const { config, store, res } = ctx;
  const ends = failureEndsSession(packet, failure);
  const ack: AckFields = { ...fields, sessionId: session.id, errorCode: failure.code, errorContext: failure.context };
  if (!ends) {
    sendAck(res, failure.status, ack);
    return Promise.resolve();
  }
  // The client will not send this packet again: nothing could complete the session.
  store.remove(session);
  config.logger.info({ sessionId: session.id, status: failure.status }, 'session ended: the client gives up on this answer');
  return releaseFiles(config, session).then(() => sendAck(res, failure.status, ack));
}

/** Read a body we do not keep; resolves with its length (short if the connection died). */
async function countBody(body: AsyncIterable<Buffer>): Promise<number> {
  let n = 0;
  try {
    for await (const chunk of body) n += chunk.length;
  } catch {
    /* connection gone: the short count says so */
  }
  return n;
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

function replyUrlOf(req: ServerRequest, session: UploadSession): string | undefined {
  const reply = session.reply;
  if (!reply) return undefined;
  return reply.kind === 'static' ? reply.url : absoluteUrl(req, REPLY_PATH_PREFIX + reply.token);
}

// The scheme the client used: a gateway in front says it in X-Forwarded-Proto (it may
// terminate TLS for a plain-HTTP server, or the reverse); else our own connection's.
function replyScheme(req: ServerRequest): 'http' | 'https' {
  const forwarded = req.headers['x-forwarded-proto'];
  if (forwarded === 'https' || forwarded === 'http') return forwarded;
  return req.socket?.encrypted === true ? 'https' : 'http';
}

// An absolute URL on the host the client used (so a gateway in front sees the GET), when
// the Host header is a plain host[:port]; the path otherwise — it is untrusted input.
function absoluteUrl(req: ServerRequest, target: string): string {
  const host = req.headers.host;
  if (typeof host === 'string' && host.length <= 255 && /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/.test(host)) {
    return `${replyScheme(req)}://${host}${target}`;
  }
  return target;
}
