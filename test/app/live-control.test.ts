/**
 * `--control` end to end: the whole app (gateway + dashboard on loopback, startApp) in front
 * of a raw-socket upstream. The security of the write routes, and that a rule added through
 * the API really changes traffic (a literal BITS_POST Fragment) and stops after DELETE.
 */
import { createHash } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startApp, type App } from '../../src/app.js';
import { InjectionRegistry } from '../../src/inject/registry.js';
import { InjectionRuleError, parseInjectionRule } from '../../src/inject/rule-syntax.js';
import type { InjectionsMessage, InjectionView, ServerMessage, SnapshotMessage } from '../../src/dashboard/messages.js';
import { bitsPost, headerOf, RawClient, startUpstream, type TestUpstream, waitUntil } from '../gateway/helpers.js';
import { openEvents as openDashboardEvents } from '../dashboard/events-client.js';
import { loopbackRequest } from '../loopback-http.js';

const CONTROL_TOKEN = 'control-token-for-tests-0123456789';
const SESSION = '{5ee55a1d-0000-4000-8000-00000000c0de}';

const http = loopbackRequest;

function parseError(rule: string): InjectionRuleError {
  try {
    parseInjectionRule(rule);
  } catch (err) {
    if (err instanceof InjectionRuleError) return err;
  }
  throw new Error(`${rule} parses`);
}

let app: App | undefined;
let upstream: TestUpstream | undefined;
const sockets: WebSocket[] = [];
const clients: RawClient[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const c of clients.splice(0)) c.destroy();
  await app?.close();
  await upstream?.close();
  app = undefined;
  upstream = undefined;
});

async function start(opts: { control?: boolean; dashboardToken?: string } = {}): Promise<{ app: App; dash: number; gw: number; up: TestUpstream }> {
  upstream = await startUpstream();
  const registry = opts.control !== false ? new InjectionRegistry() : undefined;
  app = await startApp({
    logger: pino({ level: 'silent' }),
    upstream: upstream.url,
    listen: { host: '127.0.0.1', port: 0 },
    dashboard: { host: '127.0.0.1', port: 0 },
    forwardedHeaders: false,
    ...(opts.dashboardToken && { dashboardToken: opts.dashboardToken }),
    ...(registry && { injections: registry, control: { token: CONTROL_TOKEN } }),
  });
  return { app, dash: app.dashboard!.port, gw: app.gateway.address.port, up: upstream };
}

const bearer = { Authorization: `Bearer ${CONTROL_TOKEN}` };
const json = { 'Content-Type': 'application/json' };
const addBody = (rule: string) => JSON.stringify({ rule });

function fragment(): Buffer {
  return bitsPost('/uploads/f.bin', [
    ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', SESSION],
    ['Content-Range', 'bytes 0-9/20'], ['Content-Length', '10'],
  ], '0123456789');
}

async function openEvents(port: number): Promise<{ ws: WebSocket; messages: ServerMessage[] }> {
  const client = await openDashboardEvents(port);
  sockets.push(client.ws);
  return client;
}

describe('live control is off by default', () => {
  it('without --control, GET, POST and DELETE /api/injections are 404 even with the right token, and the snapshot offers no control', async () => {
    const { dash, app: a } = await start({ control: false });
    const list = await http(dash, 'GET', '/api/injections', bearer);
    const add = await http(dash, 'POST', '/api/injections', { ...bearer, ...json }, addBody('fragment: status=503'));
    const del = await http(dash, 'DELETE', '/api/injections/inj-1', bearer);
    for (const r of [list, add, del]) {
      expect(r.status).toBe(404);
      expect(JSON.parse(r.body)).toEqual({ error: 'no such endpoint' });
    }
    const { messages } = await openEvents(dash);
    expect(messages[0]!.type).toBe('snapshot');
    expect((messages[0] as SnapshotMessage).control).toBeUndefined();
    // Any other write is still refused as before.
    expect((await http(dash, 'POST', '/api/sessions', { ...bearer, ...json }, '{}')).status).toBe(405);
    expect(a.control).toBeUndefined();
    expect(a.injections).toBeUndefined();
  });
});

describe('--control wiring', () => {
  it('edits the gateway\'s own injections: refuses control without a registry there, and control without the dashboard', async () => {
    const registry = new InjectionRegistry();
    const base = { logger: pino({ level: 'silent' }), upstream: new URL('http://127.0.0.1:9'), listen: { host: '127.0.0.1', port: 0 } };
    const dashboard = { host: '127.0.0.1', port: 0 };
    await expect(startApp({ ...base, dashboard, control: { token: CONTROL_TOKEN } }))
      .rejects.toThrow('control: needs an InjectionRegistry as the injections');
    // A policy that is not a registry (check-client's case runner) has no rules to edit.
    await expect(startApp({ ...base, dashboard, injections: { decide: () => undefined }, control: { token: CONTROL_TOKEN } }))
      .rejects.toThrow('control: needs an InjectionRegistry as the injections');
    await expect(startApp({ ...base, dashboard: false, injections: registry, control: { token: CONTROL_TOKEN } }))
      .rejects.toThrow('control: needs the dashboard');
  });
});

