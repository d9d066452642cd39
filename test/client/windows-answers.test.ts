/**
 * What the client does on each answer, as the Windows client does (bits-protocol.md §3,
 * §6; issue 10 "Client: what Windows does"). Each case runs on real sockets against a
 * scripted server (our own server cannot produce 413s, 5xx on Close, Host-Ids that fail,
 * application errors or lost Acks on cue); the client writes the literal BITS_POST, and
 * the assertions read what the server received.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uploadFile, UploadError, type UploadOptions } from '../../src/client/index.js';
import { startScriptedServer, type Scripted, type ScriptedAnswer, type SeenRequest } from './test-peers.js';

const GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';
const sid = (n: number) => `{00000000-0000-4000-8000-${String(n).padStart(12, '0')}}`;
const MiB = 1024 * 1024;
let dir: string;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-win-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await fs.rm(dir, { recursive: true, force: true });
});

const type = (r: SeenRequest) => r.get('BITS-Packet-Type') ?? `${r.method}`;
const ack = (extra: [string, string][] = [], status = 200): ScriptedAnswer => ({ status, headers: [['BITS-Packet-Type', 'Ack'], ...extra] });
const error = (status: number, code: string, context = '0x5'): ScriptedAnswer =>
  ack([['BITS-Error-Code', code], ['BITS-Error-Context', context]], status);

function rangeOf(req: SeenRequest): [number, number, number] {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(req.get('Content-Range')!)!;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

interface Seen {
  /** Index among requests of the same packet type. */
  nth: number;
  /** Session of the latest Create-Session (1-based). */
  session: number;
}

/**
 * A BITS server that does the right thing unless `override` answers first: every
 * Create-Session issues a new id, every Fragment is acknowledged up to its end.
 */
async function peer(override: (req: SeenRequest, seen: Seen) => ScriptedAnswer | 'drop' | undefined = () => undefined, extraCreate: [string, string][] = []): Promise<Scripted> {
  const counts = new Map<string, number>();
  let session = 0;
  const s = await startScriptedServer((req) => {
    // Every packet must carry the literal BITS_POST; anything else fails the test's upload.
    if (req.method !== 'BITS_POST') return ack([], 405);
    const t = type(req);
    const nth = counts.get(t) ?? 0;
    counts.set(t, nth + 1);
    if (t === 'Create-Session') session++;
    const over = override(req, { nth, session });
    if (over) return over;
    if (t === 'Create-Session') return ack([['BITS-Protocol', GUID], ['BITS-Session-Id', sid(session)], ['Accept-Encoding', 'Identity'], ...extraCreate]);
    if (t === 'Fragment') return ack([['BITS-Session-Id', req.get('BITS-Session-Id')!], ['BITS-Received-Content-Range', String(rangeOf(req)[1] + 1)]]);
    return ack(t === 'Ping' ? [] : [['BITS-Session-Id', req.get('BITS-Session-Id') ?? '']]);
  });
  cleanups.push(() => s.close());
  return s;
}

/** The bytes a server acknowledged for one session, put back together in range order. */
function assembled(s: Scripted, session: string, acked = (r: SeenRequest) => r !== undefined): Buffer {
  const frags = s.requests.filter((r) => type(r) === 'Fragment' && r.get('BITS-Session-Id') === session && acked(r));
  const parts: Buffer[] = [];
  let next = 0;
  for (const f of frags) {
    const [start, end] = rangeOf(f);
    if (end < next) continue;
    parts.push(f.body.subarray(next - start));
    next = end + 1;
  }
  return Buffer.concat(parts);
}

async function localFile(name: string, data: Buffer): Promise<string> {
  const p = path.join(dir, name);
  await fs.writeFile(p, data);
  return p;
}

async function run(s: Scripted, file: string, options: Partial<UploadOptions> = {}) {
  const log: string[] = [];
  const result = await uploadFile({ url: `http://127.0.0.1:${s.port}/up/f.bin`, file, backoffBaseMs: 1, backoffMaxMs: 20, onLog: (l) => log.push(l), ...options })
    .catch((e: unknown) => e);
  return { result, log };
}

