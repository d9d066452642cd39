/**
 * IIS's notification of a server application (bits-protocol.md §7): once the last fragment
 * of an upload-reply job is in, the file is handed to the application with a plain POST,
 * and what the application answers becomes the job's reply.
 *
 * - Type 1: empty body; `BITS-Request-DataFile-Name` names the uploaded file and
 *   `BITS-Response-DataFile-Name` the file the application writes its reply into.
 * - Type 2: the file is the body; the response body is the reply.
 * - Both: `BITS-Original-Request-URL`; the upload's query string is appended to the
 *   application's URL. The answer may carry `BITS-Static-Response-URL` (the reply lives
 *   there) and `BITS-Copy-File-To-Destination` (also store the file at its URL).
 * - No answer within the timeout (IIS: 5 minutes): the file is posted again. After
 *   MAX_POSTS posts without an answer we answer the client 504 with context 0x7, a transient
 *   application error, so its retry posts the file again (our reading; the docs stop at
 *   "posted again"). An unreachable application is reported as 502 the same way.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';

export interface NotificationConfig {
  url: string;
  type: 1 | 2;
  timeoutMs: number;
}

/** Posts of one upload before the client is told the application timed out. */
export const MAX_POSTS = 3;
/** A reply larger than this is refused (we read it back in one piece for the GET). */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;
/** IIS: BITSServerNotificationURL and the static response URL are at most 2 200 characters. */
const MAX_URL_LENGTH = 2200;

export interface NotifyJob {
  /** The uploaded file as the application must open it (type 1) and as we read it (type 2). */
  dataFileForApp: string;
  dataFileForUs: string;
  /** Where the reply goes: named to a type-1 application, written by us for type 2. */
  responseFileForApp: string;
  responseFileForUs: string;
  originalUrl: string;
  /** `?a=b` or ''. */
  query: string;
}

export type AppOutcome =
  | { ok: true; reply: { kind: 'file' } | { kind: 'static'; url: string }; copyToDestination: boolean; posts: number }
  | { ok: false; status: number; reason: string; posts: number };

export async function notifyApplication(cfg: NotificationConfig, job: NotifyJob): Promise<AppOutcome> {
  const url = appUrl(cfg.url, job.query);
  let lastError = '';
  for (let post = 1; post <= MAX_POSTS; post++) {
    const attempt = await postOnce(cfg, url, job);
    if (attempt.kind === 'answer') return { ...attempt.outcome, posts: post } as AppOutcome;
    lastError = attempt.reason;
    if (attempt.kind === 'unreachable') {
      return { ok: false, status: 502, reason: `application unreachable: ${attempt.reason}`, posts: post };
    }
  }
  return { ok: false, status: 504, reason: `application did not answer within ${cfg.timeoutMs} ms, ${MAX_POSTS} posts (${lastError})`, posts: MAX_POSTS };
}

/** The application's URL with the upload's query string passed on. */
function appUrl(base: string, query: string): string {
  if (query === '' || query === '?') return base;
  const q = query.startsWith('?') ? query.slice(1) : query;
  return base.includes('?') ? `${base}&${q}` : `${base}?${q}`;
}

type Attempt =
  | { kind: 'answer'; outcome: Omit<Extract<AppOutcome, { ok: true }>, 'posts'> | Omit<Extract<AppOutcome, { ok: false }>, 'posts'> }
  | { kind: 'timeout'; reason: string }
  | { kind: 'unreachable'; reason: string };

async function postOnce(cfg: NotificationConfig, url: string, job: NotifyJob): Promise<Attempt> {
  const size = cfg.type === 2 ? (await fs.stat(job.dataFileForUs)).size : 0;
  const headers: Record<string, string> = {
    'BITS-Original-Request-URL': job.originalUrl,
    'Content-Length': String(size),
  };
  if (cfg.type === 1) {
    headers['BITS-Request-DataFile-Name'] = job.dataFileForApp;
    headers['BITS-Response-DataFile-Name'] = job.responseFileForApp;
  } else {
    headers['Content-Type'] = 'application/octet-stream';
  }
  // A fresh response file per post: a timed-out post's late writer must not mix with ours.
  await fs.rm(job.responseFileForUs, { force: true });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), cfg.timeoutMs);
  try {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers, signal: controller.signal, agent: false }, resolve);
      req.once('error', reject);
      if (cfg.type === 2) {
        pipeline(createReadStream(job.dataFileForUs), req).catch(reject);
      } else {
        req.end();
      }
    });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      res.resume();
      await new Promise((r) => res.once('end', r).once('error', r).once('close', r));
      return { kind: 'answer', outcome: { ok: false, status, reason: `application answered ${status}` } };
    }
    const staticUrl = headerOf(res, 'bits-static-response-url');
    const copyToDestination = headerOf(res, 'bits-copy-file-to-destination') !== undefined;
    if (cfg.type === 2 && staticUrl === undefined) {
      await saveBody(res, job.responseFileForUs);
    } else {
      res.resume();
      await new Promise((r) => res.once('end', r).once('error', r).once('close', r));
    }
    if (staticUrl !== undefined) {
      if (!isPlainAbsoluteUrl(staticUrl)) {
        return { kind: 'answer', outcome: { ok: false, status: 500, reason: 'application sent an unusable BITS-Static-Response-URL' } };
      }
      await fs.rm(job.responseFileForUs, { force: true });
      return { kind: 'answer', outcome: { ok: true, reply: { kind: 'static', url: staticUrl }, copyToDestination } };
    }
    // Type 1: the application wrote the reply file (or wrote none: an empty reply).
    const st = await fs.stat(job.responseFileForUs).catch(() => null);
    if (!st) await fs.writeFile(job.responseFileForUs, '');
    else if (st.size > MAX_REPLY_BYTES) return { kind: 'answer', outcome: { ok: false, status: 500, reason: 'reply too large' } };
    return { kind: 'answer', outcome: { ok: true, reply: { kind: 'file' }, copyToDestination } };
  } catch (err) {
    if (controller.signal.aborted) return { kind: 'timeout', reason: 'timed out' };
    if (err instanceof ReplyTooLarge) return { kind: 'answer', outcome: { ok: false, status: 500, reason: 'reply too large' } };
    return { kind: 'unreachable', reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

class ReplyTooLarge extends Error {}

async function saveBody(res: http.IncomingMessage, file: string): Promise<void> {
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_REPLY_BYTES) res.destroy(new ReplyTooLarge('reply too large'));
  });
  await pipeline(res, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
}

function headerOf(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

// It becomes our BITS-Reply-URL header: absolute http(s), printable, bounded.
function isPlainAbsoluteUrl(value: string): boolean {
  if (value.length > MAX_URL_LENGTH || !/^https?:\/\/[\x21-\x7e]+$/i.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}
