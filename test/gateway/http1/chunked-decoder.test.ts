import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkedDecoder } from '../../../src/gateway/http1/chunked-decoder.js';

const LIMITS = { maxChunkExtensionBytes: 1024, maxTrailerBytes: 4096 };

interface Decoded { ok: boolean; reason?: string; body: string; consumed: number; done: boolean; trailers: [string, string][] }

function decodeParts(parts: (string | Buffer)[], limits = LIMITS): Decoded {
  const d = new ChunkedDecoder(limits);
  const body: Buffer[] = [];
  let consumed = 0;
  for (const part of parts) {
    const buf = typeof part === 'string' ? Buffer.from(part, 'latin1') : part;
    const r = d.decode(buf, 0, (data) => body.push(Buffer.from(data)));
    if (!r.ok) return { ok: false, reason: r.reason, body: Buffer.concat(body).toString('latin1'), consumed, done: false, trailers: d.trailers };
    consumed = r.value.consumed;
    if (r.value.done) return { ok: true, body: Buffer.concat(body).toString('latin1'), consumed, done: true, trailers: d.trailers };
  }
  return { ok: true, body: Buffer.concat(body).toString('latin1'), consumed, done: false, trailers: d.trailers };
}

const reasonOf = (wire: string, limits = LIMITS) => {
  const r = decodeParts([wire], limits);
  return r.ok ? (r.done ? 'done' : 'need-more') : r.reason;
};

describe('ChunkedDecoder', () => {
  it('decodes several chunks, extensions and trailers, and stops at the end of the message', () => {
    const wire = '5\r\nhello\r\n6;name=value;flag\r\n world\r\nA \t;x="q"\r\n0123456789\r\n0\r\nX-Checksum: abc\r\nX-Two: 2\r\n\r\nGET / HTTP/1.1';
    const r = decodeParts([wire]);
    expect(r).toMatchObject({ ok: true, done: true, body: 'hello world0123456789' });
    expect(r.trailers).toEqual([['X-Checksum', 'abc'], ['X-Two', '2']]);
    expect(wire.slice(r.consumed)).toBe('GET / HTTP/1.1');
  });

  it('accepts upper- and lower-case hex and leading zeros in sizes', () => {
    expect(decodeParts(['00A\r\n0123456789\r\n0000\r\n\r\n']).body).toBe('0123456789');
    expect(decodeParts(['a\r\n0123456789\r\n0\r\n\r\n']).body).toBe('0123456789');
  });

  it('hands out chunk data as slices of the input (no copy)', () => {
    const input = Buffer.from('4\r\nabcd\r\n0\r\n\r\n');
    const d = new ChunkedDecoder(LIMITS);
    const slices: Buffer[] = [];
    d.decode(input, 0, (s) => slices.push(s));
    expect(slices).toHaveLength(1);
    expect(slices[0]!.buffer).toBe(input.buffer);
  });

  it.each([
    ['non-hex size', 'g\r\nx\r\n0\r\n\r\n', 'bad-chunk-size'],
    ['empty size', '\r\n0\r\n\r\n', 'bad-chunk-size'],
    ['signed size', '+5\r\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
    ['0x prefix', '0x5\r\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
    ['size line ending in LF only', '5\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
    ['bare CR after size', '5\rhello\r\n0\r\n\r\n', 'bad-chunk-size'],
    ['space then no extension', '5 \r\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
    ['leading space', ' 5\r\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
    ['size over 2^53', '20000000000000\r\n', 'chunk-size-overflow'],
    ['size of 64 hex digits', 'f'.repeat(64) + '\r\n', 'chunk-size-overflow'],
    ['data longer than size', '3\r\nhello\r\n0\r\n\r\n', 'chunk-missing-crlf'],
    ['data not followed by CRLF', '5\r\nhelloXY0\r\n\r\n', 'chunk-missing-crlf'],
    ['data followed by LF only', '5\r\nhello\n0\r\n\r\n', 'chunk-missing-crlf'],
    ['control char in extension', '5;a\x01b\r\nhello\r\n0\r\n\r\n', 'bad-chunk-extension'],
    ['LF in extension', '5;a\nb\r\nhello\r\n0\r\n\r\n', 'bad-chunk-extension'],
    ['bad trailer line', '0\r\nno colon\r\n\r\n', 'bad-trailer'],
    ['trailer with LF only', '0\r\nX: y\n\r\n', 'bad-trailer'],
    ['obs-fold trailer', '0\r\nX: y\r\n z\r\n\r\n', 'bad-trailer'],
    ['Content-Length trailer', '0\r\nContent-Length: 5\r\n\r\n', 'forbidden-trailer'],
    ['Transfer-Encoding trailer', '0\r\ntransfer-encoding: chunked\r\n\r\n', 'forbidden-trailer'],
  ])('rejects %s', (_n, wire, expected) => {
    expect(reasonOf(wire)).toBe(expected);
  });

  it('caps a chunk extension (the ";" counts)', () => {
    const limits = { maxChunkExtensionBytes: 10, maxTrailerBytes: 100 };
    expect(reasonOf(`1;${'a'.repeat(9)}\r\nx\r\n0\r\n\r\n`, limits)).toBe('done');
    expect(reasonOf(`1;${'a'.repeat(10)}\r\nx\r\n0\r\n\r\n`, limits)).toBe('chunk-extension-too-large');
    expect(reasonOf(`1;${'a'.repeat(20_000)}`, LIMITS)).toBe('chunk-extension-too-large');
    expect(reasonOf('1;x\r\nx\r\n0\r\n\r\n', { maxChunkExtensionBytes: 0, maxTrailerBytes: 100 })).toBe('chunk-extension-too-large');
  });

  it('caps the trailer section', () => {
    const limits = { maxChunkExtensionBytes: 10, maxTrailerBytes: 20 };
    expect(reasonOf(`0\r\nX: ${'a'.repeat(30)}\r\n\r\n`, limits)).toBe('trailers-too-large');
  });

  it('needs more input on a truncated message', () => {
    expect(reasonOf('5\r\nhel')).toBe('need-more');
    expect(reasonOf('5\r\nhello\r\n0\r\n')).toBe('need-more');
  });

  it('decodes the same body and trailers however the input is split (property)', () => {
    const chunkArb = fc.uint8Array({ minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(
        fc.array(chunkArb, { maxLength: 6 }),
        fc.array(fc.tuple(fc.constantFrom('X-A', 'Sum', 'y'), fc.stringMatching(/^[a-z0-9]{0,8}$/)), { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.boolean(),
        (chunks, trailers, cuts, withExt) => {
          const parts: Buffer[] = [];
          for (const c of chunks) {
            parts.push(Buffer.from(`${c.length.toString(16)}${withExt ? ';e=1' : ''}\r\n`), Buffer.from(c), Buffer.from('\r\n'));
          }
          parts.push(Buffer.from('0\r\n' + trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n'));
          const wire = Buffer.concat(parts);
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const pieces: Buffer[] = [];
          let prev = 0;
          for (const p of points) { pieces.push(wire.subarray(prev, p)); prev = p; }
          pieces.push(wire.subarray(prev));
          const r = decodeParts(pieces);
          expect(r.ok && r.done).toBe(true);
          expect(Buffer.from(r.body, 'latin1')).toEqual(Buffer.concat(chunks.map((c) => Buffer.from(c))));
          expect(r.trailers).toEqual(trailers);
        },
      ),
      { numRuns: 300 },
    );
  });
});