const sequence = (s: Scripted) => s.requests.map((r) => `${type(r)}${r.get('Content-Range') ? ' ' + r.get('Content-Range')!.slice(6) : ''}`);

describe('413 on a Fragment: smaller fragments, and go on (M 3.1.5.2.4)', () => {
  it('divides the fragment size by 4, says so, and completes byte-identically', async () => {
    const data = randomBytes(5 * MiB + 123);
    const s = await peer((req) => (type(req) === 'Fragment' && req.body.length > MiB ? ack([], 413) : undefined));
    const { result, log } = await run(s, await localFile('big.bin', data), { fragmentSize: 4 * MiB });
    expect(log).toEqual(['413: fragment size 4 MiB -> 1 MiB']);
    expect(result).toMatchObject({ closed: true, acked: data.length, fragmentSize: MiB, retries: 0, restarts: 0 });
    const total = data.length;
    expect(sequence(s)).toEqual([
      'Ping', 'Create-Session', `Fragment 0-${4 * MiB - 1}/${total}`,
      ...[0, 1, 2, 3, 4].map((i) => `Fragment ${i * MiB}-${(i + 1) * MiB - 1}/${total}`),
      `Fragment ${5 * MiB}-${total - 1}/${total}`, 'Close-Session',
    ]);
    // Content-Name rides on the first fragment the server accepted.
    expect(s.requests.filter((r) => type(r) === 'Fragment').map((r) => r.get('Content-Name') ?? '-').slice(0, 3)).toEqual(['big.bin', 'big.bin', '-']);
    expect(assembled(s, sid(1), (r) => r.body.length <= MiB).equals(data)).toBe(true);
  });

  it('gives up when a 1 KiB fragment is still refused, after saying each step', async () => {
    const s = await peer((req) => (type(req) === 'Fragment' ? ack([], 413) : undefined));
    const { result, log } = await run(s, await localFile('x.bin', randomBytes(100 * 1024)), { fragmentSize: 64 * 1024 });
    expect(log).toEqual(['413: fragment size 64 KiB -> 16 KiB', '413: fragment size 16 KiB -> 4 KiB', '413: fragment size 4 KiB -> 1 KiB']);
    expect(result).toBeInstanceOf(UploadError);
    expect((result as UploadError).message).toBe('Fragment answered 413: a 1024-byte fragment is refused; smaller ones will not help');
    expect(s.requests.filter((r) => type(r) === 'Fragment').map((r) => r.body.length)).toEqual([65536, 16384, 4096, 1024]);
    expect(sequence(s).at(-1)).toBe('Fragment 0-1023/102400');
  });
});

