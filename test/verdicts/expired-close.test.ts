/**
 * Session expiry and Close-Session, end to end: raw sockets writing the literal BITS_POST,
 * through the whole app with a short session timeout, to the scripted IIS-like upstream.
 * - A Close on an expired session that has to be resent (its first answer was a 5xx): one
 *   client mistake, one verdict, close-after-expiry is raised once, not once per resent Close.
 * - A session that expires while `closing` (the table's idle-timeout row): close-rejected, once.
 */
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import type { Violation } from '../../src/sessions/index.js';
import { bitsPost, headerOf, RawClient, waitUntil } from '../gateway/helpers.js';
import { GUID, startScriptedBits, type ScriptedBits } from './scripted-server.js';

let upstream: ScriptedBits;
let app: App;
const live: Violation[] = [];

beforeAll(async () => {
  upstream = await startScriptedBits();
  app = await startApp({
    logger: pino({ level: 'silent' }),
    upstream: upstream.url,
    listen: { host: '127.0.0.1', port: 0 },
    dashboard: false, // never the default port: another gateway may hold it
    tracker: { sessionTimeoutMs: 200 },
    expiryIntervalMs: 20,
  });
  app.bus.subscribe((e) => {
    if (e.type === 'violation') live.push(e.violation);
  });
});

afterAll(async () => {
  await app?.close();
  await upstream?.close();
});

it('raises close-after-expiry once when the Close on an expired session is answered 503 and resent', async () => {
  const c = await RawClient.connect(app.gateway.address.port);
  // commit503: the server answers the first Close 503 and the resent one 500 + 0x8020001F.
  const path = '/commit503/expired.bin';
  c.write(bitsPost(path, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']]));
  const [created] = await c.responsesAfter(1);
  expect(created!.status).toBe(201);
  const sid = headerOf(created!, 'BITS-Session-Id')!;
  c.write(bitsPost(path, [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid], ['Content-Range', 'bytes 0-9/10'], ['Content-Length', '10']], 'x'.repeat(10)));
  expect((await c.responsesAfter(2))[1]!.status).toBe(200);
  await waitUntil(() => app.tracker.session(sid)?.state === 'expired', 5_000, 'the session expired');
  const close = bitsPost(path, [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', sid], ['Content-Length', '0']]);
  c.write(close);
  expect((await c.responsesAfter(3))[2]!.status).toBe(503);
  c.write(close);
  const again = (await c.responsesAfter(4))[3]!;
  expect([again.status, headerOf(again, 'BITS-Error-Code')]).toEqual([500, '0x8020001F']);
  await waitUntil(() => app.tracker.session(sid)?.timeline.length === 4, 5_000, 'both Closes observed');
  const verdicts = live.filter((v) => v.sessionId === sid).map((v) => [v.code, v.severity]);
  expect(verdicts).toEqual([['close-after-expiry', 'warning']]);
  expect(app.tracker.stats().violationsByCode['close-after-expiry']).toBe(1);
  expect(app.tracker.session(sid)?.state).toBe('expired');
  c.destroy();
});

it('raises close-rejected once when a session expires while closing (a Close answered 503, never resent)', async () => {
  const c = await RawClient.connect(app.gateway.address.port);
  // close5xx: the server answers the first Close 503.
  const path = '/close5xx/expires-closing.bin';
  c.write(bitsPost(path, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']]));
  const [created] = await c.responsesAfter(1);
  const sid = headerOf(created!, 'BITS-Session-Id')!;
  c.write(bitsPost(path, [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid], ['Content-Range', 'bytes 0-9/10'], ['Content-Length', '10']], 'x'.repeat(10)));
  await c.responsesAfter(2);
  c.write(bitsPost(path, [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', sid], ['Content-Length', '0']]));
  const answers = await c.responsesAfter(3);
  expect(answers.map((r) => r.status)).toEqual([201, 200, 503]);
  await waitUntil(() => app.tracker.session(sid)?.state === 'expired', 5_000, 'the session expired');
  const verdicts = live.filter((v) => v.sessionId === sid).map((v) => [v.code, v.severity, v.message]);
  expect(verdicts).toEqual([
    ['server-error', 'warning', expect.any(String)],
    ['close-rejected', 'error', 'Close-Session answered 503 and no resent Close was confirmed before the session expired: the commit was never confirmed'],
  ]);
  expect(app.tracker.session(sid)?.violations).toEqual(['server-error', 'close-rejected']);
  c.destroy();
});
