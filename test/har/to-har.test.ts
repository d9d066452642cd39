import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { command as exportCommand } from '../../src/commands/export.js';
import { routeApi } from '../../src/dashboard/api-routes.js';
import { startDashboard } from '../../src/dashboard/server.js';
import { EventBus } from '../../src/event-bus.js';
import { BODY_COMMENT, toHar, type HarFile } from '../../src/har/index.js';
import { SessionTracker } from '../../src/sessions/index.js';
import { Wire } from '../sessions/factory.js';
import { harProblems } from './har-schema.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'bitsgate-har-out-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** A good upload on connection 1, then an upload closed early whose Close comes on connection 2. */
function traffic() {
  const w = new Wire();
  const good = w.upload('/up/f.bin', '{good}', 20, 10);
  const early = [w.create('/up/g.bin', '{bad}'), w.fragment('/up/g.bin', '{bad}', 0, 9, 30, { respondedAt: undefined })];
  const close = w.close('/up/g.bin', '{bad}', { connectionId: 2 });
  return [...good, ...early, close];
}

function recordingFile(name: string): string {
  const file = join(dir, name);
  const lines = [JSON.stringify({ type: 'meta', format: 'bitsgate-observations', version: 1 })];
  for (const o of traffic()) lines.push(JSON.stringify({ type: 'observation', ...o }));
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function run(args: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => { err += String(c); return true; });
  const code = await exportCommand.run(args);
  vi.restoreAllMocks();
  return { code, err };
}

