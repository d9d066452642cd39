import { describe, expect, it } from 'vitest';
import { decodeRequest, headerValue, headerValues, parsePacketType, UPLOAD_PROTOCOL_GUID } from '../../src/protocol/index.js';
import type { HeaderList } from '../../src/observation.js';

const SID = '{0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}';

describe('headerValue / headerValues', () => {
  const h: HeaderList = [['Host', 'a'], ['bits-packet-type', ' Fragment '], ['X', '1'], ['x', '2']];
  it('matches names case-insensitively, first occurrence, trimmed', () => {
    expect(headerValue(h, 'BITS-Packet-Type')).toBe('Fragment');
    expect(headerValue(h, 'x')).toBe('1');
    expect(headerValue(h, 'missing')).toBeUndefined();
    expect(headerValues(h, 'X')).toEqual(['1', '2']);
    expect(headerValues(h, 'nope')).toEqual([]);
  });
});

describe('parsePacketType', () => {
  it.each([
    ['Create-Session', 'create-session'], ['CREATE-SESSION', 'create-session'], ['create-session', 'create-session'],
    ['Ping', 'ping'], ['FRAGMENT', 'fragment'], ['Close-Session', 'close-session'], ['cancel-session', 'cancel-session'],
    ['Ack', 'ack'], ['ACK', 'ack'], [' Ack ', 'ack'],
  ])('%s -> %s', (raw, type) => expect(parsePacketType(raw)).toBe(type));
  it('returns undefined for anything else', () => {
    expect(parsePacketType('Create_Session')).toBeUndefined();
    expect(parsePacketType('')).toBeUndefined();
    expect(parsePacketType('toString')).toBeUndefined();
  });
});

describe('decodeRequest', () => {
  it('returns null for an ordinary request', () => {
    expect(decodeRequest('GET', [['Host', 'x']])).toBeNull();
    expect(decodeRequest('POST', [['Content-Length', '3']], 3)).toBeNull();
  });

  it('decodes a Fragment exactly', () => {
    const r = decodeRequest('BITS_POST', [
      ['Host', 'files.example.com'], ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', SID],
      ['Content-Name', 'report.zip'], ['Content-Range', 'bytes 0-2097151/5242880'], ['Content-Length', '2097152'],
    ], 2097152);
    expect(r).toEqual({
      type: 'fragment', rawType: 'Fragment', sessionId: SID, contentName: 'report.zip',
      range: { start: 0, end: 2097151, total: 5242880 }, contentLength: 2097152, host: 'files.example.com', problems: [],
    });
  });

  it('decodes a Create-Session with a mixed-case GUID and capital type', () => {
    const r = decodeRequest('BITS_POST', [['BITS-PACKET-TYPE', 'CREATE-SESSION'], ['BITS-Supported-Protocols', UPLOAD_PROTOCOL_GUID.toUpperCase()]]);
    expect(r?.type).toBe('create-session');
    expect(r?.supportedProtocols).toEqual([UPLOAD_PROTOCOL_GUID.toUpperCase()]);
    expect(r?.problems).toEqual([]);
  });

  it('flags a Create-Session without the upload protocol', () => {
    const r = decodeRequest('BITS_POST', [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', '{00000000-0000-0000-0000-000000000000}']]);
    expect(r?.problems.map((p) => p.code)).toEqual(['protocol-unsupported']);
    const missing = decodeRequest('BITS_POST', [['BITS-Packet-Type', 'Create-Session']]);
    expect(missing?.problems.map((p) => [p.code, p.header])).toEqual([['packet-missing-header', 'BITS-Supported-Protocols']]);
  });

  it('reports a BITS_POST without BITS-Packet-Type', () => {
    const r = decodeRequest('BITS_POST', []);
    expect(r?.type).toBe('unknown');
    expect(r?.problems.map((p) => [p.code, p.header])).toEqual([['packet-missing-header', 'BITS-Packet-Type']]);
  });

  it('reports a BITS header on a POST', () => {
    const r = decodeRequest('POST', [['BITS-Packet-Type', 'Ping']]);
    expect(r?.type).toBe('ping');
    expect(r?.problems.map((p) => p.code)).toEqual(['packet-bad-header']);
    expect(r?.problems[0]!.reason).toContain('BITS_POST');
  });

  it('reports unknown types and an Ack sent as a request', () => {
    expect(decodeRequest('BITS_POST', [['BITS-Packet-Type', 'Upload']])?.problems.map((p) => p.code)).toEqual(['packet-unknown-type']);
    const ack = decodeRequest('BITS_POST', [['BITS-Packet-Type', 'Ack']]);
    expect(ack?.type).toBe('unknown');
    expect(ack?.problems.map((p) => p.code)).toEqual(['packet-unknown-type']);
  });

  it.each(['Fragment', 'Close-Session', 'Cancel-Session'])('requires BITS-Session-Id on %s', (type) => {
    const r = decodeRequest('BITS_POST', [['BITS-Packet-Type', type], ['Content-Range', 'bytes 0-0/1'], ['Content-Length', '1']]);
    expect(r?.problems.map((p) => [p.code, p.header])).toContainEqual(['packet-missing-header', 'BITS-Session-Id']);
  });

  it('reports a bad session id, range and Content-Length', () => {
    const r = decodeRequest('BITS_POST', [
      ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', 'x'.repeat(101)], ['Content-Range', 'bytes 0-1/1'], ['Content-Length', 'abc'],
    ]);
    expect(r?.problems.map((p) => [p.code, p.header])).toEqual([
      ['packet-bad-header', 'BITS-Session-Id'], ['packet-bad-header', 'Content-Length'], ['packet-bad-header', 'Content-Range'],
    ]);
  });

  it('flags a Content-Length that disagrees with the range', () => {
    const r = decodeRequest('BITS_POST', [
      ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', SID], ['Content-Range', 'bytes 0-99/200'], ['Content-Length', '99'],
    ], 99);
    expect(r?.problems.map((p) => p.code)).toEqual(['fragment-length-mismatch']);
    expect(r?.problems[0]!.reason).toBe('Content-Length 99 but Content-Range bytes 0-99 is 100 bytes');
  });

  it('does not flag a fragment whose relayed body broke off short of Content-Length', () => {
    const r = decodeRequest('BITS_POST', [
      ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', SID], ['Content-Range', 'bytes 0-99/200'], ['Content-Length', '100'],
    ], 40);
    expect(r?.problems).toEqual([]);
  });

  it('reports a non-identity Content-Encoding and a body on a Close-Session', () => {
    const frag = decodeRequest('BITS_POST', [
      ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', SID], ['Content-Range', 'bytes 0-0/1'], ['Content-Length', '1'], ['Content-Encoding', 'gzip'],
    ]);
    expect(frag?.problems.map((p) => [p.code, p.header])).toEqual([['packet-bad-header', 'Content-Encoding']]);
    const close = decodeRequest('BITS_POST', [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', SID], ['Content-Length', '5']]);
    expect(close?.problems.map((p) => [p.code, p.header])).toEqual([['packet-bad-header', 'Content-Length']]);
    const okClose = decodeRequest('BITS_POST', [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', SID], ['Content-Length', '0']]);
    expect(okClose?.problems).toEqual([]);
  });

  it('reports conflicting Content-Length values', () => {
    const r = decodeRequest('BITS_POST', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0'], ['content-length', '1']]);
    expect(r?.problems.map((p) => p.code)).toEqual(['packet-bad-header']);
    expect(r?.contentLength).toBeUndefined();
  });
});
