/**
 * `npm run bench [-- NAME...]`: runs every benchmark script in bench/ (or the named ones),
 * one child process each, in sequence so they do not compete for the two cores. Each
 * script measures bitsgate against a baseline in its own process tree and prints ratios.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${all.join(', ')}`);
  process.exit(2);
}
// Asking for the gateway bench also runs its TLS-both-sides case, which measures TLS against
// the plain gateway in its own process tree (kept in its own file so each stays readable).
const COMPANIONS: Record<string, string[]> = { gateway: ['tls'] };
const selected = wanted.length ? [...new Set(wanted.flatMap((w) => [w, ...(COMPANIONS[w] ?? [])]))] : all;
let failed = 0;
for (const name of selected) {
  console.log(`\n=== bench/${name}.bench.ts`);
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, `${name}.bench.ts`)], {
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    failed++;
    console.log(`bench ${name} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
