import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// The protocol core is pure: no I/O, no edge modules. This guards the architecture.
const root = join(__dirname, '..', '..', 'src');
const FORBIDDEN = [
  /from ['"](node:)?(net|http|https|dgram|tls|fs|fs\/promises|child_process)['"]/,
  /from ['"](ws|pino|http-proxy|prom-client)['"]/,
  /from ['"]\.\.\/(gateway|dashboard|server|client|sinks|commands)\//,
];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('layering', () => {
  for (const layer of ['protocol', 'sessions', 'har']) {
    it(`src/${layer} imports no I/O module and nothing from the edge`, () => {
      const offenders: string[] = [];
      for (const file of filesUnder(join(root, layer))) {
        const text = readFileSync(file, 'utf8');
        for (const re of FORBIDDEN) {
          const m = re.exec(text);
          if (m) offenders.push(`${relative(root, file)}: ${m[0]}`);
        }
      }
      expect(offenders).toEqual([]);
    });
  }
});