describe('Close-Session and Cancel-Session: resend on 5xx unless 0x8020001F, never on 1xx-4xx', () => {
  it.each([
    [503, undefined, true],
    [500, '0x80004005', true],
    [504, undefined, true],
    [501, undefined, true],
    [302, undefined, false],
    [400, '0x80070057', false],
    [404, undefined, false],
    [408, undefined, false],
    [409, undefined, false],
  ] as const)('Close-Session answered %i (code %s): resent %s', async (status, code, resent) => {
    const s = await peer((req, seen) => (type(req) === 'Close-Session' && seen.nth === 0 ? (code ? error(status, code) : ack([], status)) : undefined));
    const { result } = await run(s, await localFile('c.bin', Buffer.from('abc')));
    expect(s.requests.filter((r) => type(r) === 'Close-Session')).toHaveLength(resent ? 2 : 1);
    if (resent) {
      expect(result).toMatchObject({ closed: true, retries: 1 });
    } else {
      expect(result).toBeInstanceOf(UploadError);
      expect((result as UploadError).status).toBe(status);
      expect(sequence(s).at(-1)).toBe('Close-Session');
    }
  });

  it.each([
    [502, undefined, true],
    [500, '0x80004005', true],
    [400, undefined, false],
    [404, undefined, false],
  ] as const)('Cancel-Session answered %i (code %s): resent %s', async (status, code, resent) => {
    const s = await peer((req, seen) => (type(req) === 'Cancel-Session' && seen.nth === 0 ? (code ? error(status, code) : ack([], status)) : undefined));
    const { result } = await run(s, await localFile('c.bin', randomBytes(3000)), { fragmentSize: 1000, cancelAfter: 1000 });
    expect(s.requests.filter((r) => type(r) === 'Cancel-Session')).toHaveLength(resent ? 2 : 1);
    if (resent) expect(result).toMatchObject({ cancelled: true, closed: false, retries: 1 });
    else expect((result as UploadError).status).toBe(status);
  });

  it('Cancel-Session answered 0x8020001F: not resent, not restarted; the session is gone as asked', async () => {
    const s = await peer((req) => (type(req) === 'Cancel-Session' ? error(500, '0x8020001F') : undefined));
    const { result, log } = await run(s, await localFile('c.bin', randomBytes(3000)), { fragmentSize: 1000, cancelAfter: 1000 });
    expect(result).toMatchObject({ cancelled: true, restarts: 0, retries: 0 });
    expect(sequence(s)).toEqual(['Ping', 'Create-Session', 'Fragment 0-999/3000', 'Cancel-Session']);
    expect(log).toEqual(['Cancel-Session answered 0x8020001F: the session was already gone']);
  });

  it('Close-Session answered 0x8020001F: starts again at Create-Session and uploads every byte again', async () => {
    const data = randomBytes(2500);
    const s = await peer((req, seen) => (type(req) === 'Close-Session' && seen.nth === 0 ? error(500, '0x8020001F') : undefined));
    const { result, log } = await run(s, await localFile('c.bin', data), { fragmentSize: 1000 });
    expect(result).toMatchObject({ closed: true, restarts: 1, sessionId: sid(2), acked: 2500 });
    expect(log).toEqual(['session lost (0x8020001F): restarting from byte 0 (Close-Session answered 500; 2500 of 2500 bytes had been acknowledged)']);
    expect(sequence(s)).toEqual([
      'Ping', 'Create-Session', 'Fragment 0-999/2500', 'Fragment 1000-1999/2500', 'Fragment 2000-2499/2500', 'Close-Session',
      'Create-Session', 'Fragment 0-999/2500', 'Fragment 1000-1999/2500', 'Fragment 2000-2499/2500', 'Close-Session',
    ]);
    expect(s.requests.at(-1)!.get('BITS-Session-Id')).toBe(sid(2));
    expect(assembled(s, sid(2)).equals(data)).toBe(true);
  });
});

