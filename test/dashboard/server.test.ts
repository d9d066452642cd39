import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startDashboard, resolveToken, type DashboardHandle } from '../../src/dashboard/server.js';
import { FakeSource, packet, summary, violation } from './fake-source.js';
import { loopbackRequest, type Reply } from '../loopback-http.js';
import { openEvents } from './events-client.js';

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return loopbackRequest(port, method, path, headers);
}

/** Opens /events; resolves with the socket and the first message, or rejects with the HTTP status. */
async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 10));
  }
}

let handles: DashboardHandle[] = [];
let sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets) s.terminate();
  for (const h of handles) await h.close();
  handles = [];
  sockets = [];
});

async function start(token?: string): Promise<{ src: FakeSource; d: DashboardHandle }> {
  const src = new FakeSource();
  const d = await startDashboard({ listen: { host: '127.0.0.1', port: 0 }, source: src, bus: src.bus, token, hub: { heartbeatMs: 0 } });
  handles.push(d);
  return { src, d };
}

describe('dashboard HTTP API', () => {
  it('serves sessions, one session with its timeline, violations newest first, and stats', async () => {
    const { src, d } = await start();
    src.emit({ type: 'session-created', session: summary('{A}', { contentName: 'a.bin' }) });
    src.emit({ type: 'packet', sessionId: '{A}', packet: packet('fragment', { range: { start: 0, end: 9, total: 20 } }) });
    src.emit({ type: 'violation', violation: violation('fragment-gap', '{A}') });
    src.emit({ type: 'violation', violation: violation('close-incomplete', '{A}') });

    const list = await get(d.port, '/api/sessions');
    expect(list.status).toBe(200);
    expect(list.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(list.body).map((s: { id: string }) => s.id)).toEqual(['{A}']);

    const one = await get(d.port, '/api/sessions/' + encodeURIComponent('{A}'));
    expect(one.status).toBe(200);
    expect(JSON.parse(one.body).timeline[0].range).toEqual({ start: 0, end: 9, total: 20 });

    const missing = await get(d.port, '/api/sessions/nope');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ error: 'unknown session' });

    const v = JSON.parse((await get(d.port, '/api/violations')).body);
    expect(v.map((x: { code: string; seq: number }) => [x.code, x.seq])).toEqual([['close-incomplete', 4], ['fragment-gap', 3]]);

    const stats = JSON.parse((await get(d.port, '/api/stats')).body);
    expect(stats).toMatchObject({ seq: 4, sessionsByState: { open: 1 }, dashboard: { clients: 0 } });
  });

  it('answers /metrics in Prometheus text with bitsgate_* series', async () => {
    const { src, d } = await start();
    src.emit({ type: 'session-created', session: summary('A') });
    src.emit({ type: 'violation', violation: violation('close-incomplete', 'A') });
    const m = await get(d.port, '/metrics');
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toMatch(/^text\/plain/);
    expect(m.body).toContain('bitsgate_sessions{state="open"} 1');
    expect(m.body).toContain('bitsgate_violations_total{code="close-incomplete",severity="error"} 1');
    expect(m.body).toContain('bitsgate_dashboard_clients 0');
  });

  it('sends a strict CSP, nosniff and frame-ancestors none on every response', async () => {
    const { d } = await start();
    for (const path of ['/', '/api/sessions', '/nope']) {
      const r = await get(d.port, path);
      expect(r.headers['content-security-policy']).toContain("default-src 'self'");
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(r.headers['content-security-policy']).not.toContain('unsafe-inline');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('is read-only: other methods get 405 with Allow', async () => {
    const { d } = await start();
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await get(d.port, '/api/sessions', {}, method);
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
    }
    // A BITS client pointed at the dashboard by mistake: a literal BITS_POST on a raw socket.
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(d.port, '127.0.0.1', () => {
        s.write(`BITS_POST /up/f.bin HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n`);
      });
      let text = '';
      s.on('data', (c) => (text += c));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(raw).toContain('Allow: GET, HEAD\r\n');
  });

  it('refuses a Host not on the allow-list (DNS rebinding)', async () => {
    const { d } = await start();
    expect((await get(d.port, '/api/sessions', { Host: `evil.example:${d.port}` })).status).toBe(403);
    expect((await get(d.port, '/api/sessions', { Host: `127.0.0.1:1` })).status).toBe(403);
    expect((await get(d.port, '/api/sessions', { Host: `localhost:${d.port}` })).status).toBe(200);
  });

  it('serves only the files of the built UI: no path leaves web/dist', async () => {
    const { d } = await start();
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/src/dashboard/server.ts', '//etc/passwd']) {
      const r = await get(d.port, path);
      expect([400, 404]).toContain(r.status);
      expect(r.body).not.toContain('"name": "bitsgate"');
    }
  });

  it('refuses cross-site API reads', async () => {
    const { d } = await start();
    expect((await get(d.port, '/api/sessions', { 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403);
    expect((await get(d.port, '/api/sessions', { 'Sec-Fetch-Site': 'same-origin' })).status).toBe(200);
  });
});

describe('dashboard token', () => {
  it('requires a token beyond loopback and generates one when none is given', () => {
    expect(resolveToken('127.0.0.1', undefined)).toEqual({ generated: false });
    expect(resolveToken('::1', undefined)).toEqual({ generated: false });
    const g = resolveToken('0.0.0.0', undefined);
    expect(g.generated).toBe(true);
    expect(g.token!.length).toBeGreaterThanOrEqual(32);
    expect(resolveToken('10.0.0.5', 'my-secret-token')).toEqual({ token: 'my-secret-token', generated: false });
    expect(() => resolveToken('10.0.0.5', 'short')).toThrow(/at least 8/);
  });

  it('accepts Bearer, trades ?token= for an HttpOnly SameSite=Strict cookie, refuses the rest', async () => {
    const token = 's3cret-token-value';
    const { d } = await start(token);
    expect(d.url).toBe(`http://127.0.0.1:${d.port}/?token=${token}`);
    expect((await get(d.port, '/api/sessions')).status).toBe(401);
    expect((await get(d.port, '/metrics')).status).toBe(401);
    expect((await get(d.port, '/api/sessions', { Authorization: 'Bearer wrong-token-value' })).status).toBe(401);
    expect((await get(d.port, '/api/sessions', { Authorization: `Bearer ${token}` })).status).toBe(200);

    const login = await get(d.port, `/?token=${token}&x=1`);
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/?x=1');
    const cookie = (login.headers['set-cookie'] as string[])[0]!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const pair = cookie.split(';')[0]!;
    expect((await get(d.port, '/api/stats', { Cookie: pair })).status).toBe(200);
    expect((await get(d.port, '/api/stats', { Cookie: 'bitsgate_dashboard=nope' })).status).toBe(401);
    expect((await get(d.port, `/?token=wrong`)).status).toBe(401);
    // An absolute-form target whose path starts with // must not redirect off-site.
    const odd = await get(d.port, `http://127.0.0.1:${d.port}//evil.example/?token=${token}`);
    expect(odd.status).toBe(303);
    expect(odd.headers.location).toBe('/evil.example/');
  });
});

describe('dashboard WebSocket /events', () => {
  it('sends a snapshot on connect and then events in order', async () => {
    const { src, d } = await start();
    src.emit({ type: 'session-created', session: summary('A') });
    const { ws, messages } = await openEvents(d.port);
    sockets.push(ws);
    expect(messages[0]).toMatchObject({ type: 'snapshot', seq: 1, reason: 'connect' });
    src.emit({ type: 'session-updated', session: summary('A', { ackedBytes: 5 }) });
    src.emit({ type: 'violation', violation: violation('close-incomplete', 'A') });
    await waitFor(() => messages.length >= 2);
    const events = messages.flatMap((m) => (m.type === 'events' ? m.events : []));
    expect(events.map((e) => e.seq)).toEqual([2, 3]);
    expect(d.hub.clientCount).toBe(1);
  });

  it('resumes with ?since without a snapshot and without duplicates', async () => {
    const { src, d } = await start();
    for (let i = 0; i < 5; i++) src.emit({ type: 'packet', packet: packet('ping') });
    const { ws, messages } = await openEvents(d.port, '?since=3');
    sockets.push(ws);
    expect(messages[0]).toMatchObject({ type: 'events' });
    expect(messages[0]!.type === 'events' && messages[0]!.events.map((e) => e.seq)).toEqual([4, 5]);
  });

  it('terminates a client that stops answering pings (heartbeat)', async () => {
    const src = new FakeSource();
    const d = await startDashboard({ listen: { host: '127.0.0.1', port: 0 }, source: src, bus: src.bus, hub: { heartbeatMs: 100 } });
    handles.push(d);
    const alive = await openEvents(d.port);
    const dead = await openEvents(d.port);
    sockets.push(alive.ws, dead.ws);
    // A frozen browser: its socket is no longer read, so no pong comes back.
    (dead.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await waitFor(() => d.hub.clientCount === 1, 3000);
    expect(d.hub.counts().terminated).toBe(1);
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('keeps a stalled real socket bounded: resync for it, every event for the healthy one', async () => {
    const src = new FakeSource();
    const d = await startDashboard({
      listen: { host: '127.0.0.1', port: 0 }, source: src, bus: src.bus,
      hub: { heartbeatMs: 0, maxQueuedEvents: 1000, highWaterBytes: 64 * 1024 },
    });
    handles.push(d);
    const stalled = await openEvents(d.port);
    const healthy = await openEvents(d.port);
    sockets.push(stalled.ws, healthy.ws);
    const socket = (stalled.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const big = 'x'.repeat(2000); // fills the kernel buffers quickly
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 500; i++) src.emit({ type: 'packet', packet: packet('fragment', { url: `/u/${big}` }) });
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => healthy.messages.flatMap((m) => (m.type === 'events' ? m.events : [])).length === 20_000, 10_000);
    expect(d.hub.counts().resyncs).toBeGreaterThanOrEqual(1);
    socket.resume();
    await waitFor(() => stalled.messages.some((m) => m.type === 'snapshot' && m.reason === 'resync'), 10_000);
    const resync = stalled.messages.findIndex((m) => m.type === 'resync');
    expect(resync).toBeGreaterThan(0);
    expect(stalled.messages[resync + 1]).toMatchObject({ type: 'snapshot', reason: 'resync', seq: 20_000 });
  });

  it('refuses a foreign Origin (cross-site WebSocket hijacking)', async () => {
    const { d } = await start();
    await expect(openEvents(d.port, '', { Origin: 'http://evil.example' })).rejects.toThrow('HTTP 403');
    await expect(openEvents(d.port, '', { Origin: `http://localhost:${d.port + 1}` })).rejects.toThrow('HTTP 403');
    // Same host and port, other scheme: another origin (a page served over TLS elsewhere).
    await expect(openEvents(d.port, '', { Origin: `https://127.0.0.1:${d.port}` })).rejects.toThrow('HTTP 403');
  });

  it('refuses WebSocket clients beyond maxClients with 503', async () => {
    const src = new FakeSource();
    const d = await startDashboard({ listen: { host: '127.0.0.1', port: 0 }, source: src, bus: src.bus, maxClients: 2, hub: { heartbeatMs: 0 } });
    handles.push(d);
    for (let i = 0; i < 2; i++) sockets.push((await openEvents(d.port)).ws);
    await expect(openEvents(d.port)).rejects.toThrow('HTTP 503');
  });

  it('refuses a foreign Host on the upgrade', async () => {
    const { d } = await start();
    await expect(openEvents(d.port, '', { Host: `rebind.example:${d.port}`, Origin: `http://rebind.example:${d.port}` }))
      .rejects.toThrow('HTTP 403');
  });

  it('requires the token on the upgrade when one is set, even with a good Origin', async () => {
    const token = 'ws-token-123456';
    const { d } = await start(token);
    await expect(openEvents(d.port)).rejects.toThrow('HTTP 401');
    await expect(openEvents(d.port, '?token=bad-token-1234')).rejects.toThrow('HTTP 401');
    const ok = await openEvents(d.port, '', { Cookie: `bitsgate_dashboard=${token}` });
    sockets.push(ok.ws);
    expect(ok.messages[0]!.type).toBe('snapshot');
  });
});
