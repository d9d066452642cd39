import { describe, expect, it } from 'vitest';
import type { Observation } from '../../src/observation.js';
import { SessionTracker, VIOLATION_CODES, type BitsEvent, type Violation } from '../../src/sessions/index.js';
import { GUID, Wire } from './factory.js';

const URL_ = '/up/f.bin';
const SID = '{0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}';
const DAY = 86_400_000;

type Step = Observation | ((t: SessionTracker) => BitsEvent[]);
interface Case {
  code: (typeof VIOLATION_CODES)[number];
  name: string;
  flag: (w: Wire) => Step[];
  nearMiss: (w: Wire) => Step[];
  /** Exact message of the flagged violation, when worth pinning. */
  message?: string;
  severity?: Violation['severity'];
}

function run(steps: (w: Wire) => Step[]): Violation[] {
  const w = new Wire();
  const t = new SessionTracker();
  const events: BitsEvent[] = [];
  for (const s of steps(w)) events.push(...(typeof s === 'function' ? s(t) : t.observe(s)));
  return events.flatMap((e) => (e.type === 'violation' ? [e.violation] : []));
}

const CASES: Case[] = [
  {
    code: 'close-incomplete', name: 'Close-Session before the last fragment',
    flag: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 2097151, 5242880), w.close(URL_, SID)],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 2097151, 4194304), w.fragment(URL_, SID, 2097152, 4194303, 4194304), w.close(URL_, SID)],
    message: 'Close-Session after 2097152 of 5242880 bytes acknowledged', severity: 'error',
  },
  {
    code: 'close-before-reply', name: 'Close-Session before the reply URL was fetched',
    flag: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10, { replyUrl: '/replies/1' }), w.close(URL_, SID)],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10, { replyUrl: '/replies/1' }), w.get('/replies/1'), w.close(URL_, SID)],
    message: 'Close-Session before the reply "/replies/1" was fetched',
  },
  {
    code: 'close-unknown-session', name: 'Close-Session for an id never created here',
    flag: (w) => [w.close(URL_, 'never-issued', { status: 500, errorCode: '0x8020001F' })],
    nearMiss: (w) => [w.create(URL_, SID), w.close(URL_, SID)],
    message: 'Close-Session for session "never-issued" that no Create-Session Ack seen here issued (server answered 500 0x8020001F BG_E_SESSION_NOT_FOUND)',
    severity: 'warning',
  },
  {
    code: 'close-after-end', name: 'a second Close-Session after a successful one',
    flag: (w) => [...w.upload(URL_, SID, 10, 10), w.close(URL_, SID)],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID, { status: 503 }), w.close(URL_, SID)],
    message: 'Close-Session on a session already closed on the same connection (server answered 200)', severity: 'error',
  },
  {
    code: 'close-while-busy', name: 'Close-Session while a fragment is unanswered (observed after the fragment)',
    flag: (w) => [w.create(URL_, SID, { startedAt: 0, endedAt: 1 }), w.fragment(URL_, SID, 0, 9, 10, { startedAt: 10, endedAt: 30 }), w.close(URL_, SID, { startedAt: 20, endedAt: 40 })],
    nearMiss: (w) => [w.create(URL_, SID, { startedAt: 0, endedAt: 1 }), w.fragment(URL_, SID, 0, 9, 10, { startedAt: 10, endedAt: 20 }), w.close(URL_, SID, { startedAt: 20, endedAt: 40 })],
    message: 'Close-Session (exchange 3) overlapped exchange 2 of the same session still unanswered',
  },
  {
    code: 'close-no-data', name: 'Create-Session then Close-Session with no Fragment',
    flag: (w) => [w.create(URL_, SID), w.close(URL_, SID)],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID)],
    message: 'Close-Session with no Fragment acknowledged: nothing was uploaded, unless the file really is 0 bytes', severity: 'warning',
  },
  {
    code: 'close-other-url', name: 'Close-Session to another path',
    flag: (w) => [...w.upload(URL_, SID, 10, 10).slice(0, -1), w.close('/up/other.bin', SID)],
    nearMiss: (w) => [...w.upload(URL_, SID, 10, 10).slice(0, -1), w.close(URL_ + '?retry=1', SID)],
    message: 'Close-Session sent to "/up/other.bin", but the session was created at "/up/f.bin"', severity: 'warning',
  },
  {
    code: 'close-wrong-host', name: 'Close-Session to the URL host within the host-id fallback timeout',
    flag: (w) => [w.create(URL_, SID, { hostId: 'node7.farm', extraResponse: [['BITS-Host-Id-Fallback-Timeout', '60']] }), w.close(URL_, SID, { startedAt: w.clock + 59_000 })],
    nearMiss: (w) => [w.create(URL_, SID, { hostId: 'node7.farm', extraResponse: [['BITS-Host-Id-Fallback-Timeout', '60']] }), w.close(URL_, SID, { startedAt: w.clock + 61_000 })],
    message: 'Close-Session sent to host "files.example.com", not the issued BITS-Host-Id "node7.farm" (within the 60 s fallback timeout)', severity: 'error',
  },
  {
    code: 'close-rejected', name: 'Close-Session answered 400 (final: never resent)',
    flag: (w) => [...w.upload(URL_, SID, 10, 10).slice(0, -1), w.close(URL_, SID, { status: 400, errorCode: '0x80070057' })],
    nearMiss: (w) => [...w.upload(URL_, SID, 10, 10).slice(0, -1), w.close(URL_, SID, { status: 500, errorCode: '0x80004005' }), w.close(URL_, SID)],
    message: 'Close-Session answered 400 0x80070057 E_INVALIDARG: the commit was never confirmed', severity: 'error',
  },
  {
    code: 'close-after-expiry', name: 'Close-Session 15 days after the last 2xx progress (a failed fragment in between)',
    flag: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 20), w.fragment(URL_, SID, 10, 19, 20, { status: 503, received: null, startedAt: w.clock + 10 * DAY }), w.close(URL_, SID, { startedAt: w.clock + 5 * DAY })],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID, { startedAt: w.clock + 13 * DAY })],
    message: 'Close-Session after 15 days without progress (last 2xx Ack), past the 14 days session timeout',
  },
  {
    code: 'fragment-gap', name: 'a fragment that starts beyond the acknowledged bytes',
    flag: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 99, 300), w.fragment(URL_, SID, 200, 299, 300, { status: 200 })],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 99, 300), w.fragment(URL_, SID, 100, 199, 300)],
    message: 'Fragment starts at 200 but the server had acknowledged only 100 bytes (gap of 100); server answered 200', severity: 'error',
  },
  {
    code: 'fragment-overlap', name: 'a retransmission of acknowledged bytes',
    flag: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 99, 300), w.fragment(URL_, SID, 50, 149, 300)],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 99, 300), w.fragment(URL_, SID, 100, 149, 300)],
    message: 'Fragment bytes 50-149 resends 50 bytes the server had already acknowledged (100)', severity: 'info',
  },
  {
    code: 'fragment-total-changed', name: 'a fragment with another total length',
    flag: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 99, 300), w.fragment(URL_, SID, 100, 199, 400)],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 99, 300), w.fragment(URL_, SID, 100, 199, 300)],
    message: "Fragment total length 400 differs from the session's 300",
  },
  {
    code: 'fragment-length-mismatch', name: 'Content-Length different from the range',
    flag: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 99, 300, { contentLength: 98 })],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 99, 300, { contentLength: 100 })],
    message: 'Content-Length 98 but Content-Range bytes 0-99 is 100 bytes',
  },
  {
    code: 'fragment-after-end', name: 'a fragment after Close-Session',
    flag: (w) => [...w.upload(URL_, SID, 10, 10), w.fragment(URL_, SID, 0, 9, 10, { status: 500 })],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10), w.fragment(URL_, SID, 0, 9, 10), w.close(URL_, SID)],
    message: 'Fragment bytes 0-9/10 on a session already closed',
  },
  {
    code: 'fragment-unknown-session', name: 'a fragment for an id never created, rejected by the server',
    flag: (w) => [w.fragment(URL_, 'stray', 0, 9, 10, { status: 500, received: null, extraResponse: [['BITS-Error-Code', '0x8020001F']] })],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10)],
    message: 'Fragment for session "stray" that no Create-Session Ack seen here issued (server answered 500 0x8020001F BG_E_SESSION_NOT_FOUND)',
    severity: 'warning',
  },
  {
    code: 'packet-missing-header', name: 'a Fragment without Content-Range',
    flag: (w) => [w.create(URL_, SID), w.exchange('BITS_POST', URL_, [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', SID], ['Content-Length', '0']], 400, [['BITS-Packet-Type', 'Ack'], ['BITS-Error-Code', '0x80070057']])],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10)],
    message: 'Fragment without Content-Range',
  },
  {
    code: 'packet-bad-header', name: 'a malformed Content-Range',
    flag: (w) => [w.create(URL_, SID), w.exchange('BITS_POST', URL_, [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', SID], ['Content-Range', 'bytes 0-9'], ['Content-Length', '10']], 400, [['BITS-Packet-Type', 'Ack']])],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10)],
  },
  {
    code: 'packet-unknown-type', name: 'an unknown BITS-Packet-Type',
    flag: (w) => [w.exchange('BITS_POST', URL_, [['BITS-Packet-Type', 'Upload']], 400, [['BITS-Packet-Type', 'Ack']])],
    nearMiss: (w) => [w.exchange('BITS_POST', URL_, [['BITS-Packet-Type', 'PING']], 200, [['BITS-Packet-Type', 'ACK']])],
    message: 'unknown BITS-Packet-Type "Upload"',
  },
  {
    code: 'protocol-unsupported', name: 'a Create-Session offering only an unknown protocol',
    flag: (w) => [w.exchange('BITS_POST', URL_, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', '{11111111-2222-3333-4444-555555555555}']], 400, [['BITS-Packet-Type', 'Ack'], ['BITS-Error-Code', '0x80070057']])],
    nearMiss: (w) => [w.exchange('BITS_POST', URL_, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID.toUpperCase()]], 201, [['BITS-Packet-Type', 'Ack'], ['BITS-Protocol', GUID], ['BITS-Session-Id', SID]])],
  },
  {
    code: 'ack-missing', name: 'a 404 from a verb filter instead of an Ack',
    flag: (w) => [w.exchange('BITS_POST', URL_, [['BITS-Packet-Type', 'Ping']], 404, [['Content-Type', 'text/html']])],
    nearMiss: (w) => [
      w.exchange('BITS_POST', URL_, [['BITS-Packet-Type', 'Ping']], 401, [['WWW-Authenticate', 'NTLM']]),
      w.exchange('BITS_POST', URL_, [['BITS-Packet-Type', 'Ping']], 502, [], { responder: 'gateway', error: 'upstream-refused' }),
      w.ping(),
    ],
    message: 'response 404 without BITS-Packet-Type: Ack',
  },
  {
    code: 'ack-session-mismatch', name: 'an Ack naming another session',
    flag: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10, { extraResponse: [] , responseHeaders: [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', '{other}'], ['BITS-Received-Content-Range', '10']] })],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10)],
  },
  {
    code: 'ack-range-regressed', name: 'the server acknowledging fewer bytes than before',
    flag: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 99, 300), w.fragment(URL_, SID, 100, 199, 300, { received: 50 })],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 99, 300), w.fragment(URL_, SID, 100, 199, 300, { received: 200 })],
    message: 'BITS-Received-Content-Range 50 after the server had acknowledged 100 bytes (50 bytes lost)',
  },
  {
    code: 'server-error', name: 'a fragment answered 500 BG_E_SESSION_NOT_FOUND',
    flag: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10, { status: 500, received: null, extraResponse: [['BITS-Error-Code', '0x8020001F'], ['BITS-Error-Context', '0x5']] })],
    nearMiss: (w) => [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10)],
    message: 'Fragment answered 500 with 0x8020001F BG_E_SESSION_NOT_FOUND (context 0x5 BITS server extension)', severity: 'warning',
  },
  {
    code: 'host-id-ignored', name: 'a fragment sent past the issued BITS-Host-Id',
    flag: (w) => [w.create(URL_, SID, { hostId: 'node7.farm' }), w.fragment(URL_, SID, 0, 9, 10)],
    nearMiss: (w) => [w.create(URL_, SID, { hostId: 'node7.farm' }), w.fragment(URL_, SID, 0, 9, 10, { requestHeaders: [['Host', 'NODE7.farm:8080'], ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', SID], ['Content-Range', 'bytes 0-9/10'], ['Content-Length', '10']] })],
    message: 'Fragment sent to host "files.example.com", not the issued BITS-Host-Id "node7.farm" (no fallback timeout was issued, so the client never falls back)',
  },
  {
    code: 'auth-channel-binding', name: 'NTLM credentials answered with a bare 401 after the challenge, on the same upstream connection',
    flag: (w) => ntlmRounds(w, 401),
    nearMiss: (w) => ntlmRounds(w, 200),
    message: 'NTLM credentials answered with a new 401 on the same connection after its challenge: the handshake starts over. ' +
      'If the same account authenticates directly against the server, IIS Extended Protection (tokenChecking="Require") is ' +
      'refusing tokens bound to the gateway\'s TLS channel; otherwise the credentials are wrong',
    severity: 'error',
  },
];

/** Anonymous -> 401 (two WWW-Authenticate lines), type 1 -> challenge, type 3 -> `final`, all on upstream connection 7. */
function ntlmRounds(w: Wire, final: number): Observation[] {
  const ping = (auth: string | undefined, status: number, challenge: Array<[string, string]>) => w.exchange('BITS_POST', URL_,
    [['Host', 'files.example.com'], ['BITS-Packet-Type', 'Ping'], ...(auth ? [['Authorization', auth] as [string, string]] : []), ['Content-Length', '0']],
    status, [...challenge, ['Content-Length', '0']], { upstreamConnectionId: 7 });
  return [
    ping(undefined, 401, [['WWW-Authenticate', 'Negotiate'], ['WWW-Authenticate', 'NTLM']]),
    ping('NTLM TlRMTVNTUAABAAAA', 401, [['WWW-Authenticate', 'NTLM TlRMTVNTUAACAAAA']]),
    ping('NTLM TlRMTVNTUAADAAAA', final, final === 401 ? [['WWW-Authenticate', 'Negotiate'], ['WWW-Authenticate', 'NTLM']] : [['BITS-Packet-Type', 'Ack']]),
  ];
}

describe('violation rules (table-driven: a case that flags, a near-miss that does not)', () => {
  it('covers every violation code', () => {
    expect(new Set(CASES.map((c) => c.code))).toEqual(new Set(VIOLATION_CODES));
  });

  for (const c of CASES) {
    describe(c.code, () => {
      it(`flags ${c.name}`, () => {
        const found = run(c.flag).filter((v) => v.code === c.code);
        expect(found).toHaveLength(1);
        const v = found[0]!;
        if (c.message) expect(v.message).toBe(c.message);
        if (c.severity) expect(v.severity).toBe(c.severity);
        expect(v.explain.length).toBeGreaterThan(40);
        expect(v.exchanges.length).toBeGreaterThan(0);
      });
      it('does not flag the near-miss', () => {
        expect(run(c.nearMiss).map((v) => v.code)).not.toContain(c.code);
      });
    });
  }
});

describe('judging the answer to a gap', () => {
  it('a 416 with E_INVALIDARG answering a gap is the resync signal: fragment-gap alone, no server-error', () => {
    const codes = run((w) => [
      w.create(URL_, SID),
      w.fragment(URL_, SID, 0, 99, 300),
      w.fragment(URL_, SID, 200, 299, 300, {
        status: 416, received: 100,
        extraResponse: [['BITS-Error-Code', '0x80070057'], ['BITS-Error-Context', '0x5']],
      }),
    ]).map((v) => v.code);
    expect(codes).toEqual(['fragment-gap']);
  });

  it('a 500 answering a fragment is still a server error', () => {
    const codes = run((w) => [
      w.create(URL_, SID),
      w.fragment(URL_, SID, 0, 99, 300, { status: 500, received: null, extraResponse: [['BITS-Error-Code', '0x80070057']] }),
    ]).map((v) => v.code);
    expect(codes).toContain('server-error');
  });
});
