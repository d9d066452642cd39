import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The protocol core (src/protocol, src/sessions, the HAR converter src/har, the injection rules src/inject, the conformance judges src/conformance) is pure: no I/O, no edge module, at any
 * import depth. Every import specifier is checked, in every form (`import … from`,
 * `import '…'`, `export … from`, `import(…)`, `require(…)`):
 * - a relative path must resolve inside the core or to the shared observation type;
 * - src/protocol must not import src/sessions (the layer above it);
 * - a bare specifier must be on the allow list (pure libraries only): Node built-ins with
 *   I/O or time (net, fs, timers, …), pino, ws, http-proxy and the rest are refused.
 */
const src = join(__dirname, '..', '..', 'src');
const CORE = ['protocol', 'sessions', 'har', 'inject', 'conformance'] as const;
/** Files outside the core folders that the core may import (pure type definitions). */
const SHARED = new Set([join(src, 'observation.ts')]);
/** Packages the core may use: pure computation, no I/O. */
const ALLOWED_PACKAGES = new Set(['lru-cache']);

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every import specifier in a source text. */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) out.push(m[1]!);
  return out;
}

/** Why `spec`, imported from `file` in core layer `layer`, breaks the layering (undefined: fine). */
export function offence(layer: (typeof CORE)[number], file: string, spec: string): string | undefined {
  if (spec.startsWith('.')) {
    const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
    if (SHARED.has(target)) return undefined;
    const rel = relative(src, target);
    const top = rel.split(sep)[0];
    if (rel.startsWith('..') || !CORE.includes(top as (typeof CORE)[number])) return `imports ${rel} from outside the core`;
    if (layer === 'protocol' && top === 'sessions') return `src/protocol imports ${rel}: the decoder must not depend on the session layer`;
    return undefined;
  }
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
  if (ALLOWED_PACKAGES.has(name)) return undefined;
  return `imports ${spec}: the core may use only ${[...ALLOWED_PACKAGES].join(', ')} (no Node built-in, no I/O package)`;
}

describe('layering', () => {
  for (const layer of CORE) {
    it(`src/${layer} imports no I/O module, nothing from the edge${layer === 'protocol' ? ' and nothing from src/sessions' : ''}`, () => {
      const offenders: string[] = [];
      for (const file of filesUnder(join(src, layer))) {
        for (const spec of importsOf(readFileSync(file, 'utf8'))) {
          const why = offence(layer, file, spec);
          if (why) offenders.push(`${relative(src, file)}: ${why}`);
        }
      }
      expect(offenders).toEqual([]);
    });
  }

  // The core imports the shared files, so their own imports are part of the core's: an I/O
  // import in observation.ts would reach every core module through it.
  it('the shared observation type imports no I/O module and nothing from the edge', () => {
    const offenders: string[] = [];
    for (const file of SHARED) {
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        const why = offence('sessions', file, spec);
        if (why) offenders.push(`${relative(src, file)}: ${why}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  // The checker itself: each of these must be refused, at any depth.
  const deep = join(src, 'sessions', 'rules', 'x.ts');
  const shallow = join(src, 'protocol', 'x.ts');
  it.each([
    ['sessions', deep, 'node:net'],
    ['sessions', deep, 'net'],
    ['sessions', deep, 'node:fs/promises'],
    ['sessions', deep, 'node:timers'],
    ['sessions', deep, 'timers/promises'],
    ['sessions', deep, 'pino'],
    ['sessions', deep, 'http-proxy'],
    ['sessions', deep, '../../gateway/forwarder.js'],
    ['sessions', deep, '../../sinks/recorder.js'],
    ['sessions', deep, '../../dashboard/hub.js'],
    ['sessions', join(src, 'sessions', 'x.ts'), '../sinks/logger.js'],
    ['protocol', shallow, '../sessions/events.js'],
    ['protocol', shallow, '../gateway/http1/index.js'],
  ] as const)('refuses %s importing %s -> %s', (layer, file, spec) => {
    expect(offence(layer, file, spec)).toBeDefined();
  });

  it('finds specifiers in every import form', () => {
    const text = "import a from 'x1';\nimport 'x2';\nexport { b } from \"x3\";\nconst c = await import('x4');\nconst d = require('x5');\nimport type { E } from 'x6';";
    expect(importsOf(text)).toEqual(['x1', 'x2', 'x3', 'x4', 'x5', 'x6']);
  });

  it('accepts the core importing itself and the observation type', () => {
    expect(offence('sessions', deep, '../../protocol/index.js')).toBeUndefined();
    expect(offence('sessions', deep, '../../observation.js')).toBeUndefined();
    expect(offence('sessions', deep, 'lru-cache')).toBeUndefined();
    expect(offence('protocol', shallow, './decoded.js')).toBeUndefined();
  });
});
