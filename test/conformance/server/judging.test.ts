/** The pure half of check-server: judging answers, error formats, verdicts, and its purity. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaseRecorder, caseLines, errorFormatDeviations, judgeAnswer } from '../../../src/conformance/server/index.js';

const ACK: [string, string] = ['BITS-Packet-Type', 'Ack'];
const LEN: [string, string] = ['Content-Length', '0'];

describe('judgeAnswer', () => {
  it('passes the expected answer and names the class the one classifier gives', () => {
    const j = judgeAnswer('fragment', 'Fragment 20-29/30', { status: 416, headers: [ACK, ['BITS-Received-Content-Range', '10'], ['BITS-Error-Code', '0x0'], ['BITS-Error-Context', '0x5'], LEN] }, { status: [416], received: 10 });
    expect(j.deviations).toEqual([]);
    expect(j.seen).toBe('416 + 0x00000000 S_OK + BITS-Received-Content-Range 10');
  });

  it('reports a wrong status with the expected and seen code and class', () => {
    const j = judgeAnswer('close-session', 'Close-Session', { status: 400, headers: [ACK, ['BITS-Error-Code', '0x80070057'], ['BITS-Error-Context', '0x5'], LEN] }, { status: [500], code: 0x8020001f });
    expect(j.deviations).toEqual(['Close-Session: expected 500 + 0x8020001F BG_E_SESSION_NOT_FOUND [session-lost], seen 400 + 0x80070057 E_INVALIDARG [fatal]']);
  });

  it('reads the code in any notation the decoder reads ([M] x8020001F, BITS-Error)', () => {
    const j = judgeAnswer('fragment', 'Fragment', { status: 500, headers: [ACK, ['BITS-Error', 'x8020001F'], ['BITS-Error-Context', '0x5'], LEN] }, { status: [500], code: 0x8020001f });
    expect(j.deviations).toEqual([]);
  });

  it('reports a missing Ack type, Content-Length, and a session id that names another session', () => {
    const j = judgeAnswer('fragment', 'Fragment 0-9/30', { status: 200, headers: [['BITS-Received-Content-Range', '10'], ['BITS-Session-Id', '{B}']] }, { status: [200], received: 10, sessionId: '{A}' });
    expect(j.deviations).toEqual([
      'Fragment 0-9/30: answer 200 without BITS-Packet-Type (expected Ack)',
      'Fragment 0-9/30: Ack 200 without Content-Length',
      'Fragment 0-9/30: Ack names session "{B}", the request "{A}"',
    ]);
  });

  it('accepts a lower-cased echo of a GUID session id (§8) but checks the Create Ack fields', () => {
    const id = '{5E53C221-F2D6-4BF2-B994-1DC43CEACA8D}';
    expect(judgeAnswer('fragment', 'F', { status: 200, headers: [ACK, LEN, ['BITS-Session-Id', id.toLowerCase()], ['BITS-Received-Content-Range', '1']] }, { status: [200], sessionId: id }).deviations).toEqual([]);
    const create = judgeAnswer('create-session', 'Create-Session', { status: 201, headers: [ACK, LEN, ['BITS-Session-Id', 'x'.repeat(101)]] }, { status: [200, 201], createSuccess: true });
    expect(create.deviations).toEqual([
      'Create-Session: Create-Session Ack without BITS-Protocol',
      'Create-Session: BITS-Session-Id of 101 characters (at most 100)',
      'Create-Session: Create-Session Ack without Accept-Encoding (expected Identity)',
    ]);
  });

  it('reports no answer as a deviation naming what was expected', () => {
    expect(judgeAnswer('ping', 'Ping', { noAnswer: 'connection lost (socket hang up)' }, { status: [200] }).deviations)
      .toEqual(['Ping: expected 200 [ok], seen no answer (connection lost (socket hang up))']);
  });
});

describe('errorFormatDeviations', () => {
  it('wants a hex code and context 0x5 on every error Ack, and no code on a 2xx', () => {
    expect(errorFormatDeviations([
      { what: 'a', status: 500, headers: [['BITS-Error-Code', '0x8020001F'], ['BITS-Error-Context', '0x5']] },
      { what: 'b', status: 500, headers: [['BITS-Error', 'x8020001F'], ['BITS-Error-Context', '0x5']] },
    ])).toEqual([]);
    expect(errorFormatDeviations([
      { what: 'a', status: 400, headers: [['BITS-Error-Code', '2147942487'], ['BITS-Error-Context', '0x5']] },
      { what: 'b', status: 416, headers: [['BITS-Error-Code', '0x0']] },
      { what: 'c', status: 500, headers: [['BITS-Error-Code', '0x80004005'], ['BITS-Error-Context', '0x7']] },
      { what: 'd', status: 200, headers: [['BITS-Error-Code', '1']] },
      { what: 'e', status: 404, headers: [] },
    ])).toEqual([
      'a: BITS-Error-Code "2147942487" is not hex (expected e.g. 0x80070057)',
      'b: 416 Ack without BITS-Error-Context (expected 0x5)',
      'c: BITS-Error-Context 0x7, expected 0x5 (the BITS extension answered)',
      'd: 200 Ack carries BITS-Error-Code "1" (only error Acks do)',
      'e: 404 Ack without BITS-Error-Code',
    ]);
    expect(errorFormatDeviations([{ what: 'a', status: 200, headers: [] }])).toBeUndefined();
  });
});

describe('CaseRecorder', () => {
  it('a deviation wins over not-applicable; lines strip control characters a server could send', () => {
    const r = new CaseRecorder('host-id');
    r.notApplicable('no host id');
    r.deviation('BITS-Host-Id "a\u001b[31mred"');
    const v = r.verdict();
    expect(v.outcome).toBe('deviation');
    expect(caseLines(v)).toEqual(['DEVIATION  host-id                            §3 §7', '           - BITS-Host-Id "a?[31mred"']);
    const na = new CaseRecorder('upload-reply');
    na.notApplicable('plain upload');
    expect(na.verdict()).toMatchObject({ outcome: 'not-applicable', notes: ['not applicable: plain upload'] });
  });
});

describe('src/conformance/server is pure', () => {
  const src = join(__dirname, '..', '..', '..', 'src');
  const dir = join(src, 'conformance', 'server');
  const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;
  it('imports only itself, src/protocol and the observation type: no Node module, no package, no client', () => {
    const offenders: string[] = [];
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const file = join(dir, name);
      for (const m of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
        const spec = m[1]!;
        const target = spec.startsWith('.') ? relative(src, resolve(dirname(file), spec)) : undefined;
        const ok = target !== undefined && (target.startsWith(join('conformance', 'server')) || target.startsWith('protocol') || target === 'observation.js');
        if (!ok) offenders.push(`${name}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
