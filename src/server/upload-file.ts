/**
 * One session's bytes on disk: a temp file in the hidden work directory, written at
 * offsets as fragments stream in, then committed atomically (fsync, then link/rename)
 * or deleted. BITS never keeps a partial file, so nothing reaches the destination path
 * until every byte is there; a failed commit keeps the temp file so a retry can succeed.
 *
 * Fragment bodies are streamed with backpressure: each chunk is written before the next
 * is read, so a 2 GiB fragment never sits in memory.
 */
import { randomUUID } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { UnsafePathError, type DirHandle } from './dir-handle.js';

/** Why a commit failed; the caller turns it into the reference's status and code. */
export type CommitFailure = 'exists' | 'unsafe-path' | 'disk-full' | 'failed';

export type CommitResult = { ok: true } | { ok: false; cause: CommitFailure; reason: string };

/**
 * The file-system calls of a commit, injectable so a test can make one fail (a full disk
 * cannot be arranged on a shared machine). Paths are as DirHandle.entry gives them.
 */
export interface CommitOps {
  sync(file: string): Promise<void>;
  link(from: string, to: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

export const realCommitOps: CommitOps = {
  async sync(file) {
    const fh = await fs.open(file, fsc.O_RDWR);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  link: (from, to) => fs.link(from, to),
  rename: (from, to) => fs.rename(from, to),
};

const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;

export class UploadFile {
  private created = false;
  readonly name: string;

  private constructor(private readonly work: DirHandle) {
    this.name = `${randomUUID()}.part`;
  }

  static inDirectory(work: DirHandle): UploadFile {
    return new UploadFile(work);
  }

  /** Path for our own file operations (resolved from the held temp directory). */
  get tempPath(): string {
    return this.work.entry(this.name);
  }

  /** Path another process (a type-1 server application) opens. */
  get realTempPath(): string {
    return this.work.realEntry(this.name);
  }

  /**
   * Copy `body` into the file: its first `skip` bytes are dropped (the overlap the server
   * already holds) and the rest is written from `position`. Resolves with the number of
   * body bytes consumed (written or skipped); fewer than expected means the body ended early.
   */
  async writeFrom(body: Readable, position: number, skip: number): Promise<number> {
    const fh = await fs.open(this.tempPath, this.created ? fsc.O_WRONLY | O_NOFOLLOW : fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW, 0o600);
    this.created = true;
    let consumed = 0;
    let pos = position;
    const chunks = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    let ended = false;
    try {
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await chunks.next();
        } catch {
          // The connection went away mid-body: the caller acknowledges only what it
          // counts, so a short count is the whole answer.
          ended = true;
          break;
        }
        if (next.done) {
          ended = true;
          break;
        }
        let buf = next.value;
        if (consumed < skip) {
          const drop = Math.min(skip - consumed, buf.length);
          consumed += drop;
          buf = buf.subarray(drop);
        }
        let off = 0;
        while (off < buf.length) {
          const { bytesWritten } = await fh.write(buf, off, buf.length - off, pos);
          off += bytesWritten;
          pos += bytesWritten;
        }
        consumed += buf.length;
      }
    } finally {
      // A write error (disk full) stops reading: release the body stream too.
      if (!ended) await chunks.return?.().catch(() => {});
      await fh.close();
    }
    return consumed;
  }

  /** Make sure an (empty) temp file exists: a zero-byte upload never writes a fragment. */
  async ensureExists(): Promise<void> {
    if (this.created) return;
    const fh = await fs.open(this.tempPath, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW, 0o600);
    await fh.close();
    this.created = true;
  }

  /** Cut the file to `length` bytes (bytes past the acknowledged count are garbage). */
  async truncate(length: number): Promise<void> {
    if (this.created) await fs.truncate(this.tempPath, length);
  }

  /**
   * Put the finished file at `segments` under the root: fsync the data, create the parent
   * directories one component at a time through held handles (a symlink in the way is
   * refused, nothing is created through it), then link (no overwrite: fails atomically if
   * the name exists) or rename. The temp file stays when the commit fails, so a retry can
   * succeed; the caller decides when to give up and discard it.
   */
  async commit(root: DirHandle, segments: readonly string[], allowOverwrite: boolean, ops: CommitOps): Promise<CommitResult> {
    let parent: DirHandle | undefined;
    try {
      await this.ensureExists();
      await ops.sync(this.tempPath);
      parent = await root.descend(segments.slice(0, -1), true);
      const target = parent.entry(segments[segments.length - 1]!);
      if (allowOverwrite) await ops.rename(this.tempPath, target);
      else await this.linkNoClobber(target, ops);
      this.created = false;
      await parent.sync();
      return { ok: true };
    } catch (err) {
      return { ok: false, cause: failureCause(err), reason: (err as Error).message ?? String(err) };
    } finally {
      if (parent && parent !== root) await parent.close();
    }
  }

  private async linkNoClobber(target: string, ops: CommitOps): Promise<void> {
    try {
      await ops.link(this.tempPath, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Filesystems without hard links: check, then rename (a small race, documented).
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'ENOSYS') throw err;
      const exists = await fs.lstat(target).then(() => true, () => false);
      if (exists) throw Object.assign(new Error('destination exists'), { code: 'EEXIST' });
      await ops.rename(this.tempPath, target);
      return;
    }
    await fs.unlink(this.tempPath);
  }

  /** Delete the temp file if it exists. Never throws. */
  async discard(): Promise<void> {
    if (!this.created) return;
    this.created = false;
    await fs.rm(this.tempPath, { force: true }).catch(() => {});
  }
}

function failureCause(err: unknown): CommitFailure {
  if (err instanceof UnsafePathError) return 'unsafe-path';
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTEMPTY') return 'exists';
  // A symlink or a file where a directory component should be (path fallback of DirHandle).
  if (code === 'ELOOP' || code === 'ENOTDIR') return 'unsafe-path';
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'disk-full';
  return 'failed';
}
