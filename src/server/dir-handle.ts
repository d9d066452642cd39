/**
 * Directories under the upload root, held open so that nothing done under them can be led
 * outside the root by a symlink swapped in at the wrong moment (issue 15 part 5).
 *
 * Node has no openat/mkdirat, and `mkdir({recursive})` follows symlinked components. On
 * Linux a held directory fd is reachable as `/proc/self/fd/<fd>/`, and the kernel resolves
 * a name under it from that directory, whatever its path has become since: so each
 * component is created (`mkdir`) and opened `O_DIRECTORY|O_NOFOLLOW` through its parent's
 * fd, and a symlink put in its place gives ELOOP/ENOTDIR instead of a directory elsewhere.
 * Checking happens as each component is created, never after (field-notes-2 §8).
 *
 * Without /proc (macOS, Windows) we fall back to paths: create one level at a time, refuse
 * a component that `lstat` calls a symlink and `realpath` it against the root. A small race
 * remains there, and is documented in the README.
 */
import { constants as fsc } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { isInside } from './upload-path.js';

// Undefined on Windows; there the path fallback is used and no directory is opened.
const O_DIRECTORY = fsc.O_DIRECTORY ?? 0;
const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
const OPEN_DIR = fsc.O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/** A component that is a symlink or not a directory: the path would leave the root. */
export class UnsafePathError extends Error {
  readonly code = 'EUNSAFEPATH';
}

export class DirHandle {
  private constructor(
    /** Real path of the directory when it was opened (for messages and other processes). */
    readonly realPath: string,
    /** The real path of the upload root this directory lies in. */
    private readonly realRoot: string,
    private readonly fh: FileHandle | undefined,
  ) {}

  /**
   * Open the root itself (already resolved with realpath by the caller). `pathsOnly` forces
   * the fallback used where /proc is missing (tests exercise it on Linux).
   */
  static async openRoot(realRoot: string, pathsOnly = false): Promise<DirHandle> {
    let fh: FileHandle | undefined;
    if (process.platform === 'linux' && !pathsOnly) {
      fh = await fs.open(realRoot, OPEN_DIR);
      const viaProc = await fs.stat(`/proc/self/fd/${fh.fd}`).then((s) => s.isDirectory(), () => false);
      if (!viaProc) {
        await fh.close();
        fh = undefined;
      }
    }
    return new DirHandle(realRoot, realRoot, fh);
  }

  /** True when names resolve from a held fd (race-free), false on the path fallback. */
  get raceFree(): boolean {
    return this.fh !== undefined;
  }

  /** A path naming `name` inside this directory (resolved from the held fd on Linux). */
  entry(name: string): string {
    return this.fh ? `/proc/self/fd/${this.fh.fd}/${name}` : path.join(this.realPath, name);
  }

  /** A path for this directory itself (readdir, fsync). */
  self(): string {
    return this.fh ? `/proc/self/fd/${this.fh.fd}` : this.realPath;
  }

  /** Path of `name` as another process (a server application) must see it. */
  realEntry(name: string): string {
    return path.join(this.realPath, name);
  }

  /**
   * Open the subdirectory `name`, creating it first when `create`. A symlink or a
   * non-directory in its place is refused with UnsafePathError; nothing is created through it.
   */
  async child(name: string, create: boolean, mode = 0o755): Promise<DirHandle> {
    const p = this.entry(name);
    if (create) {
      try {
        await fs.mkdir(p, { mode });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    const realPath = path.join(this.realPath, name);
    if (this.fh) {
      try {
        return new DirHandle(realPath, this.realRoot, await fs.open(p, OPEN_DIR));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ELOOP' || code === 'ENOTDIR') throw new UnsafePathError(`${name}: a symlink or not a directory`);
        throw err;
      }
    }
    const st = await fs.lstat(p);
    if (st.isSymbolicLink() || !st.isDirectory()) throw new UnsafePathError(`${name}: a symlink or not a directory`);
    if (!isInside(this.realRoot, await fs.realpath(p))) throw new UnsafePathError(`${name}: resolves outside the root`);
    return new DirHandle(realPath, this.realRoot, undefined);
  }

  /** Walk (creating) every directory of `segments`; the caller closes the result. */
  async descend(segments: readonly string[], create: boolean): Promise<DirHandle> {
    let dir: DirHandle = this;
    try {
      for (const seg of segments) {
        const next: DirHandle = await dir.child(seg, create);
        if (dir !== this) await dir.close();
        dir = next;
      }
    } catch (err) {
      if (dir !== this) await dir.close();
      throw err;
    }
    return dir;
  }

  /** fsync the directory (a rename is durable once its entry is on disk). Best effort. */
  async sync(): Promise<void> {
    try {
      if (this.fh) return await this.fh.sync();
      const fh = await fs.open(this.realPath, fsc.O_RDONLY);
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch {
      /* some platforms cannot fsync a directory */
    }
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => {});
  }
}