describe('0x8020001F on a Fragment: start again at Create-Session (M 3.1.5.2.1)', () => {
  it('restarts from byte 0 in a new session, Content-Name on its first fragment, and says why', async () => {
    const data = randomBytes(4000);
    const s = await peer((req, seen) => (type(req) === 'Fragment' && seen.nth === 2 ? error(500, '0x8020001F') : undefined));
    const { result, log } = await run(s, await localFile('lost.bin', data), { fragmentSize: 1000 });
    expect(result).toMatchObject({ closed: true, restarts: 1, retries: 0, sessionId: sid(2) });
    expect(log).toEqual(['session lost (0x8020001F): restarting from byte 0 (Fragment answered 500; 2000 of 4000 bytes had been acknowledged)']);
    const frags = s.requests.filter((r) => type(r) === 'Fragment');
    expect(frags.map((r) => `${r.get('BITS-Session-Id') === sid(1) ? 1 : 2} ${r.get('Content-Range')} ${r.get('Content-Name') ?? '-'}`)).toEqual([
      '1 bytes 0-999/4000 lost.bin', '1 bytes 1000-1999/4000 -', '1 bytes 2000-2999/4000 -',
      '2 bytes 0-999/4000 lost.bin', '2 bytes 1000-1999/4000 -', '2 bytes 2000-2999/4000 -', '2 bytes 3000-3999/4000 -',
    ]);
    expect(assembled(s, sid(2)).equals(data)).toBe(true);
  });

  it('on the first Ping there is no session to lose: it goes on to Create-Session', async () => {
    const s = await peer((req) => (type(req) === 'Ping' ? error(500, '0x8020001F') : undefined));
    const { result, log } = await run(s, await localFile('p.bin', Buffer.from('abc')));
    expect(result).toMatchObject({ closed: true, restarts: 0, retries: 0 });
    expect(sequence(s)).toEqual(['Ping', 'Create-Session', 'Fragment 0-2/3', 'Close-Session']);
    expect(log).toEqual(['Ping answered 500 (0x8020001F BG_E_SESSION_NOT_FOUND): no session yet, going on']);
  });

  it('a server that loses every session: the first restart is at once, later ones back off, then it gives up', async () => {
    const s = await peer((req) => (type(req) === 'Fragment' ? error(500, '0x8020001F') : undefined));
    const waits: number[] = [];
    const { result } = await run(s, await localFile('x.bin', randomBytes(10)), { retryForMs: 60_000, maxRetries: 2, onWait: (w) => waits.push(w.failures) });
    expect((result as UploadError).message).toBe(
      'Fragment: session lost (0x8020001F) 4 times in a row; gave up after 4 sessions (3 failures in a row; retries limited to 2)',
    );
    expect(s.requests.filter((r) => type(r) === 'Create-Session')).toHaveLength(4);
    expect(waits).toEqual([1, 2]);
  });
});

describe('a lost Ack (the connection closes before the answer): reconnect, Ping, resend the same packet', () => {
  it.each(['Fragment', 'Close-Session'])('on a %s', async (lost) => {
    const data = randomBytes(2500);
    const s = await peer((req, seen) => (type(req) === lost && seen.nth === 0 ? 'drop' : undefined));
    const { result, log } = await run(s, await localFile('a.bin', data), { fragmentSize: 1000 });
    expect(result).toMatchObject({ closed: true, retries: 1, restarts: 0 });
    expect(log).toEqual([]);
    const seq = s.requests.map((r) => `${r.connection} ${type(r)}${r.get('Content-Range') ? ' ' + r.get('Content-Range')!.slice(6) : ''}`);
    expect(seq).toEqual(
      lost === 'Fragment'
        ? ['1 Ping', '1 Create-Session', '1 Fragment 0-999/2500', '2 Ping', '2 Fragment 0-999/2500', '2 Fragment 1000-1999/2500', '2 Fragment 2000-2499/2500', '2 Close-Session']
        : ['1 Ping', '1 Create-Session', '1 Fragment 0-999/2500', '1 Fragment 1000-1999/2500', '1 Fragment 2000-2499/2500', '1 Close-Session', '2 Ping', '2 Close-Session'],
    );
    // The same packet: same range, same bytes.
    const frags = s.requests.filter((r) => type(r) === 'Fragment');
    if (lost === 'Fragment') expect(frags[1]!.body.equals(frags[0]!.body)).toBe(true);
    expect(assembled(s, sid(1)).equals(data)).toBe(true);
  });
});

describe('a Close whose Ack was lost, resent and answered 0x8020001F', () => {
  it('is done: the server committed the first Close and released the session; no restart, no failure', async () => {
    const data = randomBytes(2500);
    const s = await peer((req, seen) => {
      if (type(req) !== 'Close-Session') return undefined;
      return seen.nth === 0 ? 'drop' : error(500, '0x8020001F', '0x5');
    });
    const { result, log } = await run(s, await localFile('c.bin', data), { fragmentSize: 1000 });
    expect(result).toMatchObject({ closed: true, retries: 1, restarts: 0, acked: 2500 });
    expect(log).toEqual([
      'Close-Session answered 500 (0x8020001F BG_E_SESSION_NOT_FOUND) after the first Close\'s Ack was lost: the server already committed and released the session; done',
    ]);
    expect(s.requests.filter((r) => type(r) === 'Create-Session')).toHaveLength(1);
  });

  it('still restarts when no earlier Close went out (the session was lost before the Close)', async () => {
    const s = await peer((req, seen) => (type(req) === 'Close-Session' && seen.session === 1 ? error(500, '0x8020001F', '0x5') : undefined));
    const { result } = await run(s, await localFile('d.bin', randomBytes(2500)), { fragmentSize: 1000 });
    expect(result).toMatchObject({ closed: true, restarts: 1 });
    expect(s.requests.filter((r) => type(r) === 'Create-Session')).toHaveLength(2);
  });
});

