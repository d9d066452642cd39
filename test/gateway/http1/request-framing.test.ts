import { describe, expect, it } from 'vitest';
import { decideRequestFraming } from '../../../src/gateway/http1/request-framing.js';
import type { RequestHead } from '../../../src/gateway/http1/request-head.js';

function head(fields: [string, string][], httpVersion: '1.0' | '1.1' = '1.1'): RequestHead {
  return { method: 'BITS_POST', url: '/up', httpVersion, versionMinor: httpVersion === '1.0' ? 0 : 1, fields, headBytes: 0 };
}
const H: [string, string] = ['Host', 'a'];

function outcome(fields: [string, string][], v: '1.0' | '1.1' = '1.1'): string {
  const r = decideRequestFraming(head(fields, v));
  if (!r.ok) return `${r.status} ${r.reason}`;
  const f = r.value.framing;
  return f.kind === 'length' ? `length ${f.length}` : f.kind;
}

describe('decideRequestFraming', () => {
  it('reads Content-Length, chunked and no body', () => {
    expect(outcome([H, ['Content-Length', '2097152']])).toBe('length 2097152');
    expect(outcome([H, ['Content-Length', '0']])).toBe('none');
    expect(outcome([H])).toBe('none');
    expect(outcome([H, ['Transfer-Encoding', 'chunked']])).toBe('chunked');
    expect(outcome([H, ['transfer-encoding', 'Chunked']])).toBe('chunked');
    expect(outcome([H, ['Transfer-Encoding', ' chunked ,']])).toBe('chunked');
  });

  it('accepts Content-Length up to 2^53-1 (uploads over 4 GiB)', () => {
    expect(outcome([H, ['Content-Length', '9007199254740991']])).toBe('length 9007199254740991');
    expect(outcome([H, ['Content-Length', '9007199254740992']])).toBe('400 content-length-too-large');
  });

  it.each([
    ['CL and TE', [['Content-Length', '5'], ['Transfer-Encoding', 'chunked']], '400 cl-and-te'],
    ['TE and CL', [['Transfer-Encoding', 'chunked'], ['Content-Length', '5']], '400 cl-and-te'],
    ['two differing CL', [['Content-Length', '1'], ['Content-Length', '2']], '400 duplicate-content-length'],
    ['two identical CL lines', [['Content-Length', '2'], ['Content-Length', '2']], '400 duplicate-content-length'],
    ['identical CL list', [['Content-Length', '2, 2']], '400 bad-content-length'],
    ['differing CL list', [['Content-Length', '2, 3']], '400 bad-content-length'],
    ['plus sign', [['Content-Length', '+2']], '400 bad-content-length'],
    ['minus sign', [['Content-Length', '-1']], '400 bad-content-length'],
    ['leading zeros', [['Content-Length', '003']], '400 bad-content-length'],
    ['hex', [['Content-Length', '0x10']], '400 bad-content-length'],
    ['empty CL', [['Content-Length', '']], '400 bad-content-length'],
    ['digits and letters', [['Content-Length', '12a']], '400 bad-content-length'],
    ['inner space', [['Content-Length', '1 2']], '400 bad-content-length'],
    ['TE gzip', [['Transfer-Encoding', 'gzip']], '400 te-not-chunked'],
    ['TE chunked then gzip', [['Transfer-Encoding', 'chunked, gzip']], '400 te-not-chunked'],
    ['TE gzip then chunked', [['Transfer-Encoding', 'gzip, chunked']], '400 te-unsupported'],
    ['TE chunked twice', [['Transfer-Encoding', 'chunked, chunked']], '400 te-unsupported'],
    ['TE unknown', [['Transfer-Encoding', 'xchunked']], '400 te-not-chunked'],
    ['TE empty', [['Transfer-Encoding', '']], '400 te-not-chunked'],
    ['TE identity', [['Transfer-Encoding', 'identity']], '400 te-not-chunked'],
    ['two TE lines', [['Transfer-Encoding', 'chunked'], ['Transfer-Encoding', 'chunked']], '400 duplicate-te'],
  ] as [string, [string, string][], string][])('rejects %s', (_n, fields, expected) => {
    expect(outcome([H, ...fields])).toBe(expected);
  });

  it('rejects Transfer-Encoding in HTTP/1.0', () => {
    expect(outcome([['Transfer-Encoding', 'chunked']], '1.0')).toBe('400 te-in-http10');
  });

  it('requires exactly one Host in HTTP/1.1, none needed in 1.0', () => {
    expect(outcome([])).toBe('400 missing-host');
    expect(outcome([H, ['host', 'b']])).toBe('400 duplicate-host');
    expect(outcome([], '1.0')).toBe('none');
  });

  it('validates the Host value (RFC 9112 §3.2: an invalid Host is a 400)', () => {
    for (const ok of ['files.example.com', 'files.example.com:8080', '127.0.0.1:80', '[::1]:8080', '', 'xn--bcher-kva.example']) {
      expect(outcome([['Host', ok]]), ok).toBe('none');
    }
    for (const badHost of ['a b', 'a/b', 'a@b', 'a:b', 'a:80:90', '[::1', 'a\x80']) {
      expect(outcome([['Host', badHost]]), badHost).toBe('400 bad-host');
    }
  });

  it('decides persistence from version and Connection', () => {
    const ka = (fields: [string, string][], v: '1.0' | '1.1' = '1.1') => {
      const r = decideRequestFraming(head(fields, v));
      return r.ok && r.value.keepAlive;
    };
    expect(ka([H])).toBe(true);
    expect(ka([H, ['Connection', 'close']])).toBe(false);
    expect(ka([H, ['Connection', 'Keep-Alive, CLOSE']])).toBe(false);
    expect(ka([])).toBe(false);
    expect(ka([['Connection', 'keep-alive']], '1.0')).toBe(true);
  });

  it('flags Expect: 100-continue, case-insensitively', () => {
    const r = decideRequestFraming(head([H, ['Expect', '100-Continue']]));
    expect(r.ok && r.value.expectContinue).toBe(true);
    const r2 = decideRequestFraming(head([H]));
    expect(r2.ok && r2.value.expectContinue).toBe(false);
  });
});
