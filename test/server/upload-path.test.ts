import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isInside, resolveUploadPath } from '../../src/server/upload-path.js';

const root = path.resolve('/srv/uploads');

describe('resolveUploadPath', () => {
  it('maps a plain path to a file under the root, decoding each segment once', () => {
    const r = resolveUploadPath(root, '/a/b%20c.bin?x=1');
    expect(r).toEqual({ ok: true, value: { absolute: path.join(root, 'a', 'b c.bin'), relative: path.join('a', 'b c.bin'), decodedPath: '/a/b c.bin', segments: ['a', 'b c.bin'] } });
  });

  it('measures a name in UTF-8 bytes (NAME_MAX 255): 85 snowmen fit, 86 (258 bytes) are refused with 400', () => {
    const snowmen = (n: number) => '/' + encodeURIComponent('\u2603'.repeat(n));
    expect(resolveUploadPath(root, snowmen(85)).ok).toBe(true);
    expect(resolveUploadPath(root, snowmen(86))).toEqual({ ok: false, status: 400, reason: 'path segment longer than 255 bytes' });
    expect(resolveUploadPath(root, '/' + 'a'.repeat(255)).ok).toBe(true);
    expect(resolveUploadPath(root, '/' + 'a'.repeat(256)).ok).toBe(false);
  });

  it('accepts names that merely start with two dots', () => {
    const r = resolveUploadPath(root, '/..hidden');
    expect(r.ok).toBe(true);
  });

  it.each([
    ['/../etc/passwd', 403],
    ['/a/../../x', 403],
    ['/%2e%2e/x', 403],
    ['/%2E%2E/x', 403],
    ['/a/./b', 403],
    ['/a\\..\\b', 400],
    ['/a%5c..%5cb', 400],
    ['/a%2f..%2fb', 400],
    ['//etc/passwd', 400],
    ['/C:/Windows/x', 403],
    ['/a%00.txt', 400],
    ['/a\0b', 400],
    ['/%zz', 400],
    ['/', 400],
    ['/dir/', 400],
    ['http://evil/x', 400],
    ['/.bitsgate-tmp/x.part', 403],
    ['/.BITSGATE-TMP/x', 403],
    ['/NUL', 400],
    ['/dir/con.txt', 400],
    ['/COM1.log', 400],
    ['/lpt%C2%B9', 400],
    ['/name.', 400],
    ['/name%20', 400],
    ['/ab%3Ac', 400],
    ['/a%7Cb', 400],
  ])('refuses %j with %i', (target, status) => {
    const r = resolveUploadPath(root, target);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.status).toBe(status);
  });
});

describe('isInside', () => {
  it('is true for the root and below, false for siblings and parents', () => {
    expect(isInside(root, root)).toBe(true);
    expect(isInside(root, path.join(root, 'x', 'y'))).toBe(true);
    expect(isInside(root, path.resolve(root, '..', 'uploads2'))).toBe(false);
    expect(isInside(root, path.dirname(root))).toBe(false);
  });
});

describe('resolveUploadPath (property)', () => {
  it('never resolves outside the root, whatever the target', () => {
    const piece = fc.constantFrom('..', '.', '%2e', '%2E', '%2f', '%5c', '\\', '/', '%00', 'a', 'b.txt', '%', 'C:', '~', ' ', '%252e');
    fc.assert(
      fc.property(fc.array(fc.oneof(piece, fc.string()), { maxLength: 12 }), (parts) => {
        const r = resolveUploadPath(root, '/' + parts.join(''));
        if (r.ok) {
          expect(isInside(root, r.value.absolute)).toBe(true);
          expect(r.value.absolute).not.toBe(root);
          expect(r.value.relative.split(path.sep)).not.toContain('..');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
