import { describe, expect, it } from 'vitest';
import type { ExchangeStart, Observation } from '../../src/observation.js';
import { SessionTracker, type BitsEvent } from '../../src/sessions/index.js';
import { codes, Wire } from './factory.js';

const URL_ = '/up/f.bin';
const SID = '{0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}';

function feed(t: SessionTracker, obs: Observation[]): BitsEvent[] {
  return obs.flatMap((o) => t.observe(o));
}
const startOf = (o: Observation): ExchangeStart => {
  const { id, connectionId, client, method, url, httpVersion, requestHeaders, startedAt } = o;
  return { id, connectionId, client, method, url, httpVersion, requestHeaders, startedAt };
};

describe('SessionTracker lifecycle', () => {
  it('follows a well-formed upload: open -> uploaded -> closed, with events in order and increasing seq', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const [create, f1, f2, close] = w.upload(URL_, SID, 5242880, 2621440);
    const e1 = t.observe(create!);
    expect(e1.map((e) => e.type)).toEqual(['session-created', 'packet']);
    const created = e1[0]!.type === 'session-created' ? e1[0]!.session : undefined;
    expect(created).toMatchObject({ id: SID, state: 'open', url: URL_, host: 'files.example.com', client: '127.0.0.1', totalLength: null, ackedBytes: 0, adopted: false });
    const e2 = t.observe(f1!);
    expect(e2.map((e) => e.type)).toEqual(['packet', 'session-updated']);
    expect(t.session(SID)).toMatchObject({ state: 'open', ackedBytes: 2621440, totalLength: 5242880, relayedBytes: 2621440, fragments: 1, contentName: 'f.bin' });
    t.observe(f2!);
    expect(t.session(SID)?.state).toBe('uploaded');
    const e4 = t.observe(close!);
    expect(e4.map((e) => e.type)).toEqual(['packet', 'session-ended']);
    expect(t.session(SID)).toMatchObject({ state: 'closed', ackedBytes: 5242880, violations: [] });
    const all = [...e1, ...e2];
    for (let i = 1; i < all.length; i++) expect(all[i]!.seq).toBe(all[i - 1]!.seq + 1);
    expect(t.seq).toBe(e4[e4.length - 1]!.seq);
    expect(t.session(SID)!.timeline.map((p) => p.kind)).toEqual(['create-session', 'fragment', 'fragment', 'close-session']);
    expect(t.stats()).toMatchObject({ observations: 4, bytesRelayed: 5242880, sessionsByState: { closed: 1, open: 0 } });
  });

  it('event snapshots do not change when the session does', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const created = t.observe(w.create(URL_, SID))[0]!;
    t.observe(w.fragment(URL_, SID, 0, 9, 10));
    expect(created.type === 'session-created' && created.session.ackedBytes).toBe(0);
  });

  it('marks a failed Create-Session (Ack 4xx with an id) as failed', () => {
    const t = new SessionTracker();
    const ev = t.observe(new Wire().create(URL_, SID, { status: 403 }));
    expect(ev.map((e) => e.type)).toEqual(['session-created', 'packet', 'violation', 'session-ended']);
    expect(t.session(SID)?.state).toBe('failed');
  });

  it('keeps a session open on 413 (send smaller fragments, §6) and takes the smaller fragments that follow', () => {
    const w = new Wire();
    const t = new SessionTracker();
    t.observe(w.create(URL_, SID));
    const ev = t.observe(w.fragment(URL_, SID, 0, 9, 10, { status: 413, received: null, extraResponse: [['BITS-Error-Code', '0x80200020']] }));
    expect(t.session(SID)).toMatchObject({ state: 'open', errorCodes: ['0x80200020 BG_E_TOO_LARGE'] });
    expect(ev.some((e) => e.type === 'session-ended')).toBe(false);
    const v = ev.find((e) => e.type === 'violation');
    expect(v?.type === 'violation' && [v.violation.code, v.violation.severity]).toEqual(['server-error', 'info']);
    const rest = feed(t, [w.fragment(URL_, SID, 0, 4, 10), w.fragment(URL_, SID, 5, 9, 10), w.close(URL_, SID)]);
    expect(codes(rest)).toEqual([]);
    expect(t.session(SID)?.state).toBe('closed');
  });

  it('resynchronises on 416 with the offset the server names', () => {
    const w = new Wire();
    const t = new SessionTracker();
    t.observe(w.create(URL_, SID));
    t.observe(w.fragment(URL_, SID, 0, 99, 300));
    const ev = t.observe(w.fragment(URL_, SID, 200, 299, 300, { status: 416, received: 100 }));
    const gap = ev.find((e) => e.type === 'violation');
    expect(gap?.type === 'violation' && [gap.violation.code, gap.violation.severity]).toEqual(['fragment-gap', 'warning']);
    expect(codes(ev)).toEqual(['fragment-gap']);
    expect(t.session(SID)).toMatchObject({ state: 'open', ackedBytes: 100 });
  });

  it('counts retransmitted bytes', () => {
    const w = new Wire();
    const t = new SessionTracker();
    feed(t, [w.create(URL_, SID), w.fragment(URL_, SID, 0, 99, 200), w.fragment(URL_, SID, 0, 99, 200), w.fragment(URL_, SID, 50, 199, 200)]);
    expect(t.session(SID)).toMatchObject({ retransmittedBytes: 150, relayedBytes: 350, fragments: 3, state: 'uploaded' });
  });

  it('adopts a session first seen mid-upload and marks it', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const ev = t.observe(w.fragment(URL_, SID, 100, 199, 300, { received: 200 }));
    expect(ev.map((e) => e.type)).toEqual(['session-created', 'packet', 'violation']);
    expect(t.session(SID)).toMatchObject({ adopted: true, state: 'open', ackedBytes: 200, totalLength: 300, violations: [] }); // info: emitted, not held
    const v = ev[2]!;
    expect(v.type === 'violation' && v.violation.severity).toBe('info');
    const closeEv = t.observe(w.close(URL_, SID));
    expect(codes(closeEv)).toEqual(['close-incomplete']);
  });

  it('tracks the reply GET (absolute reply URL: path+query and host compared)', () => {
    const w = new Wire();
    const t = new SessionTracker();
    feed(t, [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10, { replyUrl: 'http://files.example.com/replies/7?k=1' })]);
    expect(t.session(SID)?.replyUrl).toBe('http://files.example.com/replies/7?k=1');
    // Same path, other query: not the reply.
    t.observe(w.get('/replies/7?k=2'));
    // A 404 for the right URL: not fetched.
    const miss = t.observe(w.get('/replies/7?k=1', { status: 404 }));
    expect(miss.map((e) => e.type)).toEqual(['packet']);
    expect(t.session(SID)?.replyFetched).toBe(false);
    // Right path, wrong host.
    t.observe(w.get('/replies/7?k=1', { requestHeaders: [['Host', 'evil.example']] }));
    expect(t.session(SID)?.replyFetched).toBe(false);
    const hit = t.observe(w.get('/replies/7?k=1'));
    expect(hit.map((e) => e.type)).toEqual(['packet', 'session-updated']);
    expect(hit[0]!.type === 'packet' && hit[0]!.sessionId).toBe(SID);
    expect(t.session(SID)?.replyFetched).toBe(true);
    expect(codes(t.observe(w.close(URL_, SID)))).toEqual([]);
  });

  it('flags close-while-busy live through begin(), once', () => {
    const w = new Wire();
    const t = new SessionTracker();
    feed(t, [w.create(URL_, SID, { startedAt: 0, endedAt: 1 }), w.fragment(URL_, SID, 0, 4, 10, { startedAt: 2, endedAt: 3 })]);
    const frag = w.fragment(URL_, SID, 5, 9, 10, { startedAt: 10, endedAt: 50 });
    const close = w.close(URL_, SID, { startedAt: 20, endedAt: 30 });
    expect(t.begin(startOf(frag))).toEqual([]);
    expect(t.session(SID)?.outstanding).toEqual({ exchange: frag.id, kind: 'fragment', since: 10 });
    const live = t.begin(startOf(close));
    expect(codes(live)).toEqual(['close-while-busy']);
    expect(live[0]!.type === 'violation' && live[0]!.violation.exchanges).toEqual([close.id, frag.id]);
    expect(codes(t.observe(close))).toEqual(['close-incomplete']);
    expect(codes(t.observe(frag))).toEqual(['fragment-after-end']);
    expect(t.stats().violationsByCode['close-while-busy']).toBe(1);
  });

  it('tracks several requests in flight and names all of them in close-while-busy', () => {
    const w = new Wire();
    const t = new SessionTracker();
    t.observe(w.create(URL_, SID, { startedAt: 0, endedAt: 1 }));
    const f1 = w.fragment(URL_, SID, 0, 4, 10, { startedAt: 10, endedAt: 60 });
    const f2 = w.fragment(URL_, SID, 5, 9, 10, { startedAt: 12, endedAt: 70 });
    const close = w.close(URL_, SID, { startedAt: 20, endedAt: 30 });
    t.begin(startOf(f1));
    t.begin(startOf(f2));
    expect(t.session(SID)?.outstanding).toEqual({ exchange: f1.id, kind: 'fragment', since: 10 });
    const live = t.begin(startOf(close));
    expect(live[0]!.type === 'violation' && live[0]!.violation.exchanges).toEqual([close.id, f1.id, f2.id]);
    t.observe(f1);
    expect(t.session(SID)?.outstanding).toEqual({ exchange: f2.id, kind: 'fragment', since: 12 });
    t.observe(close);
    t.observe(f2);
    expect(t.session(SID)?.outstanding).toBeUndefined();
    expect(t.stats().violationsByCode['close-while-busy']).toBe(1);
  });

  it('flags close-while-busy without begin() when the close is observed first', () => {
    const w = new Wire();
    const t = new SessionTracker();
    t.observe(w.create(URL_, SID, { startedAt: 0, endedAt: 1 }));
    const frag = w.fragment(URL_, SID, 0, 9, 10, { startedAt: 10, endedAt: 50 });
    const close = w.close(URL_, SID, { startedAt: 20, endedAt: 30 });
    // The fragment is still in flight: its total is not known yet, so incompleteness is not provable;
    // what is known is that nothing was acknowledged.
    expect(codes(t.observe(close))).toEqual(['close-no-data']);
    const late = t.observe(frag);
    expect(codes(late)).toEqual(['fragment-after-end', 'close-while-busy']);
  });

  it('does not flag a Close that starts the millisecond the last Ack ended', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const ev = feed(t, [w.create(URL_, SID, { startedAt: 0, endedAt: 1 }), w.fragment(URL_, SID, 0, 9, 10, { startedAt: 1, endedAt: 5 }), w.close(URL_, SID, { startedAt: 5, endedAt: 6 })]);
    expect(codes(ev)).toEqual([]);
  });

  it('expires idle sessions and reports a later Close', () => {
    const w = new Wire();
    const t = new SessionTracker({ sessionTimeoutMs: 1000 });
    feed(t, [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 20)]);
    const last = t.session(SID)!.lastSeen;
    expect(t.expire(last + 1000)).toEqual([]);
    const ev = t.expire(last + 1001);
    expect(ev.map((e) => e.type)).toEqual(['session-ended']);
    expect(ev[0]!.type === 'session-ended' && ev[0]!.session.state).toBe('expired');
    expect(t.expire(last + 5000)).toEqual([]);
    expect(codes(t.observe(w.close(URL_, SID, { startedAt: last + 2000 })))).toEqual(['close-after-expiry', 'close-incomplete']);
  });

  it('evicts the least recently active session beyond maxSessions and says so', () => {
    const w = new Wire();
    const t = new SessionTracker({ maxSessions: 2 });
    t.observe(w.create(URL_, 'a'));
    t.observe(w.create(URL_, 'b'));
    t.observe(w.fragment(URL_, 'a', 0, 0, 2));
    const ev = t.observe(w.create(URL_, 'c'));
    expect(ev.map((e) => e.type)).toEqual(['session-evicted', 'session-created', 'packet']);
    expect(ev[0]!.type === 'session-evicted' && [ev[0]!.session.id, ev[0]!.session.state, ev[0]!.reason]).toEqual(['b', 'evicted', 'capacity']);
    expect(t.sessions().map((s) => s.id).sort()).toEqual(['a', 'c']);
    expect(t.stats().sessionsByState).toMatchObject({ open: 2, evicted: 1 });
  });

  it('bounds the timeline and the recent violations', () => {
    const w = new Wire();
    const t = new SessionTracker({ timelineLimit: 3, maxRecentViolations: 2 });
    t.observe(w.create(URL_, SID));
    for (let i = 0; i < 5; i++) t.observe(w.fragment(URL_, SID, 0, 0, 10)); // 4 overlaps after the first
    const d = t.session(SID)!;
    expect(d.timeline).toHaveLength(3);
    expect(d.timeline[2]!.exchange).toBe(6);
    const recent = t.recentViolations();
    expect(recent).toHaveLength(2);
    expect(recent[0]!.seq).toBeGreaterThan(recent[1]!.seq);
    expect(recent[0]!.exchanges).toEqual([6]);
  });

  it('does not emit session-updated for a no-op, and ignores NTLM challenge rounds', () => {
    const w = new Wire();
    const t = new SessionTracker();
    feed(t, [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 20)]);
    const challenge = t.observe(w.exchange('BITS_POST', URL_, [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', SID]], 401, [['WWW-Authenticate', 'NTLM']]));
    expect(challenge.map((e) => e.type)).toEqual(['packet']);
    expect(t.session(SID)?.state).toBe('open');
  });

  it('emits a packet event without session for unrelated traffic and Pings', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const ev = [...t.observe(w.get('/index.html')), ...t.observe(w.ping())];
    expect(ev.map((e) => e.type)).toEqual(['packet', 'packet']);
    expect(ev.every((e) => e.type === 'packet' && e.sessionId === undefined)).toBe(true);
    expect(ev[1]!.type === 'packet' && ev[1]!.packet.kind).toBe('ping');
  });

  it('keeps raw headers for the most recent maxRetainedHeaders entries, and always for Create-Session', () => {
    const w = new Wire();
    const t = new SessionTracker({ maxRetainedHeaders: 2 });
    const ev = feed(t, [w.create(URL_, SID), w.fragment(URL_, SID, 0, 2, 10), w.fragment(URL_, SID, 3, 5, 10), w.fragment(URL_, SID, 6, 9, 10)]);
    const [create, f1, f2, f3] = t.session(SID)!.timeline;
    expect(create!.headersDropped).toBeUndefined();
    expect(create!.responseHeaders).toContainEqual(['BITS-Session-Id', SID]);
    expect(f1).toMatchObject({ kind: 'fragment', headersDropped: true, requestHeaders: [], responseHeaders: [], range: { start: 0, end: 2, total: 10 }, ackedOffset: 3 });
    expect(f2!.headersDropped).toBeUndefined();
    expect(f2!.requestHeaders).toContainEqual(['Content-Range', 'bytes 3-5/10']);
    expect(f3!.responseHeaders).toContainEqual(['BITS-Received-Content-Range', '10']);
    // The packet event of f1 is the same record: its headers went to the sinks when it was emitted.
    expect(ev.filter((e) => e.type === 'packet')).toHaveLength(4);
  });

  it('with maxRetainedHeaders 0 keeps no headers in the timeline but still sends them with the packet event', () => {
    const w = new Wire();
    const t = new SessionTracker({ maxRetainedHeaders: 0 });
    const ev = t.observe(w.create(URL_, SID));
    const packet = ev.find((e) => e.type === 'packet');
    expect(packet?.type === 'packet' && packet.packet.requestHeaders.length).toBeGreaterThan(0);
    expect(t.session(SID)!.timeline[0]).toMatchObject({ headersDropped: true, requestHeaders: [], status: 201 });
  });

  it('does not treat an NTLM-challenged Close-Session as a Close still in flight', () => {
    const w = new Wire();
    const t = new SessionTracker();
    feed(t, [w.create(URL_, SID), w.fragment(URL_, SID, 0, 9, 10)]);
    const challenged = w.exchange('BITS_POST', URL_, [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', SID]], 401, [['WWW-Authenticate', 'NTLM']]);
    const retried = w.close(URL_, SID);
    const events = [...t.begin(startOf(challenged)), ...t.observe(challenged), ...t.begin(startOf(retried)), ...t.observe(retried)];
    expect(codes(events)).toEqual([]);
    expect(t.session(SID)?.state).toBe('closed');
  });

  it('flags an Ack acknowledging more than the total length', () => {
    const w = new Wire();
    const t = new SessionTracker();
    t.observe(w.create(URL_, SID));
    const ev = t.observe(w.fragment(URL_, SID, 0, 9, 10, { received: 11 }));
    expect(codes(ev)).toEqual(['packet-bad-header']);
  });

  it('holds a session closing after a 5xx Close (the client retries) but fails it on BG_E_SESSION_NOT_FOUND', () => {
    const w = new Wire();
    const t = new SessionTracker();
    feed(t, [w.create(URL_, 'a'), w.fragment(URL_, 'a', 0, 9, 10), w.close(URL_, 'a', { status: 503 })]);
    expect(t.session('a')?.state).toBe('closing');
    feed(t, [w.create(URL_, 'b'), w.fragment(URL_, 'b', 0, 9, 10), w.close(URL_, 'b', { status: 500, errorCode: '0x8020001F' })]);
    expect(t.session('b')?.state).toBe('failed');
  });

  it('shows a Fragment whose upstream closed without answering as upstream-closed on the timeline, session unchanged', () => {
    const w = new Wire();
    const t = new SessionTracker();
    feed(t, [w.create(URL_, SID), w.fragment(URL_, SID, 0, 4, 10)]);
    // What the gateway observes when it mirrors the upstream's close (issue 15 part 10).
    const lost = w.fragment(URL_, SID, 5, 9, 10, { error: 'upstream-closed' });
    delete lost.status;
    delete lost.responseHeaders;
    delete lost.respondedAt;
    delete lost.responder;
    const ev = t.observe(lost);
    expect(codes(ev)).toEqual([]);
    const timeline = t.session(SID)!.timeline;
    expect(timeline[2]).toMatchObject({ kind: 'fragment', error: 'upstream-closed' });
    expect(timeline[2]!.status).toBeUndefined();
    expect(t.session(SID)).toMatchObject({ state: 'open', ackedBytes: 5 });
    // The client resends on a new connection: the session goes on as if nothing happened.
    feed(t, [w.fragment(URL_, SID, 5, 9, 10), w.close(URL_, SID)]);
    expect(t.session(SID)).toMatchObject({ state: 'closed', ackedBytes: 10, violations: [] });
  });

  it('rejects nonsense options', () => {
    expect(() => new SessionTracker({ maxSessions: 0 })).toThrow(RangeError);
    expect(() => new SessionTracker({ sessionTimeoutMs: -1 })).toThrow(RangeError);
  });
});
