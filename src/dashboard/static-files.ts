/**
 * The built UI (web/dist), read once at start into memory. Requests are looked up in that
 * fixed table by exact path, so no request path is ever joined onto the file system.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** web/dist next to src/ or dist/ (both are two levels below the package root). */
export function defaultWebRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web', 'dist');
}

const MAX_FILES = 200;

export function loadStaticFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(root)) return files;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (files.size >= MAX_FILES) return;
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && TYPES[extname(name)]) {
        const body = readFileSync(p);
        const urlPath = '/' + relative(root, p).split(sep).join('/');
        files.set(urlPath, {
          body,
          contentType: TYPES[extname(name)]!,
          etag: '"' + createHash('sha1').update(body).digest('base64url').slice(0, 16) + '"',
        });
      }
    }
  };
  walk(root);
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}

/** Shown when web/dist has not been built: the API still works. */
export const NOT_BUILT_PAGE =
  'bitsgate dashboard: the web UI is not built. Run `node web/build.mjs` (npm install does it).\n' +
  'The API is available: /api/sessions, /api/violations, /api/stats, /metrics, WebSocket /events.\n';