describe('server application errors (BITS-Error-Context 0x7): the §6 table, and only it', () => {
  // The application runs once the last fragment is in: its status comes back on that Ack.
  it.each([
    [409, true], [408, true], [500, true], [503, true], [306, true], [308, true],
    [404, false], [413, false], [416, false], [501, false], [505, false], [307, false], [403, false],
  ] as const)('final Fragment answered %i with context 0x7: resent %s', async (status, resent) => {
    const s = await peer((req, seen) => (type(req) === 'Fragment' && seen.nth === 1 ? error(status, `0x${(0x80190000 + status).toString(16).toUpperCase()}`, '0x7') : undefined));
    const { result, log } = await run(s, await localFile('app.bin', randomBytes(2000)), { fragmentSize: 1000 });
    const frags = s.requests.filter((r) => type(r) === 'Fragment').map((r) => r.get('Content-Range'));
    expect(log).toEqual([]);
    if (resent) {
      expect(result).toMatchObject({ closed: true, retries: 1, fragmentSize: 1000 });
      expect(frags).toEqual(['bytes 0-999/2000', 'bytes 1000-1999/2000', 'bytes 1000-1999/2000']);
    } else {
      // A 413 or 416 from the application is its failure, not a fragment-size or offset signal.
      expect((result as UploadError).message).toBe(
        `Fragment answered ${status} (0x${(0x80190000 + status).toString(16).toUpperCase()} BG_E_HTTP_ERROR_${status}): the server application failed (context 0x7); ${status} is fatal for it (§6)`,
      );
      expect(frags).toEqual(['bytes 0-999/2000', 'bytes 1000-1999/2000']);
      expect(sequence(s).at(-1)).toBe('Fragment 1000-1999/2000');
    }
  });

  it('the same 413 without context 0x7 is the server asking for smaller fragments', async () => {
    const s = await peer((req, seen) => (type(req) === 'Fragment' && seen.nth === 1 ? error(413, '0x8019019D', '0x5') : undefined));
    const { result, log } = await run(s, await localFile('app.bin', randomBytes(6000)), { fragmentSize: 4096 });
    expect(result).toMatchObject({ closed: true, fragmentSize: 1024 });
    expect(log).toEqual(['413 on a 1.86 KiB fragment: fragment size 4 KiB -> 1 KiB']);
  });
});

