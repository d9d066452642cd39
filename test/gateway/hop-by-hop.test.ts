import { describe, expect, it } from 'vitest';
import {
  clientResponseHeaders, plainAddress, upstreamRequestGroups,
} from '../../src/gateway/hop-by-hop.js';
import { classifyUpstreamError } from '../../src/gateway/upstream-errors.js';

describe('upstreamRequestGroups', () => {
  it('drops hop-by-hop fields, including those named by Connection, and keeps order and spelling', () => {
    const out = upstreamRequestGroups([
      ['Host', 'h'], ['connection', 'keep-alive, X-Secret'], ['X-Secret', 's'], ['Keep-Alive', 'timeout=5'],
      ['TE', 'trailers'], ['Proxy-Connection', 'x'], ['Upgrade', 'h2c'], ['Trailer', 'X'], ['Proxy-Authorization', 'Basic eA=='],
      ['Authorization', 'NTLM abc'], ['bits-packet-type', 'Ping'],
    ], { contentLength: null, chunked: false }, null);
    // Connection keeps only the client's persistence intent (close / keep-alive).
    expect(out).toEqual([['Host', 'h'], ['connection', 'keep-alive'], ['Authorization', 'NTLM abc'], ['bits-packet-type', 'Ping']]);
  });

  it('forwards Connection only when the client sent close or keep-alive', () => {
    const framing = { contentLength: null, chunked: false };
    expect(upstreamRequestGroups([['Host', 'h']], framing, null)).toEqual([['Host', 'h']]);
    expect(upstreamRequestGroups([['Connection', 'Upgrade, HTTP2-Settings'], ['Host', 'h']], framing, null)).toEqual([['Host', 'h']]);
    expect(upstreamRequestGroups([['Connection', 'TE, close'], ['Host', 'h']], framing, null)).toEqual([['Connection', 'close'], ['Host', 'h']]);
    expect(upstreamRequestGroups([['CONNECTION', 'Keep-Alive'], ['Host', 'h']], framing, null)).toEqual([['CONNECTION', 'Keep-Alive'], ['Host', 'h']]);
  });

  it('re-frames: exactly one Content-Length at the position of the original framing field', () => {
    const out = upstreamRequestGroups([['Host', 'h'], ['content-length', '5'], ['X', '1'], ['Content-Length', '5']],
      { contentLength: 5, chunked: false }, null);
    expect(out).toEqual([['Host', 'h'], ['Content-Length', '5'], ['X', '1']]);
  });

  it('re-frames a chunked body as Transfer-Encoding: chunked only', () => {
    const out = upstreamRequestGroups([['Transfer-Encoding', 'gzip, chunked'], ['Host', 'h']], { contentLength: null, chunked: true }, null);
    expect(out).toEqual([['Transfer-Encoding', 'chunked'], ['Host', 'h']]);
  });

  it('overwrites client-sent X-Forwarded-* (spoofing) and appends the real values', () => {
    const out = upstreamRequestGroups([['X-Forwarded-For', '6.6.6.6'], ['Host', 'files'], ['x-forwarded-host', 'evil']],
      { contentLength: 0, chunked: false }, { for: '10.0.0.2', proto: 'http', host: 'files' });
    expect(out).toEqual([
      ['Host', 'files'], ['Content-Length', '0'],
      ['X-Forwarded-For', '10.0.0.2'], ['X-Forwarded-Proto', 'http'], ['X-Forwarded-Host', 'files'],
    ]);
  });
});

describe('clientResponseHeaders', () => {
  it('keeps duplicate WWW-Authenticate lines separate and in order, drops hop-by-hop fields', () => {
    expect(clientResponseHeaders([
      'WWW-Authenticate', 'Negotiate', 'Connection', 'keep-alive, X-Hop', 'X-Hop', '1', 'WWW-Authenticate', 'NTLM',
      'Transfer-Encoding', 'chunked', 'Keep-Alive', 'timeout=5', 'BITS-Packet-Type', 'Ack', 'Proxy-Authenticate', 'Basic',
    ])).toEqual([['WWW-Authenticate', 'Negotiate'], ['WWW-Authenticate', 'NTLM'], ['BITS-Packet-Type', 'Ack']]);
  });

  it('keeps Content-Length so the writer frames with it', () => {
    expect(clientResponseHeaders(['Content-Length', '0', 'BITS-Session-Id', '{x}'])).toEqual([['Content-Length', '0'], ['BITS-Session-Id', '{x}']]);
  });
});

describe('upstreamRequestGroups: grouping for setHeader', () => {
  const unframed = { contentLength: null, chunked: false };

  it('groups duplicates (any case) at the first position as an array', () => {
    expect(upstreamRequestGroups([['A', '1'], ['B', '2'], ['a', '3'], ['A', '4']], unframed, null)).toEqual([['A', ['1', '3', '4']], ['B', '2']]);
  });

  it('groups a long list (past the linear-scan size) the same way', () => {
    const long: Array<[string, string]> = Array.from({ length: 40 }, (_, i) => [`X-F${i % 30}`, String(i)]);
    const grouped = upstreamRequestGroups(long, unframed, null);
    expect(grouped).toHaveLength(30);
    expect(grouped[0]).toEqual(['X-F0', ['0', '30']]);
    expect(grouped[9]).toEqual(['X-F9', ['9', '39']]);
    expect(grouped[10]).toEqual(['X-F10', '10']);
  });
});

describe('plainAddress / classifyUpstreamError', () => {
  it('unmaps IPv4-mapped IPv6 addresses', () => {
    expect(plainAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(plainAddress('::1')).toBe('::1');
    expect(plainAddress(undefined)).toBe('unknown');
  });

  it('maps Node client errors to status and reason', () => {
    expect(classifyUpstreamError({ code: 'ECONNREFUSED' })).toEqual({ error: 'upstream-refused', status: 502 });
    expect(classifyUpstreamError({ code: 'ECONNRESET', message: 'socket hang up' })).toEqual({ error: 'upstream-closed', status: 502 });
    expect(classifyUpstreamError({ code: 'ECONNRESET', message: 'read ECONNRESET' })).toEqual({ error: 'upstream-reset', status: 502 });
    expect(classifyUpstreamError({ code: 'HPE_UNEXPECTED_CONTENT_LENGTH' })).toEqual({ error: 'bad-upstream-response', status: 502 });
    expect(classifyUpstreamError(new Error('x'))).toEqual({ error: 'upstream-error', status: 502 });
  });
});
