/**
 * Opening the upload root and its hidden temp directory at start, and clearing what an
 * earlier process left there. The temp directory must be a real directory inside the root:
 * a symlink there would send temp files (and the start-up cleanup's deletions) elsewhere,
 * so the server refuses to start rather than follow it (issue 15 part 5).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DirHandle } from './dir-handle.js';
import { isInside, WORK_DIR_NAME } from './upload-path.js';

/** A configuration the server cannot safely run with; the message says what to fix. */
export class ServerStartError extends Error {
  override name = 'ServerStartError';
}

export interface OpenedRoot {
  realRoot: string;
  root: DirHandle;
  work: DirHandle;
}

export async function openRootAndWorkDir(rootOption: string): Promise<OpenedRoot> {
  const root = path.resolve(rootOption);
  try {
    await mkdirs(root);
  } catch (err) {
    throw new ServerStartError(`cannot create the upload root ${root}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const realRoot = await fs.realpath(root);
  const rootDir = await DirHandle.openRoot(realRoot);
  const workPath = path.join(realRoot, WORK_DIR_NAME);
  try {
    const st = await fs.lstat(rootDir.entry(WORK_DIR_NAME)).catch(() => null);
    if (st?.isSymbolicLink()) {
      const target = await fs.readlink(rootDir.entry(WORK_DIR_NAME)).catch(() => '?');
      throw new ServerStartError(
        `the temp directory ${workPath} is a symlink (to ${target}); refusing to start, since temp files ` +
        `and their cleanup would follow it. Remove the link; the server creates a real directory there.`,
      );
    }
    if (st && !st.isDirectory()) {
      throw new ServerStartError(`${workPath} exists and is not a directory; remove it (the server keeps temp files there)`);
    }
    const work = await rootDir.child(WORK_DIR_NAME, true, 0o700).catch((err: unknown) => {
      throw new ServerStartError(`cannot open the temp directory ${workPath}: ${(err as Error).message}`);
    });
    if (!isInside(realRoot, await fs.realpath(workPath))) {
      await work.close();
      throw new ServerStartError(`the temp directory ${workPath} resolves outside the root ${realRoot}; refusing to start`);
    }
    try {
      await fs.access(work.self(), fs.constants.W_OK);
    } catch {
      await work.close();
      throw new ServerStartError(`the upload root ${realRoot} is not writable`);
    }
    await removeLeftovers(work);
    return { realRoot, root: rootDir, work };
  } catch (err) {
    await rootDir.close();
    throw err;
  }
}

/**
 * `mkdir -p`, one level at a time: Node's `mkdir({recursive})` loops forever where mkdir
 * answers ENOENT for a parent that exists (under /proc), and the server would start silent.
 */
async function mkdirs(dir: string): Promise<void> {
  const missing: string[] = [];
  let at = dir;
  while (!(await fs.lstat(at).then(() => true, () => false))) {
    missing.unshift(at);
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing) {
    try {
      await fs.mkdir(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Sessions live in memory only, so whatever a previous process left in the temp directory
 * (temp parts, app request/response files, replies) belongs to sessions that are gone:
 * their clients are told 0x8020001F and start again. Deleted through the verified handle,
 * files only (unlink never follows a symlink).
 */
async function removeLeftovers(work: DirHandle): Promise<void> {
  const names = await fs.readdir(work.self()).catch(() => [] as string[]);
  await Promise.all(names.map((n) => fs.unlink(work.entry(n)).catch(() => {})));
}
