/**
 * What happens once every byte of an upload is in: the server application runs (upload-
 * reply) and the file goes to its destination (plain uploads, and upload-reply jobs whose
 * application asked for it). Run from the final Fragment (and any resent one) and from
 * Close-Session; idempotent, so a retry picks up where a failure stopped.
 *
 * A failure never throws the data away by itself: it becomes the Ack the reference gives
 * for its cause, and the one classifier of answers (src/protocol/answer.ts) says whether
 * the client will send the packet again. If it will, the session and its temp file stay so
 * the retry can succeed (a full disk: 500 + 0x80070112); if it will not, they are freed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { classifyAnswer, endsSession, ERROR_CODES, HTTP_ERROR_BASE } from '../protocol/index.js';
import { ERROR_CONTEXT_REMOTE_APPLICATION } from '../protocol/encode.js';
import type { ResolvedConfig } from './config.js';
import { notifyApplication } from './notification.js';
import { SessionStore, type UploadSession } from './session-store.js';
import type { CommitFailure } from './upload-file.js';

/** An error Ack: status, BITS-Error-Code and BITS-Error-Context. */
export interface FailureAck {
  status: number;
  code: number;
  context?: number;
  reason: string;
  /** The application's failures keep the session: a resumed job posts again (or gets its 403 again). */
  source: 'commit' | 'application';
}

/** BG_E_HTTP_ERROR_nnn: how an application's HTTP status is reported as an HRESULT. */
function httpErrorCode(status: number): number {
  return (HTTP_ERROR_BASE + status) >>> 0;
}

/**
 * The reference's Ack for each commit failure (§6). An existing destination is 403 +
 * 0x80070005 (§6's row, which a Windows client treats as final; §3's "409: file exists"
 * would be retried forever by the same client, see answer.ts).
 */
const COMMIT_FAILURE_ACK: Readonly<Record<CommitFailure, Omit<FailureAck, 'reason' | 'source'>>> = {
  'exists': { status: 403, code: ERROR_CODES.E_ACCESSDENIED },
  'unsafe-path': { status: 403, code: ERROR_CODES.E_ACCESSDENIED },
  'disk-full': { status: 500, code: ERROR_CODES.ERROR_DISK_FULL },
  'failed': { status: 500, code: ERROR_CODES.E_FAIL },
};

export type CompletionPoint = 'fragment' | 'close-session';

/** Run what is due once the upload is complete; undefined when everything succeeded. */
export async function completeUpload(
  config: ResolvedConfig,
  store: SessionStore,
  session: UploadSession,
  at: CompletionPoint,
): Promise<FailureAck | undefined> {
  // The application runs at the final fragment (the client waits for its reply there);
  // a Close without it (zero bytes, or after an application error) does not call it.
  if (session.uploadReply && !session.reply && at === 'fragment') {
    const failure = await runApplication(config, store, session);
    if (failure) return failure;
  }
  const due = config.commitOn === 'final-fragment' || at === 'close-session';
  if (session.copyToDestination && !session.committed && due) {
    const result = await session.file.commit(config.root, session.segments, config.allowOverwrite, config.commitOps);
    if (!result.ok) {
      config.logger.warn({ sessionId: session.id, cause: result.cause, reason: result.reason }, 'commit failed');
      return { ...COMMIT_FAILURE_ACK[result.cause], reason: result.reason, source: 'commit' };
    }
    session.committed = true;
    config.logger.info({ sessionId: session.id, bytes: session.received }, 'upload committed');
  }
  return undefined;
}

/**
 * Whether the session must end after a failed commit: only when the client will not send
 * the packet again (the classifier's view), so nobody could ever complete it. An
 * application's failure keeps the session as IIS does (until the idle timeout): a job the
 * user resumes posts the file again, and §6's "only 403 stops re-posting" needs the session.
 */
export function failureEndsSession(packet: CompletionPoint, failure: FailureAck): boolean {
  if (failure.source === 'application') return false;
  return endsSession(classifyAnswer(packet, failure.status, failure.code, failure.context).class);
}

async function runApplication(config: ResolvedConfig, store: SessionStore, session: UploadSession): Promise<FailureAck | undefined> {
  if (!config.notification) {
    // Built-in application: the reply is the file's sha256, and the file is kept.
    const digest = await sha256File(session.file.tempPath);
    store.setReply(session, { token: SessionStore.newToken(), kind: 'body', body: Buffer.from(`${digest}\n`, 'utf8') });
    session.copyToDestination = true;
    return undefined;
  }
  // "Only 403 stops re-posting the file to the application" (§6): a resent final fragment
  // after a 403 gets the 403 again.
  if (session.appFailure?.status === 403) return appFailureAck(session.appFailure.status, session.appFailure.reason);
  const token = SessionStore.newToken();
  const responseName = `${token}.reply`;
  await session.file.ensureExists();
  const outcome = await notifyApplication(config.notification, {
    dataFileForApp: session.file.realTempPath,
    dataFileForUs: session.file.tempPath,
    responseFileForApp: config.work.realEntry(responseName),
    responseFileForUs: config.work.entry(responseName),
    originalUrl: session.originalUrl,
    query: session.query,
  });
  if (!outcome.ok) {
    session.appFailure = { status: outcome.status, reason: outcome.reason };
    await fs.rm(config.work.entry(responseName), { force: true });
    config.logger.warn({ sessionId: session.id, status: outcome.status, reason: outcome.reason, posts: outcome.posts }, 'application failed');
    return appFailureAck(outcome.status, outcome.reason);
  }
  session.appFailure = undefined;
  store.setReply(session, outcome.reply.kind === 'static' ? outcome.reply : { token, kind: 'file', name: responseName });
  session.copyToDestination = outcome.copyToDestination;
  config.logger.info({ sessionId: session.id, posts: outcome.posts, reply: outcome.reply.kind, copy: outcome.copyToDestination }, 'application answered');
  return undefined;
}

function appFailureAck(status: number, reason: string): FailureAck {
  return { status, code: httpErrorCode(status), context: ERROR_CONTEXT_REMOTE_APPLICATION, reason, source: 'application' };
}

/** Delete a session's temp file and the reply we hold for it (never a static reply). */
export async function releaseFiles(config: ResolvedConfig, session: UploadSession): Promise<void> {
  await session.file.discard();
  if (session.reply?.kind === 'file') await fs.rm(config.work.entry(session.reply.name), { force: true }).catch(() => {});
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
