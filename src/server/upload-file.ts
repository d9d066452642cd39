/**
 * One session's bytes on disk: a temp file in the hidden work directory, written at
 * offsets as fragments stream in, then committed atomically (fsync, then link/rename)
 * or deleted. BITS never keeps a partial file, so nothing reaches the destination path
 * until every byte is there.
 *
 * Fragment bodies are streamed with backpressure: each chunk is written before the next
 * is read, so a 2 GiB fragment never sits in memory.
 */
import { randomUUID } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { isInside } from './upload-path.js';

export type CommitResult =
  | { ok: true }
  | { ok: false; status: 403 | 409 | 500; reason: string };

export class UploadFile {
  private created = false;

  private constructor(readonly tempPath: string) {}

  static inDirectory(workDir: string): UploadFile {
    return new UploadFile(path.join(workDir, `${randomUUID()}.part`));
  }

  /**
   * Copy `body` into the file: its first `skip` bytes are dropped (the overlap the server
   * already holds) and the rest is written from `position`. Resolves with the number of
   * body bytes consumed (written or skipped); fewer than expected means the body ended early.
   */
  async writeFrom(body: Readable, position: number, skip: number): Promise<number> {
    const fh = await fs.open(this.tempPath, this.created ? fsc.O_WRONLY : fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
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
    const fh = await fs.open(this.tempPath, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    await fh.close();
    this.created = true;
  }

  /** Cut the file to `length` bytes (bytes past the acknowledged count are garbage). */
  async truncate(length: number): Promise<void> {
    if (this.created) await fs.truncate(this.tempPath, length);
  }

  /**
   * Move the finished file to `destination` (inside `realRoot`): fsync the data, create
   * parent directories, refuse a parent that resolves outside the root through a
   * symlink, then link (no overwrite: fails atomically if the name exists) or rename.
   */
  async commit(destination: string, realRoot: string, allowOverwrite: boolean): Promise<CommitResult> {
    await this.ensureExists();
    const fh = await fs.open(this.tempPath, fsc.O_RDWR);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    const parent = path.dirname(destination);
    try {
      await fs.mkdir(parent, { recursive: true });
    } catch (err) {
      return { ok: false, status: 409, reason: `cannot create directory: ${(err as NodeJS.ErrnoException).code}` };
    }
    const realParent = await fs.realpath(parent);
    if (!isInside(realRoot, realParent)) return { ok: false, status: 403, reason: 'destination leaves the root through a symlink' };
    const target = path.join(realParent, path.basename(destination));
    try {
      if (allowOverwrite) {
        await fs.rename(this.tempPath, target);
      } else {
        await this.linkNoClobber(target);
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTEMPTY') {
        return { ok: false, status: 409, reason: 'destination exists' };
      }
      return { ok: false, status: 500, reason: `commit failed: ${code ?? String(err)}` };
    }
    await syncDirectory(realParent);
    return { ok: true };
  }

  private async linkNoClobber(target: string): Promise<void> {
    try {
      await fs.link(this.tempPath, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Filesystems without hard links: check, then rename (a small race, documented).
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'ENOSYS') throw err;
      const exists = await fs.lstat(target).then(() => true, () => false);
      if (exists) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
      await fs.rename(this.tempPath, target);
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

// The rename is durable only once the directory entry is on disk too. Best effort:
// some platforms cannot open a directory for fsync.
async function syncDirectory(dir: string): Promise<void> {
  try {
    const fh = await fs.open(dir, fsc.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* not supported here */
  }
}