describe('BITS-Host-Id: follow it; fall back to the URL host only after BITS-Host-Id-Fallback-Timeout', () => {
  /** The farm front (the URL's host): issues the session and names `node` as its holder. */
  const front = (node: Scripted, fallback?: number) =>
    peer(undefined, [['BITS-Host-Id', `127.0.0.1:${node.port}`], ...(fallback === undefined ? [] : [['BITS-Host-Id-Fallback-Timeout', String(fallback)] as [string, string]])]);

  it('Pings the named host, then sends every packet of the session there', async () => {
    const node = await peer();
    const a = await front(node, 30);
    const data = randomBytes(2500);
    const { result, log } = await run(a, await localFile('h.bin', data), { fragmentSize: 1000 });
    expect(result).toMatchObject({ closed: true, retries: 0 });
    expect(sequence(a)).toEqual(['Ping', 'Create-Session']);
    expect(sequence(node)).toEqual(['Ping', 'Fragment 0-999/2500', 'Fragment 1000-1999/2500', 'Fragment 2000-2499/2500', 'Close-Session']);
    expect(node.requests.map((r) => `${r.method} ${r.target} ${r.get('Host')}`)).toEqual(Array(5).fill(`BITS_POST /up/f.bin 127.0.0.1:${node.port}`));
    expect(log).toEqual([`BITS-Host-Id: sending this session's packets to 127.0.0.1:${node.port}; falls back to 127.0.0.1:${a.port} after 30 s of failed connects`]);
    expect(Buffer.concat(node.requests.filter((r) => type(r) === 'Fragment').map((r) => r.body)).equals(data)).toBe(true);
  });

  it('without BITS-Host-Id-Fallback-Timeout it never falls back: it keeps trying the host until --retry-for runs out', async () => {
    const node = await peer();
    await node.down();
    const a = await front(node);
    const started = Date.now();
    const { result, log } = await run(a, await localFile('h.bin', randomBytes(100)), { retryForMs: 1500, backoffMaxMs: 100 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect((result as UploadError).message).toMatch(
      /^Fragment: Ping after reconnecting: no answer \(ECONNREFUSED, connect failed\); gave up after \d+ attempts \(no progress for 1\.\d+ s \(--retry-for 1\.5 s\)\)$/,
    );
    expect(sequence(a)).toEqual(['Ping', 'Create-Session']);
    expect(log).toEqual([`BITS-Host-Id: sending this session's packets to 127.0.0.1:${node.port}; never falls back (no BITS-Host-Id-Fallback-Timeout)`]);
  });

  it('falls back to the URL host once connects to the host have failed for the timeout', async () => {
    const node = await peer();
    await node.down();
    const a = await front(node, 1);
    const { result, log } = await run(a, await localFile('h.bin', randomBytes(2000)), { fragmentSize: 1000, backoffMaxMs: 100 });
    expect(result).toMatchObject({ closed: true, restarts: 0 });
    expect(sequence(a)).toEqual(['Ping', 'Create-Session', 'Ping', 'Fragment 0-999/2000', 'Fragment 1000-1999/2000', 'Close-Session']);
    const created = a.requests[1]!.at;
    const firstFragment = a.requests[3]!.at;
    expect(firstFragment - created).toBeGreaterThanOrEqual(1000);
    expect(log[1]).toMatch(new RegExp(`^BITS-Host-Id 127\\.0\\.0\\.1:${node.port} unreachable for 1\\.\\d s \\(BITS-Host-Id-Fallback-Timeout 1 s\\): falling back to 127\\.0\\.0\\.1:${a.port}$`));
    expect(node.requests).toEqual([]);
  });

  it('a successful connect resets the fallback timer: outages shorter than the timeout never fall back', async () => {
    const node = await peer();
    const a = await front(node, 2);
    // Three outages of 0.8 s, one after each of the first three fragments: 2.4 s of failed
    // connects in all, never 2 s in a row.
    let outages = 0;
    const pending: Promise<void>[] = [];
    const { result, log } = await run(a, await localFile('h.bin', randomBytes(4000)), {
      fragmentSize: 1000,
      backoffMaxMs: 50,
      onProgress: (p) => {
        if (p.acked === 0 || p.acked === p.total || outages >= 3) return;
        outages++;
        pending.push(node.down().then(() => new Promise((r) => setTimeout(r, 800))).then(() => node.up()));
      },
    });
    await Promise.all(pending);
    expect(outages).toBe(3);
    expect(result).toMatchObject({ closed: true, restarts: 0 });
    expect(sequence(a)).toEqual(['Ping', 'Create-Session']);
    expect(node.requests.filter((r) => type(r) === 'Fragment').map((r) => r.get('Content-Range'))).toEqual([
      'bytes 0-999/4000', 'bytes 1000-1999/4000', 'bytes 2000-2999/4000', 'bytes 3000-3999/4000',
    ]);
    // A Ping opens each new connection to the node: the first, and one after each outage.
    expect(node.requests.filter((r) => type(r) === 'Ping')).toHaveLength(4);
    expect(log.filter((l) => l.includes('falling back'))).toEqual([]);
  });
});
