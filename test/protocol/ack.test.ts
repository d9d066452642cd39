import { describe, expect, it } from 'vitest';
import { decodeAck, parseSessionId, parseSupportedProtocols } from '../../src/protocol/index.js';

describe('decodeAck', () => {
  it('decodes a Create-Session Ack with a host id', () => {
    const a = decodeAck(201, [
      ['BITS-Packet-Type', 'Ack'], ['BITS-Protocol', '{7df0354d-249b-430f-820d-3d2a9bef4931}'],
      ['BITS-Session-Id', '{abc}'], ['Accept-Encoding', 'Identity'], ['BITS-Host-Id', 'node7.farm'],
      ['BITS-Host-Id-Fallback-Timeout', '86400'], ['Content-Length', '0'],
    ]);
    expect(a).toEqual({
      isAck: true, sessionId: '{abc}', protocol: '{7df0354d-249b-430f-820d-3d2a9bef4931}',
      hostId: 'node7.farm', hostIdFallbackTimeoutSec: 86400, problems: [],
    });
  });

  it('decodes a final-fragment Ack with a reply URL', () => {
    const a = decodeAck(200, [['bits-packet-type', 'ACK'], ['BITS-Received-Content-Range', '5242880'], ['BITS-Reply-URL', '/replies/1']]);
    expect(a.isAck).toBe(true);
    expect(a.receivedOffset).toBe(5242880);
    expect(a.replyUrl).toBe('/replies/1');
    expect(a.problems).toEqual([]);
  });

  it('accepts BITS-Error (MC-BUP) as well as BITS-Error-Code, and the context', () => {
    const a = decodeAck(500, [['BITS-Packet-Type', 'Ack'], ['BITS-Error', '0x8020001F'], ['BITS-Error-Context', '0x5']]);
    expect(a.errorCode).toEqual({ value: 0x8020001f, hex: '0x8020001F', name: 'BG_E_SESSION_NOT_FOUND', meaning: expect.any(String) });
    expect(a.errorContext).toBe(5);
    const b = decodeAck(400, [['BITS-Packet-Type', 'Ack'], ['BITS-Error-Code', '80070057']]);
    expect(b.errorCode?.name).toBe('E_INVALIDARG');
  });

  it('accepts the misspelt BITS-Recieved-Content-Range and reports it as info', () => {
    const a = decodeAck(200, [['BITS-Packet-Type', 'Ack'], ['BITS-Recieved-Content-Range', '100']]);
    expect(a.receivedOffset).toBe(100);
    expect(a.problems).toEqual([expect.objectContaining({ code: 'packet-bad-header', header: 'BITS-Recieved-Content-Range', severity: 'info' })]);
  });

  it('reports a response that is not an Ack', () => {
    expect(decodeAck(200, []).problems.map((p) => p.code)).toEqual(['ack-missing']);
    const wrong = decodeAck(200, [['BITS-Packet-Type', 'Fragment']]);
    expect(wrong.isAck).toBe(false);
    expect(wrong.problems.map((p) => p.code)).toEqual(['ack-missing']);
  });

  it('reports malformed values without throwing', () => {
    const a = decodeAck(200, [
      ['BITS-Packet-Type', 'Ack'], ['BITS-Received-Content-Range', 'lots'], ['BITS-Error-Code', 'nope'],
      ['BITS-Host-Id-Fallback-Timeout', '-1'], ['BITS-Session-Id', 'a\u0000b'],
    ]);
    expect(a.problems.map((p) => p.header).sort()).toEqual(
      ['BITS-Error-Code', 'BITS-Host-Id-Fallback-Timeout', 'BITS-Received-Content-Range', 'BITS-Session-Id'],
    );
    expect(a.receivedOffset).toBeUndefined();
  });
});

describe('parseSessionId', () => {
  it.each([
    '{0F2E52B4-6D1C-4B3A-9D3E-31E8C1B7A5D0}', '0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0', '-12345', 'aB3~x.y_z==', '/uploads/f.bin',
    'x'.repeat(100),
  ])('accepts %j verbatim', (id) => expect(parseSessionId(id)).toEqual({ ok: true, value: id }));
  it.each(['', '   ', 'x'.repeat(101), 'a\rb', 'a\nb', 'caf\u00e9', 'a\u202eb'])('rejects %j', (id) => {
    expect(parseSessionId(id).ok).toBe(false);
  });
});

describe('parseSupportedProtocols', () => {
  it('splits on spaces', () => {
    expect(parseSupportedProtocols(' {a} {B}  {c},{d} ')).toEqual(['{a}', '{B}', '{c}', '{d}']);
    expect(parseSupportedProtocols('')).toEqual([]);
  });
});