describe('--control: who may write', () => {
  it('refuses a write without a token, and a wrong token gets the very same 401', async () => {
    const { dash, app: a } = await start();
    const none = await http(dash, 'POST', '/api/injections', json, addBody('fragment: status=503'));
    const wrong = await http(dash, 'POST', '/api/injections', { ...json, Authorization: `Bearer ${CONTROL_TOKEN.slice(0, -1)}x` }, addBody('fragment: status=503'));
    const wrongLength = await http(dash, 'DELETE', '/api/injections/inj-1', { Authorization: 'Bearer short' });
    expect(none.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(wrongLength.status).toBe(401);
    expect(wrong.body).toBe(none.body);
    expect(wrongLength.body).toBe(none.body);
    expect(wrong.headers['www-authenticate']).toBe(none.headers['www-authenticate']);
    expect(JSON.parse(none.body).error).toMatch(/^Unauthorized: live control needs Authorization: Bearer/);
    expect(a.control!.registry.list()).toEqual([]);
  });

  it('refuses a cross-origin write carrying the right token (403), and a cross-site one', async () => {
    const { dash, app: a } = await start();
    const evil = await http(dash, 'POST', '/api/injections', { ...bearer, ...json, Origin: 'http://evil.example' }, addBody('fragment: status=503'));
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body)).toEqual({ error: 'Forbidden: the Origin is not this dashboard' });
    // Same host, another scheme or port: another origin.
    const otherPort = await http(dash, 'POST', '/api/injections', { ...bearer, ...json, Origin: `http://127.0.0.1:${dash + 1}` }, addBody('fragment: status=503'));
    expect(otherPort.status).toBe(403);
    const del = await http(dash, 'DELETE', '/api/injections/inj-1', { ...bearer, Origin: 'http://evil.example' });
    expect(del.status).toBe(403);
    const site = await http(dash, 'POST', '/api/injections', { ...bearer, ...json, 'Sec-Fetch-Site': 'cross-site' }, addBody('fragment: status=503'));
    expect(site.status).toBe(403);
    expect(a.control!.registry.list()).toEqual([]);
    // Its own origin is fine.
    const own = await http(dash, 'POST', '/api/injections', { ...bearer, ...json, Origin: `http://127.0.0.1:${dash}` }, addBody('fragment: status=503'));
    expect(own.status).toBe(201);
  });

  it('refuses a write carrying only the dashboard\'s cookie or ?token= (no Bearer), even when they are valid for reading', async () => {
    const dashboardToken = 'dashboard-token-for-tests-abcdef';
    const { dash, app: a } = await start({ dashboardToken });
    const login = await http(dash, 'GET', `/api/stats?token=${dashboardToken}`);
    expect(login.status).toBe(200);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect((await http(dash, 'GET', '/api/injections', { Cookie: cookie })).status).toBe(200);
    const viaCookie = await http(dash, 'POST', '/api/injections', { ...json, Cookie: cookie }, addBody('fragment: status=503'));
    const viaQuery = await http(dash, 'POST', `/api/injections?token=${dashboardToken}`, json, addBody('fragment: status=503'));
    // The dashboard token is not the control token, as Bearer either.
    const dashAsBearer = await http(dash, 'POST', '/api/injections', { ...json, Authorization: `Bearer ${dashboardToken}` }, addBody('fragment: status=503'));
    // The control token in a cookie is no credential for a write.
    const controlInCookie = await http(dash, 'POST', '/api/injections', { ...json, Cookie: `bitsgate_dashboard=${CONTROL_TOKEN}` }, addBody('fragment: status=503'));
    for (const r of [viaCookie, viaQuery, dashAsBearer, controlInCookie]) expect(r.status).toBe(401);
    expect(a.control!.registry.list()).toEqual([]);
    // With the Bearer the write goes through even though the dashboard itself wants its token for reads.
    expect((await http(dash, 'POST', '/api/injections', { ...bearer, ...json }, addBody('fragment: status=503'))).status).toBe(201);
  });

  it('refuses a POST that is not application/json (415): a form cannot post a rule', async () => {
    const { dash, app: a } = await start();
    const plain = await http(dash, 'POST', '/api/injections', { ...bearer, 'Content-Type': 'text/plain' }, addBody('fragment: status=503'));
    expect(plain.status).toBe(415);
    const form = await http(dash, 'POST', '/api/injections', { ...bearer, 'Content-Type': 'application/x-www-form-urlencoded' }, 'rule=fragment%3A+status%3D503');
    expect(form.status).toBe(415);
    const none = await http(dash, 'POST', '/api/injections', bearer, addBody('fragment: status=503'));
    expect(none.status).toBe(415);
    expect(a.control!.registry.list()).toEqual([]);
    const withCharset = await http(dash, 'POST', '/api/injections', { ...bearer, 'Content-Type': 'application/json; charset=utf-8' }, addBody('fragment: status=503'));
    expect(withCharset.status).toBe(201);
  });

  it('answers a rule that does not parse with 400, the parser\'s message and its column', async () => {
    const { dash, app: a } = await start();
    const rule = 'fragment: status=999';
    const bad = await http(dash, 'POST', '/api/injections', { ...bearer, ...json }, addBody(rule));
    expect(bad.status).toBe(400);
    const body = JSON.parse(bad.body);
    expect(body.rule).toBe(rule);
    // The parser points at the bad value; the API passes its message and column through.
    expect(Object.keys(body).sort()).toEqual(['column', 'error', 'rule']);
    expect(body.column).toBe(rule.indexOf('999'));
    expect(body.error).toBe(parseError(rule).message);
    expect(body.error).toMatch(new RegExp(`at column ${rule.indexOf('999')}$`));
    expect((await http(dash, 'POST', '/api/injections', { ...bearer, ...json }, '{"rule":')).status).toBe(400);
    expect((await http(dash, 'POST', '/api/injections', { ...bearer, ...json }, '{"rule": 5}')).status).toBe(400);
    expect((await http(dash, 'POST', '/api/injections', { ...bearer, ...json }, JSON.stringify({ rule: 'x'.repeat(5000) }))).status).toBe(413);
    expect(a.control!.registry.list()).toEqual([]);
  });
});

