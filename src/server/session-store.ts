/**
 * Upload sessions of the server, keyed by the id we issued. A session belongs to no TCP
 * connection: any connection may carry any packet of it. Requests of one session run
 * one at a time (a per-session queue), so a Close-Session cannot race the fragment
 * before it. Idle sessions are swept by the caller with `expire(now)` — time is an
 * argument, the store owns no timer.
 */
import { randomUUID } from 'node:crypto';
import type { UploadFile } from './upload-file.js';

/**
 * A finished upload-reply's reply: bytes we hold (the built-in sha256), a file in the temp
 * directory (an application's reply), or a URL the application named (never ours to delete).
 */
export type Reply =
  | { token: string; kind: 'body'; body: Buffer }
  | { token: string; kind: 'file'; name: string }
  | { kind: 'static'; url: string };

/** An application's last refusal, replayed to a resent final fragment when it was 403. */
export interface AppFailure {
  status: number;
  reason: string;
}

export interface UploadSession {
  /** Braced GUID, as IIS issues it. */
  readonly id: string;
  /** Path of the Create-Session request (query removed), where the file goes. */
  readonly urlPath: string;
  /** Query string of the Create-Session URL (with its `?`, or ''): passed on to the application. */
  readonly query: string;
  /** The Create-Session URL as the client used it (BITS-Original-Request-URL). */
  readonly originalUrl: string;
  readonly destination: string;
  /** The destination's path components under the root. */
  readonly segments: readonly string[];
  readonly file: UploadFile;
  /** Who opened it, for the per-user session limit (a client address). */
  readonly user: string;
  readonly createdAt: number;
  /** Monotonic creation order: "newest" for the session limit without clock ties. */
  readonly seq: number;
  /** An upload-reply job: the final Ack carries BITS-Reply-URL (decided at Create-Session). */
  readonly uploadReply: boolean;
  /** Total from the first fragment's Content-Range; null until then. */
  total: number | null;
  /** Bytes held contiguously from offset 0: the next offset we expect. */
  received: number;
  contentName?: string;
  /** Set when the last byte arrived in reply mode (and the application answered). */
  reply?: Reply;
  /** The application's last failure for this upload, if any. */
  appFailure?: AppFailure;
  /** Whether the file goes to its destination (plain: yes; upload-reply: the app decides). */
  copyToDestination: boolean;
  /** The file is at its destination. */
  committed: boolean;
  /** Time of the last 2xx Ack: the idle timeout counts progress, not packets. */
  lastActive: number;
  /** Tail of the per-session request queue. */
  queue: Promise<unknown>;
  /** Requests of this session queued or running. */
  busy: number;
  /** Set once the session has been closed, cancelled or expired. */
  ended: boolean;
}

export interface NewSession {
  urlPath: string;
  query: string;
  originalUrl: string;
  destination: string;
  segments: readonly string[];
  file: UploadFile;
  uploadReply: boolean;
  user: string;
  now: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, UploadSession>();
  private readonly replies = new Map<string, UploadSession>();
  private seq = 0;

  get size(): number {
    return this.sessions.size;
  }

  create(init: NewSession): UploadSession {
    const session: UploadSession = {
      id: `{${randomUUID()}}`,
      urlPath: init.urlPath,
      query: init.query,
      originalUrl: init.originalUrl,
      destination: init.destination,
      segments: init.segments,
      file: init.file,
      user: init.user,
      createdAt: init.now,
      seq: ++this.seq,
      uploadReply: init.uploadReply,
      copyToDestination: !init.uploadReply,
      committed: false,
      total: null,
      received: 0,
      lastActive: init.now,
      queue: Promise.resolve(),
      busy: 0,
      ended: false,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** Session ids are compared case-insensitively: clients re-case GUIDs. */
  get(id: string): UploadSession | undefined {
    return this.sessions.get(id) ?? this.sessions.get(normaliseId(id));
  }

  /** A fresh unguessable token for a reply we serve. */
  static newToken(): string {
    return randomUUID();
  }

  /** Publish the reply of a finished upload (served under its token unless static). */
  setReply(session: UploadSession, reply: Reply): void {
    session.reply = reply;
    if (reply.kind !== 'static') this.replies.set(reply.token, session);
  }

  getReply(token: string): Reply | undefined {
    return this.replies.get(token)?.reply;
  }

  /** Forget the session and its reply; the caller deletes its files. */
  remove(session: UploadSession): void {
    session.ended = true;
    this.sessions.delete(session.id);
    if (session.reply && session.reply.kind !== 'static') this.replies.delete(session.reply.token);
  }

  /**
   * IIS's per-user session limit (BITSNumberOfSessionsLimit): remove and return, for each
   * user over `limit`, the NEWEST sessions beyond it (the oldest `limit` survive). Busy
   * sessions are left for the next cleanup.
   */
  overLimit(limit: number): UploadSession[] {
    if (limit <= 0) return [];
    const byUser = new Map<string, UploadSession[]>();
    for (const s of this.sessions.values()) {
      const list = byUser.get(s.user);
      if (list) list.push(s);
      else byUser.set(s.user, [s]);
    }
    const removed: UploadSession[] = [];
    for (const list of byUser.values()) {
      if (list.length <= limit) continue;
      list.sort((a, b) => a.seq - b.seq);
      for (const s of list.slice(limit)) if (s.busy === 0) removed.push(s);
    }
    for (const s of removed) this.remove(s);
    return removed;
  }

  /** Remove and return sessions idle for longer than `timeoutMs` and not busy. */
  expire(now: number, timeoutMs: number): UploadSession[] {
    const expired: UploadSession[] = [];
    for (const session of this.sessions.values()) {
      if (session.busy === 0 && now - session.lastActive > timeoutMs) expired.push(session);
    }
    for (const session of expired) this.remove(session);
    return expired;
  }

  all(): IterableIterator<UploadSession> {
    return this.sessions.values();
  }

  /** Run `task` after every earlier request of the session has finished. */
  exclusive<T>(session: UploadSession, task: () => Promise<T>): Promise<T> {
    session.busy++;
    const run = session.queue.then(task, task).finally(() => {
      session.busy--;
    });
    session.queue = run.catch(() => {});
    return run;
  }
}

// Ids we issue are `{` + lower-case uuid + `}`; accept any letter case from clients.
function normaliseId(id: string): string {
  return id.toLowerCase();
}
