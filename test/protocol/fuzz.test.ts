import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeAck, decodeRequest, parseContentRange, parseErrorCode, parseReceivedContentRange, parseSessionId,
} from '../../src/protocol/index.js';

const names = fc.oneof(
  fc.constantFrom(
    'BITS-Packet-Type', 'bits-packet-type', 'BITS-Session-Id', 'BITS-Supported-Protocols', 'Content-Range', 'Content-Length',
    'Content-Name', 'Content-Encoding', 'BITS-Received-Content-Range', 'BITS-Recieved-Content-Range', 'BITS-Error-Code',
    'BITS-Error', 'BITS-Error-Context', 'BITS-Host-Id', 'BITS-Host-Id-Fallback-Timeout', 'BITS-Reply-URL', 'BITS-Protocol',
  ),
  fc.string({ maxLength: 20 }),
);
const values = fc.oneof(
  fc.constantFrom('Fragment', 'Ack', 'CREATE-SESSION', 'Close-Session', 'bytes 0-9/10', 'bytes 9-0/10', '0x8020001F', '-1', '99999999999999999999'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const headerLists = fc.array(fc.tuple(names, values), { maxLength: 12 });

describe('decoder fuzzing', () => {
  it('random header lists never make decodeRequest or decodeAck throw', () => {
    fc.assert(
      fc.property(fc.constantFrom('BITS_POST', 'GET', 'POST', 'bits_post', ''), headerLists, fc.option(fc.nat()), fc.integer({ min: 0, max: 999 }),
        (method, headers, body, status) => {
          const r = decodeRequest(method, headers, body ?? undefined);
          if (r) for (const p of r.problems) expect(typeof p.reason).toBe('string');
          const a = decodeAck(status, headers);
          expect(Array.isArray(a.problems)).toBe(true);
        }),
      { numRuns: 2000 },
    );
  });

  it('value parsers return ok/reason for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
        for (const r of [parseContentRange(s), parseReceivedContentRange(s), parseErrorCode(s), parseSessionId(s)]) {
          expect(r.ok ? 'value' in r : typeof r.reason === 'string').toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('parseContentRange round-trips every valid safe range', () => {
    fc.assert(
      fc.property(fc.tuple(fc.nat({ max: Number.MAX_SAFE_INTEGER - 2 }), fc.nat({ max: Number.MAX_SAFE_INTEGER - 2 }), fc.nat({ max: Number.MAX_SAFE_INTEGER - 2 })), (xs) => {
        const [start, end, last] = xs.sort((a, b) => a - b);
        const total = last! + 1;
        expect(parseContentRange(`bytes ${start}-${end}/${total}`)).toEqual({ ok: true, value: { start, end, total } });
      }),
    );
  });
});
