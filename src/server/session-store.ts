/**
 * Upload sessions of the server, keyed by the id we issued. A session belongs to no TCP
 * connection: any connection may carry any packet of it. Requests of one session run
 * one at a time (a per-session queue), so a Close-Session cannot race the fragment
 * before it. Idle sessions are swept by the caller with `expire(now)` — time is an
 * argument, the store owns no timer.
 */
import { randomUUID } from 'node:crypto';
import type { UploadFile } from './upload-file.js';

export interface UploadSession {
  /** Braced GUID, as IIS issues it. */
  readonly id: string;
  /** Path of the Create-Session request (query removed), where the file goes. */
  readonly urlPath: string;
  readonly destination: string;
  readonly file: UploadFile;
  /** An upload-reply job: the final Ack carries BITS-Reply-URL (decided at Create-Session). */
  readonly uploadReply: boolean;
  /** Total from the first fragment's Content-Range; null until then. */
  total: number | null;
  /** Bytes held contiguously from offset 0: the next offset we expect. */
  received: number;
  contentName?: string;
  /** Set when the last byte arrived in reply mode. */
  reply?: { token: string; body: Buffer };
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
  destination: string;
  file: UploadFile;
  uploadReply: boolean;
  now: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, UploadSession>();
  private readonly replies = new Map<string, UploadSession>();

  get size(): number {
    return this.sessions.size;
  }

  create(init: NewSession): UploadSession {
    const session: UploadSession = {
      id: `{${randomUUID()}}`,
      urlPath: init.urlPath,
      destination: init.destination,
      file: init.file,
      uploadReply: init.uploadReply,
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

  /** Publish the reply of a finished upload under an unguessable token. */
  setReply(session: UploadSession, body: Buffer): string {
    const token = randomUUID();
    session.reply = { token, body };
    this.replies.set(token, session);
    return token;
  }

  getReply(token: string): Buffer | undefined {
    return this.replies.get(token)?.reply?.body;
  }

  /** Forget the session and its reply; the caller deletes its files. */
  remove(session: UploadSession): void {
    session.ended = true;
    this.sessions.delete(session.id);
    if (session.reply) this.replies.delete(session.reply.token);
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
