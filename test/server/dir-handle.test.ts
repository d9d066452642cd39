/**
 * DirHandle, both ways: race-free through /proc/self/fd on Linux, and the lstat/realpath
 * fallback used where /proc is missing. Neither creates anything through a symlink.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirHandle, UnsafePathError } from '../../src/server/dir-handle.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

async function layout() {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-dirh-')));
  dirs.push(dir);
  const root = path.join(dir, 'root');
  const outside = path.join(dir, 'outside');
  await fs.mkdir(path.join(root, 'real'), { recursive: true });
  await fs.mkdir(outside);
  await fs.symlink(outside, path.join(root, 'link'));
  await fs.writeFile(path.join(root, 'file'), 'x');
  return { root, outside };
}

describe.each([
  ['held fds (/proc/self/fd)', false],
  ['path fallback', true],
])('DirHandle via %s', (_label, pathsOnly) => {
  it('creates nested directories inside the root', async () => {
    const { root } = await layout();
    const h = await DirHandle.openRoot(root, pathsOnly);
    expect(h.raceFree).toBe(!pathsOnly && process.platform === 'linux');
    const deep = await h.descend(['real', 'a', 'b'], true);
    await fs.writeFile(deep.entry('f.txt'), 'ok');
    expect(await fs.readFile(path.join(root, 'real/a/b/f.txt'), 'utf8')).toBe('ok');
    expect(deep.realPath).toBe(path.join(root, 'real/a/b'));
    await deep.close();
    await h.close();
  });

  it('refuses a symlinked or non-directory component and creates nothing through it', async () => {
    const { root, outside } = await layout();
    const h = await DirHandle.openRoot(root, pathsOnly);
    await expect(h.descend(['link', 'x'], true)).rejects.toBeInstanceOf(UnsafePathError);
    await expect(h.descend(['file', 'x'], true)).rejects.toBeInstanceOf(UnsafePathError);
    expect(await fs.readdir(outside)).toEqual([]);
    await h.close();
  });
});
