#!/usr/bin/env node
// Builds the dashboard UI into web/dist: one bundled script (esbuild), the page and the
// stylesheet. No CDN, no fonts: the page works with no network beyond the gateway.
// Usage: node web/build.mjs [--watch]
import { build, context } from 'esbuild';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
mkdirSync(out, { recursive: true });

// Each file is replaced atomically: a running dashboard (or a parallel test) that reads
// web/dist never sees it missing or half written.
function put(path, data) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

const options = {
  entryPoints: [join(here, 'src', 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
};
if (process.argv.includes('--watch')) {
  for (const f of ['index.html', 'style.css', 'favicon.svg']) put(join(out, f), readFileSync(join(here, f)));
  const ctx = await context(options);
  await ctx.watch();
  console.log('web: watching web/src (restart the dashboard to serve changes)');
} else {
  const result = await build({ ...options, write: false });
  for (const file of result.outputFiles) put(file.path, file.contents);
  for (const f of ['index.html', 'style.css', 'favicon.svg']) put(join(out, f), readFileSync(join(here, f)));
  console.log('web: built web/dist');
}
