/**
 * The verdict corpus, end to end: raw sockets writing the literal BITS_POST, through the
 * whole app (gateway, tracker, sinks, dashboard, recorder) to a scripted IIS-like upstream.
 * Every legitimate session must end in the right state with nothing above `info`; every
 * invalid one must show exactly its code above `info`. Lost Acks are made by a relay that
 * reads the gateway's answer and closes the client side without passing it on. At the end,
 * `/api/violations` and `analyze` of the recording must give the very same verdicts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { replay, type SessionState, type Violation } from '../../src/sessions/index.js';
import { startRelay, type Relay } from '../client/test-peers.js';
import { RawClient, type ParsedResponse, headerOf, waitUntil } from '../gateway/helpers.js';
import { GUID, HOST_ID, startScriptedBits, type ScriptedBits } from './scripted-server.js';

let dir: string;
let upstream: ScriptedBits;
let app: App;
let relay: Relay;
/** The relay drops the next answer it reads from the gateway (and closes both sides). */
let dropNextAnswer = false;
const live: Violation[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitsgate-verdicts-'));
  upstream = await startScriptedBits();
  app = await startApp({
    logger: pino({ level: 'silent' }),
    upstream: upstream.url,
    listen: { host: '127.0.0.1', port: 0 },
    dashboard: { host: '127.0.0.1', port: 0 },
    record: join(dir, 'corpus.ndjson'),
  });
  app.bus.subscribe((e) => {
    if (e.type === 'violation') live.push(e.violation);
  });
  relay = await startRelay(app.gateway.address.port, ({ dir: d }) => {
    if (d !== 'down' || !dropNextAnswer) return false;
    dropNextAnswer = false;
    return true;
  });
});

