import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { command as analyze } from '../../src/commands/analyze.js';
import { fromHar, parseHarTime, type HarImport } from '../../src/har/index.js';
import { GUID } from '../sessions/factory.js';
import { writeHar, type CapturedExchange, type Dialect } from './dialects.js';
import { captureOutput, type CommandOutput } from '../command-output.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'bitsgate-har-in-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const SID = '{0f2c9a61-8c1e-4bde-9d43-1a2b3c4d5e6f}';
const HOST = 'files.example.com';
const URL_ = `http://${HOST}/uploads/report.zip`;
const T0 = Date.UTC(2026, 10, 29, 16, 35, 32, 123);

function bits(type: string, extra: Array<[string, string]> = []): Array<[string, string]> {
  return [['Host', HOST], ['User-Agent', 'Microsoft BITS/7.8'], ['BITS-Packet-Type', type], ...extra];
}
const ack = (extra: Array<[string, string]> = []): Array<[string, string]> => [['BITS-Packet-Type', 'Ack'], ...extra, ['Content-Length', '0']];
const frag = (start: number, end: number, total: number): Array<[string, string]> =>
  bits('Fragment', [['BITS-Session-Id', SID], ['Content-Name', 'report.zip'], ['Content-Range', `bytes ${start}-${end}/${total}`], ['Content-Length', String(end - start + 1)]]);

/**
 * A Windows client whose Ack for the first fragment is lost: the connection is reset, the
 * client reconnects and sends the fragment again, which the server acknowledges. It then
 * closes after 20 of 30 bytes: an invalid close. Around it, ordinary browser traffic.
 * The file order is not the start order: the tool wrote the retry after the next fragment.
 */
function lostAckCapture(): CapturedExchange[] {
  let t = T0;
  const at = (ms: number) => (t += ms);
  const page: CapturedExchange = { conn: 49990, method: 'GET', url: `http://${HOST}/`, requestHeaders: [['Host', HOST], ['Accept', 'text/html']], response: { status: 200, headers: [['Content-Type', 'text/html'], ['Content-Length', '512']], body: 512 }, start: at(0), ms: 3 };
  const create: CapturedExchange = { conn: 50001, method: 'BITS_POST', url: URL_, requestHeaders: bits('Create-Session', [['BITS-Supported-Protocols', GUID], ['Content-Length', '0']]), response: { status: 201, headers: ack([['BITS-Protocol', GUID], ['BITS-Session-Id', SID]]) }, start: at(10), ms: 2 };
  const lost: CapturedExchange = { conn: 50001, method: 'BITS_POST', url: URL_, requestHeaders: frag(0, 9, 30), requestBody: 10, start: at(10), ms: 30_000 };
  const retry: CapturedExchange = { conn: 50002, method: 'BITS_POST', url: URL_, requestHeaders: frag(0, 9, 30), requestBody: 10, response: { status: 200, headers: ack([['BITS-Session-Id', SID], ['BITS-Received-Content-Range', '10']]) }, start: at(31_000), ms: 2 };
  const second: CapturedExchange = { conn: 50002, method: 'BITS_POST', url: URL_, requestHeaders: frag(10, 19, 30), requestBody: 10, response: { status: 200, headers: ack([['BITS-Session-Id', SID], ['BITS-Received-Content-Range', '20']]) }, start: at(10), ms: 2 };
  const close: CapturedExchange = { conn: 50002, method: 'BITS_POST', url: URL_, requestHeaders: bits('Close-Session', [['BITS-Session-Id', SID], ['Content-Length', '0']]), response: { status: 200, headers: ack([['BITS-Session-Id', SID]]) }, start: at(10), ms: 2 };
  const favicon: CapturedExchange = { conn: 49990, method: 'GET', url: `http://${HOST}/favicon.ico`, requestHeaders: [['Host', HOST]], response: { status: 404, headers: [['Content-Length', '0']] }, start: at(10), ms: 1 };
  return [page, create, lost, second, retry, close, favicon];
}