describe('--control: rules change traffic', () => {
  it('adds a rule that answers the next Fragment 503 without forwarding it, lists and broadcasts it, and after DELETE the Fragment reaches the upstream byte for byte', async () => {
    const { dash, gw, up } = await start();
    const { messages } = await openEvents(dash);
    const { messages: other } = await openEvents(dash);
    expect((messages[0] as SnapshotMessage).control).toEqual({ injections: [] });

    const rule = 'fragment: status=503 code=0x80004005';
    const added = await http(dash, 'POST', '/api/injections', { ...bearer, ...json }, addBody(rule));
    expect(added.status).toBe(201);
    const entry = JSON.parse(added.body) as InjectionView;
    expect(entry).toMatchObject({ rule, origin: 'control', fired: 0, spent: false });
    expect(added.headers.location).toBe(`/api/injections/${entry.id}`);
    const listed = JSON.parse((await http(dash, 'GET', '/api/injections')).body) as InjectionView[];
    expect(listed.map((i) => [i.id, i.rule])).toEqual([[entry.id, rule]]);
    // Every open dashboard gets the new list.
    for (const list of [messages, other]) {
      await waitUntil(() => list.some((m) => m.type === 'injections' && m.injections.length === 1 && m.injections[0]!.id === entry.id), 3_000, 'broadcast of the new rule');
    }

    const c1 = await RawClient.connect(gw);
    clients.push(c1);
    c1.write(fragment());
    const [injected] = await c1.responsesAfter(1);
    expect(injected!.status).toBe(503);
    expect(headerOf(injected!, 'BITS-Packet-Type')).toBe('Ack');
    expect(headerOf(injected!, 'BITS-Error-Code')).toBe('0x80004005');
    expect(up.requests).toHaveLength(0);
    await waitUntil(() => messages.some((m) => m.type === 'injections' && m.injections[0]?.fired === 1), 3_000, 'broadcast of the fired count');

    const del = await http(dash, 'DELETE', `/api/injections/${encodeURIComponent(entry.id)}`, bearer);
    expect(del.status).toBe(204);
    expect(del.body).toBe('');
    expect((await http(dash, 'DELETE', `/api/injections/${encodeURIComponent(entry.id)}`, bearer)).status).toBe(404);
    expect(JSON.parse((await http(dash, 'GET', '/api/injections')).body)).toEqual([]);
    await waitUntil(() => (messages.at(-1) as InjectionsMessage).type === 'injections' && (messages.at(-1) as InjectionsMessage).injections.length === 0, 3_000, 'broadcast of the removal');

    const c2 = await RawClient.connect(gw);
    clients.push(c2);
    const bytes = fragment();
    c2.write(bytes);
    const [forwarded] = await c2.responsesAfter(1);
    expect(forwarded!.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    const seen = up.requests[0]!;
    const headEnd = bytes.indexOf('\r\n\r\n') + 4;
    expect(seen.rawHead).toBe(bytes.subarray(0, headEnd).toString('latin1'));
    expect(seen.bodyBytes).toBe(10);
    expect(seen.sha256).toBe(createHash('sha256').update(bytes.subarray(headEnd)).digest('hex'));
  });
});