afterAll(async () => {
  await relay?.close();
  await app?.close();
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

/** One client: a connection at a time, reopened when closed (as BITS does after a break). */
class BitsClient {
  private conn: RawClient | undefined;
  private answered = 0;
  constructor(private readonly port: number, public host = 'files.example.com') {}

  async reconnect(): Promise<void> {
    this.conn?.destroy();
    this.conn = await RawClient.connect(this.port);
    this.answered = 0;
  }

  /** Sends one packet and returns its answer; `lost`: the relay drops the answer and the connection. */
  async send(path: string, fields: Array<[string, string]>, body = '', lost = false): Promise<ParsedResponse | undefined> {
    if (!this.conn || this.conn.closed) await this.reconnect();
    let head = `BITS_POST ${path} HTTP/1.1\r\nHost: ${this.host}\r\n`;
    for (const [n, v] of fields) head += `${n}: ${v}\r\n`;
    if (lost) dropNextAnswer = true;
    const seen = this.conn!.raw.length;
    this.conn!.write(head + '\r\n' + body);
    if (lost) {
      // The answer never reached the client: the connection closed with no byte of it.
      expect(await this.conn!.waitClosed()).toBe(true);
      expect(this.conn!.raw.length).toBe(seen);
      return undefined;
    }
    const all = await this.conn!.responsesAfter(++this.answered);
    return all[this.answered - 1];
  }

  ping(path: string) {
    return this.send(path, [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]);
  }
  async create(path: string, type = 'Create-Session'): Promise<string> {
    const r = await this.send(path, [['BITS-Packet-Type', type], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']]);
    expect(r!.status).toBe(201);
    return headerOf(r!, 'BITS-Session-Id')!;
  }
  fragment(path: string, sid: string, start: number, end: number, total: number, o: { lost?: boolean; type?: string; unit?: string } = {}) {
    const body = 'x'.repeat(end - start + 1);
    return this.send(path, [
      ['BITS-Packet-Type', o.type ?? 'Fragment'], ['BITS-Session-Id', sid], ['Content-Name', 'f.bin'],
      ['Content-Range', `${o.unit ?? 'bytes'} ${start}-${end}/${total}`], ['Content-Length', String(body.length)],
    ], body, o.lost);
  }
  close(path: string, sid: string, o: { lost?: boolean; type?: string } = {}) {
    return this.send(path, [['BITS-Packet-Type', o.type ?? 'Close-Session'], ['BITS-Session-Id', sid], ['Content-Length', '0']], '', o.lost);
  }
  cancel(path: string, sid: string) {
    return this.send(path, [['BITS-Packet-Type', 'Cancel-Session'], ['BITS-Session-Id', sid], ['Content-Length', '0']]);
  }
  async get(path: string): Promise<ParsedResponse> {
    if (!this.conn || this.conn.closed) await this.reconnect();
    this.conn!.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}\r\n\r\n`);
    const all = await this.conn!.responsesAfter(++this.answered);
    return all[this.answered - 1]!;
  }
  destroy(): void {
    this.conn?.destroy();
  }
}

const gatewayClient = () => new BitsClient(app.gateway.address.port);
const relayedClient = () => new BitsClient(relay.port);

const sameId = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();
const verdictsOf = (list: Violation[], sid: string) => list.filter((v) => sameId(v.sessionId, sid));
const aboveInfo = (list: Violation[]) => list.filter((v) => v.severity !== 'info').map((v) => v.code);

async function settled(sid: string, state: SessionState): Promise<void> {
  await waitUntil(() => {
    const s = app.tracker.session(sid);
    return s?.state === state && s.outstanding === undefined;
  }, 5_000, `session ${sid} ${state}`);
}

/** Scenario results, checked again against /api/violations and analyze at the end. */
const judged: string[] = [];

async function upload(c: BitsClient, path: string, total = 10, chunk = 5): Promise<string> {
  await c.ping(path);
  const sid = await c.create(path);
  for (let s = 0; s < total; s += chunk) {
    const r = await c.fragment(path, sid, s, Math.min(total, s + chunk) - 1, total);
    expect([r!.status, headerOf(r!, 'BITS-Received-Content-Range')]).toEqual([200, String(Math.min(total, s + chunk))]);
  }
  return sid;
}

describe('legitimate sessions: right end state, nothing above info', () => {
  async function expectClean(sid: string, state: SessionState): Promise<void> {
    await settled(sid, state);
    judged.push(sid);
    expect(aboveInfo(verdictsOf(live, sid))).toEqual([]);
    // Nothing held against the session either: the dashboard shows no violation badge.
    expect(app.tracker.session(sid)?.violations).toEqual([]);
  }

  it('a plain upload: Ping, Create, two fragments, Close', async () => {
    const c = gatewayClient();
    const sid = await upload(c, '/up/plain.bin');
    expect((await c.close('/up/plain.bin', sid))!.status).toBe(200);
    await expectClean(sid, 'closed');
    c.destroy();
  });

  for (const variant of ['released200', 'up'] as const) {
    it(`a Close-Session whose Ack was lost, resent after a reconnect and a Ping, answered ${variant === 'up' ? '500 + 0x8020001F' : '200'}`, async () => {
      const c = relayedClient();
      const path = `/${variant}/lost-close.bin`;
      const sid = await upload(c, path);
      await c.close(path, sid, { lost: true });
      await c.reconnect();
      await c.ping(path);
      const again = await c.close(path, sid);
      expect([again!.status, headerOf(again!, 'BITS-Error-Code')]).toEqual(variant === 'up' ? [500, '0x8020001F'] : [200, undefined]);
      await expectClean(sid, 'closed');
      expect(verdictsOf(live, sid).map((v) => [v.code, v.severity])).toEqual([['close-after-end', 'info']]);
      // The gateway saw the connection that carried the Ack close (a connection-closed record).
      expect(verdictsOf(live, sid)[0]!.message).toMatch(/^Close-Session resent on connection \d+ after connection \d+ closed right after its 2xx Close Ack \(the Ack was lost; server answered /);
      c.destroy();
    });
  }

  for (const variant of ['up', 'dup416'] as const) {
    it(`a Fragment whose Ack was lost, resent after a reconnect, answered ${variant === 'up' ? '200' : '416 with the range'}`, async () => {
      const c = relayedClient();
      const path = `/${variant}/lost-fragment.bin`;
      const sid = await c.create(path);
      await c.fragment(path, sid, 0, 4, 10, { lost: true });
      await c.reconnect();
      await c.ping(path);
      const again = await c.fragment(path, sid, 0, 4, 10);
      expect([again!.status, headerOf(again!, 'BITS-Received-Content-Range')]).toEqual([variant === 'up' ? 200 : 416, '5']);
      expect((await c.fragment(path, sid, 5, 9, 10))!.status).toBe(200);
      expect((await c.close(path, sid))!.status).toBe(200);
      await expectClean(sid, 'closed');
      c.destroy();
    });
  }

  it('a Fragment stuck on a connection that broke silently (no FIN), resent on a new connection, then Close: no close-while-busy', async () => {
    const c = gatewayClient();
    const path = '/up/silent-break.bin';
    const sid = await c.create(path);
    await c.fragment(path, sid, 0, 4, 10);
    // Connection X: the head and 2 of 5 body bytes arrive, then nothing (the path broke; no FIN).
    const x = await RawClient.connect(app.gateway.address.port);
    x.write(`BITS_POST ${path} HTTP/1.1\r\nHost: files.example.com\r\nBITS-Packet-Type: Fragment\r\nBITS-Session-Id: ${sid}\r\n` +
      'Content-Name: f.bin\r\nContent-Range: bytes 5-9/10\r\nContent-Length: 5\r\n\r\nxx');
    await waitUntil(() => app.tracker.session(sid)?.outstanding?.kind === 'fragment', 5_000, 'the fragment on X in flight');
    // The client reconnects (Y) and resends it, then closes; X is still held open by the gateway.
    await c.reconnect();
    const again = await c.fragment(path, sid, 5, 9, 10);
    expect([again!.status, headerOf(again!, 'BITS-Received-Content-Range')]).toEqual([200, '10']);
    expect((await c.close(path, sid))!.status).toBe(200);
    await waitUntil(() => app.tracker.session(sid)?.state === 'closed', 5_000, 'closed');
    expect(app.tracker.session(sid)?.outstanding?.kind).toBe('fragment');
    // X finally dies: the gateway ends the stale exchange with no answer, long after the Close.
    x.destroy();
    await expectClean(sid, 'closed');
    expect(verdictsOf(live, sid).map((v) => [v.code, v.severity])).toEqual([['fragment-after-end', 'info']]);
    c.destroy();
  });

  it('413 on a fragment, then smaller fragments', async () => {
    const c = gatewayClient();
    const path = '/shrink/big.bin';
    const sid = await c.create(path);
    expect((await c.fragment(path, sid, 0, 9, 10))!.status).toBe(413);
    for (const [s, e] of [[0, 3], [4, 7], [8, 9]] as const) expect((await c.fragment(path, sid, s, e, 10))!.status).toBe(200);
    expect((await c.close(path, sid))!.status).toBe(200);
    await expectClean(sid, 'closed');
    c.destroy();
  });

  it('a server that echoes BITS-Session-Id lower-cased', async () => {
    const c = gatewayClient();
    const sid = await upload(c, '/lower/f.bin');
    const r = await c.close('/lower/f.bin', sid);
    expect(headerOf(r!, 'BITS-Session-Id')).toBe(sid.toLowerCase());
    expect(headerOf(r!, 'BITS-Session-Id')).not.toBe(sid);
    await expectClean(sid, 'closed');
    c.destroy();
  });

  it('a Close answered 503, resent and committed: the 5xx is a server-error warning, no close-rejected', async () => {
    const c = gatewayClient();
    const path = '/close5xx/f.bin';
    const sid = await upload(c, path);
    expect((await c.close(path, sid))!.status).toBe(503);
    expect((await c.close(path, sid))!.status).toBe(200);
    await settled(sid, 'closed');
    judged.push(sid);
    expect(verdictsOf(live, sid).map((v) => [v.code, v.severity])).toEqual([['server-error', 'warning']]);
    c.destroy();
  });

  it('a Close answered 503 that committed, resent and answered 500 + 0x8020001F: unverifiable (warning), not an error', async () => {
    const c = gatewayClient();
    const path = '/commit503/f.bin';
    const sid = await upload(c, path);
    expect((await c.close(path, sid))!.status).toBe(503);
    const again = await c.close(path, sid);
    expect([again!.status, headerOf(again!, 'BITS-Error-Code')]).toEqual([500, '0x8020001F']);
    await settled(sid, 'failed');
    judged.push(sid);
    expect(verdictsOf(live, sid).map((v) => [v.code, v.severity])).toEqual([['server-error', 'warning'], ['close-rejected', 'warning']]);
    expect(verdictsOf(live, sid)[1]!.message).toBe('Close-Session answered 500 0x8020001F BG_E_SESSION_NOT_FOUND after an earlier Close got 503: ' +
      'the server had released the session, so the first Close may have committed it; unverifiable');
    c.destroy();
  });

  it('a new connection and a Ping per packet, lower-case packet types, the Bytes unit', async () => {
    const path = '/up/per-packet.bin';
    const c = gatewayClient();
    await c.reconnect();
    await c.ping(path);
    const sid = await c.create(path, 'create-session');
    for (const [s, e] of [[0, 4], [5, 9]] as const) {
      await c.reconnect();
      await c.ping(path);
      expect((await c.fragment(path, sid, s, e, 10, { type: 'fragment', unit: 'Bytes' }))!.status).toBe(200);
    }
    await c.reconnect();
    await c.ping(path);
    expect((await c.close(path, sid, { type: 'close-session' }))!.status).toBe(200);
    await expectClean(sid, 'closed');
    c.destroy();
  });

  it('Cancel-Session in the middle of an upload', async () => {
    const c = gatewayClient();
    const path = '/up/cancel.bin';
    const sid = await c.create(path);
    await c.fragment(path, sid, 0, 4, 10);
    expect((await c.cancel(path, sid))!.status).toBe(200);
    await expectClean(sid, 'cancelled');
    c.destroy();
  });

  it('upload-reply: the reply fetched before Close', async () => {
    const c = gatewayClient();
    const sid = await upload(c, '/reply/r.bin');
    expect(app.tracker.session(sid)?.replyUrl).toBe(`/replies/${sid}`);
    expect((await c.get(`/replies/${sid}`)).body.toString()).toBe('reply');
    expect((await c.close('/reply/r.bin', sid))!.status).toBe(200);
    await expectClean(sid, 'closed');
    c.destroy();
  });

  it('upload-reply with the reply on a host that does not reach the gateway: unverifiable, info', async () => {
    const c = gatewayClient();
    const sid = await upload(c, '/reply-static/r.bin');
    await c.close('/reply-static/r.bin', sid);
    await expectClean(sid, 'closed');
    expect(verdictsOf(live, sid).map((v) => [v.code, v.severity])).toEqual([['close-before-reply', 'info']]);
    c.destroy();
  });

  it('BITS-Host-Id honoured: every later packet to the named host', async () => {
    const c = gatewayClient();
    const path = '/hostid/f.bin';
    const sid = await c.create(path);
    c.host = HOST_ID;
    await c.ping(path);
    await c.fragment(path, sid, 0, 9, 10);
    await c.close(path, sid);
    await expectClean(sid, 'closed');
    c.destroy();
  });

  it('a session created before a gateway restart is adopted at info when the server acknowledges it', async () => {
    const sid = upstream.createDirect();
    const c = gatewayClient();
    expect((await c.fragment('/up/adopted.bin', sid, 0, 4, 10))!.status).toBe(200);
    await c.fragment('/up/adopted.bin', sid, 5, 9, 10);
    await c.close('/up/adopted.bin', sid);
    await expectClean(sid, 'closed');
    expect(app.tracker.session(sid)?.adopted).toBe(true);
    expect(verdictsOf(live, sid).map((v) => [v.code, v.severity])).toEqual([['fragment-unknown-session', 'info']]);
    const closedDirect = upstream.createDirect();
    await c.close('/up/adopted2.bin', closedDirect);
    await expectClean(closedDirect, 'closed');
    expect(verdictsOf(live, closedDirect).map((v) => [v.code, v.severity])).toEqual([['close-unknown-session', 'info']]);
    c.destroy();
  });

  it('a request the listener refuses as malformed HTTP is reported once as refused, never judged as a BITS packet', async () => {
    const before = live.length;
    const packets: number[] = [];
    const off = app.bus.subscribe((e) => {
      if (e.type === 'packet' && e.packet.status === 400) packets.push(e.packet.exchange);
    });
    const c = await RawClient.connect(app.gateway.address.port);
    c.write('BITS_POST /up/x.bin HTTP/1.1\r\nHost: a\r\nBITS-Packet-Type: Fragment\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n');
    const [r] = await c.responsesAfter(1);
    expect(r!.status).toBe(400);
    await waitUntil(() => packets.length === 1, 5_000, 'the refused request observed');
    off();
    expect(live.slice(before)).toEqual([]);
    c.destroy();
  });
});

describe('invalid sessions: exactly their code above info', () => {
  async function expectOnly(sid: string, state: SessionState, code: string): Promise<void> {
    await settled(sid, state);
    judged.push(sid);
    expect(aboveInfo(verdictsOf(live, sid))).toEqual([code]);
  }

  it('close-incomplete', async () => {
    const c = gatewayClient();
    const sid = await c.create('/up/inc.bin');
    await c.fragment('/up/inc.bin', sid, 0, 4, 10);
    await c.close('/up/inc.bin', sid);
    await expectOnly(sid, 'closed', 'close-incomplete');
    c.destroy();
  });

  it('close-before-reply', async () => {
    const c = gatewayClient();
    const sid = await upload(c, '/reply/skip.bin');
    await c.close('/reply/skip.bin', sid);
    await expectOnly(sid, 'closed', 'close-before-reply');
    c.destroy();
  });

  it('close-unknown-session (unknown to the server too: warning)', async () => {
    const c = gatewayClient();
    const sid = '{DEADBEEF-0000-4000-8000-000000000001}';
    const r = await c.close('/up/none.bin', sid);
    expect([r!.status, headerOf(r!, 'BITS-Error-Code')]).toEqual([500, '0x8020001F']);
    await waitUntil(() => verdictsOf(live, sid).length > 0);
    judged.push(sid);
    expect(verdictsOf(live, sid).map((v) => [v.code, v.severity])).toEqual([['close-unknown-session', 'warning']]);
    c.destroy();
  });

  it('close-after-end on the same connection', async () => {
    const c = gatewayClient();
    const sid = await upload(c, '/up/twice.bin');
    expect((await c.close('/up/twice.bin', sid))!.status).toBe(200);
    expect((await c.close('/up/twice.bin', sid))!.status).toBe(500);
    await waitUntil(() => verdictsOf(live, sid).length > 0);
    await expectOnly(sid, 'closed', 'close-after-end');
    c.destroy();
  });

  it('close-while-busy across two connections', async () => {
    const a = gatewayClient();
    const b = gatewayClient();
    const path = '/busy/f.bin';
    const sid = await a.create(path);
    const inFlight = a.fragment(path, sid, 0, 9, 10);
    await waitUntil(() => app.tracker.session(sid)?.outstanding !== undefined, 5_000, 'fragment in flight');
    const closed = b.close(path, sid);
    expect((await inFlight)!.status).toBe(200);
    expect((await closed)!.status).toBe(200);
    await expectOnly(sid, 'closed', 'close-while-busy');
    a.destroy();
    b.destroy();
  });

  it('fragment-gap (answered 416, then resumed)', async () => {
    const c = gatewayClient();
    const path = '/up/gap.bin';
    const sid = await c.create(path);
    await c.fragment(path, sid, 0, 4, 10);
    const r = await c.fragment(path, sid, 7, 9, 10);
    expect([r!.status, headerOf(r!, 'BITS-Received-Content-Range')]).toEqual([416, '5']);
    await c.fragment(path, sid, 5, 9, 10);
    await c.close(path, sid);
    await expectOnly(sid, 'closed', 'fragment-gap');
    c.destroy();
  });

  it('close-no-data', async () => {
    const c = gatewayClient();
    const sid = await c.create('/up/empty.bin');
    await c.close('/up/empty.bin', sid);
    await expectOnly(sid, 'closed', 'close-no-data');
    c.destroy();
  });

  it('close-other-url: Close-Session to another URL', async () => {
    const c = gatewayClient();
    const sid = await upload(c, '/up/a.bin');
    await c.close('/up/b.bin', sid);
    await expectOnly(sid, 'closed', 'close-other-url');
    c.destroy();
  });

  it('close-wrong-host: Close-Session to the URL host within the BITS-Host-Id fallback timeout', async () => {
    const c = gatewayClient();
    const path = '/hostid/w.bin';
    const sid = await c.create(path);
    c.host = HOST_ID;
    await c.fragment(path, sid, 0, 9, 10);
    c.host = 'files.example.com';
    await c.close(path, sid);
    await expectOnly(sid, 'closed', 'close-wrong-host');
    c.destroy();
  });
});

describe('one verdict everywhere', () => {
  it('/api/violations lists the same verdicts as the event stream', async () => {
    const res = await fetch(new URL('/api/violations', app.dashboard!.url));
    const api = (await res.json()) as Violation[];
    for (const sid of judged) {
      const strip = (l: Violation[]) => l.map(({ code, severity, message, exchanges }) => ({ code, severity, message, exchanges })).sort((x, y) => x.exchanges[0]! - y.exchanges[0]! || x.code.localeCompare(y.code));
      expect(strip(verdictsOf(api, sid)), sid).toEqual(strip(verdictsOf(live, sid)));
    }
  });

  it('analyze on the recording gives the same verdicts as the live gateway', async () => {
    const sessions = new Map(app.tracker.sessions().map((s) => [s.id, s.state]));
    await app.close();
    const lines = (await readFile(join(dir, 'corpus.ndjson'), 'utf8')).split('\n');
    expect(lines.some((l) => l.includes('"type":"connection-closed"'))).toBe(true);
    const result = await replay(lines);
    expect(result.malformed).toEqual([]);
    const strip = (l: Violation[]) => l.map(({ code, severity, message, sessionId, exchanges }) => ({ code, severity, message, sessionId, exchanges }));
    expect(judged.length).toBeGreaterThan(20);
    for (const sid of judged) expect(strip(verdictsOf(result.violations, sid)), sid).toEqual(strip(verdictsOf(live, sid)));
    for (const s of result.sessions) expect([s.id, s.state]).toEqual([s.id, sessions.get(s.id)]);
  });
});