function imported(dialect: Dialect): HarImport {
  const r = fromHar(JSON.parse(JSON.stringify(writeHar(dialect, lostAckCapture()))));
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

function runAnalyze(file: string, json = true): Promise<CommandOutput> {
  return captureOutput(() => analyze.run(json ? [file, '--json'] : [file]));
}

describe('HAR in', () => {
  it('parses Fiddler\'s local-offset, 7-decimal dates and the other tools\' forms', () => {
    expect(parseHarTime('2026-11-29T17:35:32.1234567+01:00')).toBe(Date.UTC(2026, 10, 29, 16, 35, 32, 123) + 0.4567);
    expect(parseHarTime('2026-11-29T16:35:32.123Z')).toBe(T0);
    expect(parseHarTime('2026-11-29T16:35:32.123+00:00')).toBe(T0);
    expect(parseHarTime('2026-11-29T16:35:32Z')).toBe(T0 - 123);
    expect(parseHarTime('yesterday')).toBeNaN();
  });

  it.each<[Dialect, number[]]>([
    ['fiddler', [50001, 50002, 50002, 50002]],
    ['chrome', [50001, 50001, 50002, 50002, 50002]],
    ['mitmproxy', [0, 0, 0, 0, 0]],
  ])('reads %s: BITS entries in start order, connections from "connection", other entries counted and skipped', (dialect, conns) => {
    const r = imported(dialect);
    expect(r.skipped).toBe(2);
    expect(r.malformed).toEqual([]);
    expect(r.observations.map((o) => o.connectionId)).toEqual(conns);
    const ranges = r.observations.map((o) => o.requestHeaders.find(([k]) => k === 'Content-Range')?.[1] ?? o.requestHeaders.find(([k]) => k === 'BITS-Packet-Type')![1]);
    expect(ranges).toEqual(dialect === 'fiddler'
      ? ['Create-Session', 'bytes 0-9/30', 'bytes 10-19/30', 'Close-Session']
      : ['Create-Session', 'bytes 0-9/30', 'bytes 0-9/30', 'bytes 10-19/30', 'Close-Session']);
    expect(r.observations.map((o) => o.id)).toEqual(r.observations.map((_, i) => i + 1));
    expect(r.observations.every((o) => o.method === 'BITS_POST' && o.url === '/uploads/report.zip')).toBe(true);
    expect(r.observations.filter((o) => o.requestBodyBytes === 10)).toHaveLength(dialect === 'fiddler' ? 2 : 3);
    if (dialect !== 'fiddler') {
      const lost = r.observations[1]!;
      expect(lost.status).toBeUndefined();
      expect(lost.error).toBe(dialect === 'chrome' ? 'no response in capture: net::ERR_CONNECTION_RESET' : 'no response in capture');
    }
  });

  it.each<Dialect>(['fiddler', 'chrome', 'mitmproxy'])('bitsgate analyze capture.har (%s) reports the retried session and the invalid close', async (dialect) => {
    const file = join(dir, `${dialect}.har`);
    writeFileSync(file, JSON.stringify(writeHar(dialect, lostAckCapture()), null, 2));
    const { code, out, err } = await runAnalyze(file);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({
      sessions: [{ id: SID, state: 'closed', url: '/uploads/report.zip', totalLength: 30, ackedBytes: 20, violations: ['close-incomplete'] }],
      violations: [{ code: 'close-incomplete', severity: 'error', sessionId: SID, message: 'Close-Session after 20 of 30 bytes acknowledged' }],
    });
  });

  it('detects HAR by content whatever the extension, and says what it read', async () => {
    const file = join(dir, 'capture.json');
    writeFileSync(file, JSON.stringify(writeHar('chrome', lostAckCapture())));
    const { code, out } = await runAnalyze(file, false);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe('HAR from WebInspector 537.36: 7 entries, 5 BITS exchanges analyzed, 2 other entries skipped');
    expect(out).toContain('close-incomplete (error) x1');
  });

  it('honours _bits only from bitsgate: another tool\'s _bits is ignored', () => {
    const har = writeHar('mitmproxy', lostAckCapture()) as { log: { entries: Array<Record<string, unknown>> } };
    for (const e of har.log.entries) e._bits = { exchange: 777, target: '/elsewhere', connectionId: 5 };
    const r = fromHar(har);
    expect(r.ok && r.value.observations.map((o) => [o.id, o.url, o.connectionId])[0]).toEqual([1, '/uploads/report.zip', 0]);
  });

  it('keeps the fetch of an announced reply URL (upload-reply), skips other GETs', () => {
    const cap = lostAckCapture();
    cap[4]!.response!.headers.splice(1, 0, ['BITS-Reply-URL', '/reply/abc?k=1']);
    cap.push({ conn: 50002, method: 'GET', url: `http://${HOST}/reply/abc?k=1`, requestHeaders: [['Host', HOST]], response: { status: 200, headers: [['Content-Length', '64']], body: 64 }, start: T0 + 31_035, ms: 1 });
    const r = fromHar(writeHar('chrome', cap));
    expect(r.ok && r.value.observations.map((o) => `${o.method} ${o.url}`).at(-2)).toBe('GET /reply/abc?k=1');
    expect(r.ok && r.value.skipped).toBe(2);
  });

  it('reports unreadable entries with their index and refuses what is not HAR', async () => {
    const har = writeHar('fiddler', lostAckCapture()) as { log: { entries: unknown[] } };
    har.log.entries.splice(1, 0, { request: { url: 'x' }, startedDateTime: 'now' }, 42);
    const file = join(dir, 'broken.har');
    writeFileSync(file, JSON.stringify(har));
    const { code, err, out } = await runAnalyze(file);
    expect(code).toBe(0);
    expect(err).toBe(`bitsgate analyze: ${file}: entry 1: skipped: request has no method\nbitsgate analyze: ${file}: entry 2: skipped: entry is not an object\n`);
    expect(JSON.parse(out).sessions).toHaveLength(1);

    const notHar = join(dir, 'not.har');
    writeFileSync(notHar, '{"logs": []}');
    expect(await runAnalyze(notHar)).toEqual({ code: 2, out: '', err: `bitsgate analyze: ${notHar}: not a HAR file: no "log" object\n` });
  });
});

describe('HAR in: HTTP/2 captures (Chrome)', () => {
  it('drops pseudo-headers, takes Host from :authority and decodes lower-case BITS names', () => {
    const entry = {
      startedDateTime: new Date(T0).toISOString(), time: 2, cache: {}, timings: { send: 0, wait: 1, receive: 1 }, connection: '31',
      request: { method: 'BITS_POST', url: URL_, httpVersion: 'h2', cookies: [], queryString: [], headersSize: -1, bodySize: 0,
        headers: [{ name: ':method', value: 'BITS_POST' }, { name: ':authority', value: HOST }, { name: ':path', value: '/uploads/report.zip' },
          { name: 'bits-packet-type', value: 'Ping' }] },
      response: { status: 200, statusText: '', httpVersion: 'h2', cookies: [], headers: [{ name: 'bits-packet-type', value: 'Ack' }],
        content: { size: 0, mimeType: 'x-unknown' }, redirectURL: '', headersSize: -1, bodySize: 0 },
    };
    const r = fromHar({ log: { version: '1.2', creator: { name: 'WebInspector', version: '537.36' }, entries: [entry] } });
    expect(r.ok && r.value.observations[0]).toMatchObject({
      connectionId: 31, httpVersion: '2', url: '/uploads/report.zip', status: 200,
      requestHeaders: [['Host', HOST], ['bits-packet-type', 'Ping']],
    });
  });
});
