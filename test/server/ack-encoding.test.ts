import { describe, expect, it } from 'vitest';
import { ackHeaders, fragmentHeaders, formatHresult } from '../../src/protocol/encode.js';
import { decodeAck, decodeRequest, ERROR_CODES } from '../../src/protocol/index.js';

describe('encoders round-trip through the one decoder', () => {
  it('formats HRESULTs as IIS does', () => {
    expect(formatHresult(ERROR_CODES.BG_E_SESSION_NOT_FOUND)).toBe('0x8020001F');
    expect(formatHresult(0x5)).toBe('0x00000005');
  });

  it('an error Ack decodes to its fields', () => {
    const h = ackHeaders({ sessionId: '{a}', receivedOffset: 42, errorCode: ERROR_CODES.E_INVALIDARG });
    expect(h).toEqual([
      ['BITS-Packet-Type', 'Ack'],
      ['BITS-Session-Id', '{a}'],
      ['BITS-Received-Content-Range', '42'],
      ['BITS-Error-Code', '0x80070057'],
      ['BITS-Error-Context', '0x5'],
    ]);
    const ack = decodeAck(416, h);
    expect(ack).toMatchObject({ isAck: true, sessionId: '{a}', receivedOffset: 42, errorContext: 5, problems: [] });
    expect(ack.errorCode?.name).toBe('E_INVALIDARG');
  });

  it('a context without a code is sent alone, and decodes without a code', () => {
    const h = ackHeaders({ sessionId: '{a}', errorContext: 0x7 });
    expect(h).toEqual([['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', '{a}'], ['BITS-Error-Context', '0x7']]);
    expect(decodeAck(503, h)).toMatchObject({ isAck: true, errorContext: 7 });
    expect(decodeAck(503, h).errorCode).toBeUndefined();
  });

  it('a Fragment head decodes to its range, name and length without problems', () => {
    const h = fragmentHeaders({ sessionId: '{s}', start: 10, end: 19, total: 100, contentName: 'f.bin' });
    const req = decodeRequest('BITS_POST', h);
    expect(req).toMatchObject({ type: 'fragment', sessionId: '{s}', range: { start: 10, end: 19, total: 100 }, contentName: 'f.bin', contentLength: 10, problems: [] });
  });
});
