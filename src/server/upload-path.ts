/**
 * Maps a request target to a destination file under the upload root, or refuses it.
 *
 * The URL is untrusted. We decode each path segment once and reject anything that could
 * name a file outside the root or be read differently by another layer: `.`/`..`
 * segments (also percent-encoded), encoded `/` or `\`, backslashes (Windows clients and
 * IIS treat them as separators), NUL, drive letters, empty segments (`//x` would be an
 * absolute path on some stacks) and our own hidden working directory. The joined result
 * is checked again with path.relative as a second line of defence; symlinks are handled
 * at commit time (see dir-handle.ts), because the parent directory may not exist yet.
 * Lengths are counted in bytes (issue 15 part 4), so a name the file system would refuse
 * at commit (ENAMETOOLONG, after every byte was acknowledged) is refused at Create-Session.
 */
import path from 'node:path';

/** Hidden directory under the root that holds temp files; never a destination. */
export const WORK_DIR_NAME = '.bitsgate-tmp';

export type UploadPathResult =
  | { ok: true; value: { absolute: string; relative: string; decodedPath: string; segments: string[] } }
  | { ok: false; status: 400 | 403; reason: string };

const MAX_URL_PATH = 2048;
/** NAME_MAX of ext4, XFS, btrfs…: 255 BYTES per component (85 `☃` fit, 86 do not). */
const MAX_SEGMENT_BYTES = 255;
/** PATH_MAX on Linux, in bytes, for the whole absolute destination (terminating NUL included). */
const MAX_ABSOLUTE_BYTES = 4095;

// Names Windows (and Node on Windows, by design) would create but Explorer and most tools
// cannot open; refused on every platform so an upload root can move between systems.
const WINDOWS_RESERVED = /^(?:con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])(?:\..*)?$/i;
const WINDOWS_FORBIDDEN_CHARS = /[<>:"|?*]/;

function fail(status: 400 | 403, reason: string): UploadPathResult {
  return { ok: false, status, reason };
}

/** Resolve `target` (origin-form request target, query ignored) to a file under `root`. */
export function resolveUploadPath(root: string, target: string): UploadPathResult {
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  if (rawPath.length > MAX_URL_PATH) return fail(400, 'path too long');
  if (!rawPath.startsWith('/')) return fail(400, 'request target is not a path');
  if (rawPath.includes('\\')) return fail(400, 'backslash in path');
  const rawSegments = rawPath.slice(1).split('/');
  const segments: string[] = [];
  for (const raw of rawSegments) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return fail(400, 'malformed percent-encoding');
    }
    if (seg === '') return fail(400, 'empty path segment');
    if (seg.includes('\0')) return fail(400, 'NUL in path');
    if (/[\x00-\x1f\x7f]/.test(seg)) return fail(400, 'control character in path');
    if (seg.includes('/') || seg.includes('\\')) return fail(400, 'encoded separator in path');
    if (seg === '.' || seg === '..') return fail(403, 'dot segment in path');
    if (/^[a-zA-Z]:/.test(seg)) return fail(403, 'drive letter in path');
    // Measured in bytes of the file system's encoding (UTF-8), as the kernel measures it.
    if (Buffer.byteLength(seg, 'utf8') > MAX_SEGMENT_BYTES) return fail(400, 'path segment longer than 255 bytes');
    if (WINDOWS_RESERVED.test(seg)) return fail(400, 'reserved device name (CON, NUL, COM1…)');
    if (/[. ]$/.test(seg)) return fail(400, 'name ends with a dot or a space');
    if (WINDOWS_FORBIDDEN_CHARS.test(seg)) return fail(400, 'character not allowed in a file name');
    if (seg.toLowerCase() === WORK_DIR_NAME) return fail(403, 'reserved directory');
    segments.push(seg);
  }
  if (segments.length === 0) return fail(400, 'no file name');
  const absolute = path.resolve(root, ...segments);
  const relative = path.relative(root, absolute);
  if (relative === '' || escapes(relative)) {
    return fail(403, 'path outside root');
  }
  if (Buffer.byteLength(absolute, 'utf8') > MAX_ABSOLUTE_BYTES) return fail(400, 'path longer than 4095 bytes');
  // The path as the server understands it (`/a/b c.bin`), whatever the client's encoding.
  return { ok: true, value: { absolute, relative, decodedPath: '/' + segments.join('/'), segments } };
}

/** True when `child` is `parent` itself or inside it (both already resolved/real). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || !escapes(rel);
}

// `..foo` is a legal name inside the root; only a leading `..` segment escapes.
function escapes(rel: string): boolean {
  return rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel);
}