describe('HAR out', () => {
  it('writes one valid HAR 1.2 log with BITS_POST, wire-order headers, sizes, timings and _bits, and no bodies', () => {
    const obs = traffic();
    const har = toHar(obs, { version: '9.9.9' });
    expect(harProblems(har)).toEqual([]);
    expect(har.log.version).toBe('1.2');
    expect(har.log.creator).toEqual({ name: 'bitsgate', version: '9.9.9' });
    expect(har.log.comment).toBe(BODY_COMMENT);
    expect(har.log.entries).toHaveLength(obs.length);
    const frag = har.log.entries[1]!;
    expect(frag.request.method).toBe('BITS_POST');
    expect(frag.request.url).toBe('http://files.example.com/up/f.bin');
    expect(frag.request.headers.map((h) => [h.name, h.value])).toEqual(obs[1]!.requestHeaders);
    expect(frag.response.headers.map((h) => [h.name, h.value])).toEqual(obs[1]!.responseHeaders);
    expect(frag.request.bodySize).toBe(10);
    expect(frag.request.postData).toBeUndefined();
    expect(frag.response.content.text).toBeUndefined();
    expect(frag.startedDateTime).toBe(new Date(obs[1]!.startedAt).toISOString());
    expect(frag.timings).toEqual({ blocked: -1, dns: -1, connect: -1, send: 0, wait: 1, receive: 0, ssl: -1 });
    expect(frag.connection).toBe('1');
    expect(frag._bits!.packet).toEqual({ kind: 'fragment', sessionId: '{good}', range: { start: 0, end: 9, total: 20 }, ackedOffset: 10 });
    // Request line + headers + CRLFs, as written.
    const head = `BITS_POST /up/f.bin HTTP/1.1\r\n${obs[1]!.requestHeaders.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
    expect(frag.request.headersSize).toBe(Buffer.byteLength(head));
    expect(har.log.entries.at(-1)!.connection).toBe('2');
    expect(har.log.entries.at(-1)!._bits!.packet.kind).toBe('close-session');
  });

  it('stays valid for an exchange without a response and for a hostile Host header', () => {
    const w = new Wire();
    const lost = w.fragment('/up/x.bin', '{x}', 0, 9, 20);
    delete lost.status;
    delete lost.responseHeaders;
    delete lost.respondedAt;
    lost.error = 'client-aborted';
    const evil = w.ping('/up/x.bin', { requestHeaders: [['Host', 'a b/<script>'], ['BITS-Packet-Type', 'Ping']] });
    const har = toHar([lost, evil], { version: '1' });
    expect(harProblems(har)).toEqual([]);
    expect(har.log.entries[0]!.response.status).toBe(0);
    expect(har.log.entries[0]!.comment).toBe('exchange failed: client-aborted');
    expect(har.log.entries[1]!.request.url).toBe('http://unknown-host.invalid/up/x.bin');
    expect(har.log.entries[1]!._bits!.target).toBe('/up/x.bin');
  });

  it('the schema check rejects what HAR forbids (guards the validator itself)', () => {
    const har = toHar(traffic(), { version: '1' }) as unknown as { log: { entries: Array<Record<string, unknown>> } };
    delete har.log.entries[0]!.cache;
    (har.log.entries[1]!.timings as Record<string, unknown>).wait = null;
    (har.log.entries[2]!.timings as Record<string, unknown>).receive = -1;
    expect(harProblems(har)).toEqual(expect.arrayContaining([
      "/log/entries/0 must have required property 'cache'",
      '/log/entries/1/timings/wait must be number',
      '/log/entries/2/timings/receive must be >= 0',
    ]));
  });

  it('bitsgate export FILE.ndjson --har OUT.har writes the recording; --session keeps one session', async () => {
    const file = recordingFile('rec.ndjson');
    const out = join(dir, 'all.har');
    const all = await run([file, '--har', out]);
    expect(all).toEqual({ code: 0, err: `bitsgate export: wrote 7 entries to ${out}\n` });
    const har = JSON.parse(readFileSync(out, 'utf8')) as HarFile;
    expect(harProblems(har)).toEqual([]);
    expect(har.log.entries.map((e) => e._bits!.exchange)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(har.log.comment).toBe(`Exported by bitsgate export: recording ${file}. ${BODY_COMMENT}`);

    const one = join(dir, 'bad.har');
    expect((await run([file, '--har', one, '--session', '{bad}'])).code).toBe(0);
    const bad = JSON.parse(readFileSync(one, 'utf8')) as HarFile;
    expect(harProblems(bad)).toEqual([]);
    expect(bad.log.entries.map((e) => e._bits!.packet.kind)).toEqual(['create-session', 'fragment', 'close-session']);
    expect(bad.log.entries.map((e) => e.connection)).toEqual(['1', '1', '2']);

    expect(await run([file, '--har', one, '--session', '{nope}'])).toEqual({ code: 1, err: `bitsgate export: no exchanges of session {nope} in ${file}\n` });
    expect((await run([join(dir, 'missing.ndjson'), '--har', one])).code).toBe(2);
    await expect(exportCommand.run([file])).rejects.toThrow('missing --har OUT.har');
  });

  it('GET /api/sessions/:id/har returns the session as one valid HAR log', () => {
    const tracker = new SessionTracker();
    for (const o of traffic()) tracker.observe(o);
    const res = routeApi(`/api/sessions/${encodeURIComponent('{bad}')}/har`, { source: tracker });
    expect(res!.status).toBe(200);
    const har = res!.body as HarFile;
    expect(harProblems(har)).toEqual([]);
    expect(har.log.entries.map((e) => e._bits!.packet.kind)).toEqual(['create-session', 'fragment', 'close-session']);
    expect(har.log.entries[2]!.request.headers.map((h) => h.name)).toEqual(['Host', 'BITS-Packet-Type', 'BITS-Session-Id', 'Content-Length']);
    expect(routeApi('/api/sessions/%7Bnope%7D/har', { source: tracker })!.status).toBe(404);
    // The plain detail route is unchanged.
    expect((routeApi('/api/sessions/%7Bbad%7D', { source: tracker })!.body as { id: string }).id).toBe('{bad}');
  });

  it('the HAR route demands the dashboard token like every API route', async () => {
    const tracker = new SessionTracker();
    for (const o of traffic()) tracker.observe(o);
    const d = await startDashboard({ listen: { host: '127.0.0.1', port: 0 }, source: tracker, bus: new EventBus(), token: 'har-token-0123456789abcdef', hub: { heartbeatMs: 0 } });
    try {
      const get = (headers: Record<string, string>) => new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: d.port, path: '/api/sessions/%7Bgood%7D/har', headers: { Host: `127.0.0.1:${d.port}`, ...headers } }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end();
      });
      expect((await get({})).status).toBe(401);
      const ok = await get({ Authorization: 'Bearer har-token-0123456789abcdef' });
      expect(ok.status).toBe(200);
      expect(harProblems(JSON.parse(ok.body))).toEqual([]);
      expect(JSON.parse(ok.body).log.entries).toHaveLength(4);
    } finally {
      await d.close();
    }
  });
});
