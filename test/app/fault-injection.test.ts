import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, startApp } from '../../src/app.js';
import { uploadFile } from '../../src/client/index.js';
import { InjectionRegistry } from '../../src/inject/registry.js';
import { parseInjectionRule } from '../../src/inject/rule-syntax.js';
import type { BitsEvent } from '../../src/sessions/events.js';
import { replay } from '../../src/sessions/replay.js';

// Issue 13, fault injection: our own client, through the gateway with injected faults, recovers
// from each of them, and nothing injected is blamed on the client or the server. One app for
// the file: each case adds its rule (scoped to its own URL) and removes it afterwards.
let dir: string;
let app: App;
const registry = new InjectionRegistry();
const events: BitsEvent[] = [];
const lines: Array<Record<string, unknown>> = [];
const counted = new Map<string, number>();
const payload = Buffer.alloc(100_000);
for (let i = 0; i < payload.length; i++) payload[i] = i % 251;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitsgate-inject-'));
  await writeFile(join(dir, 'payload.bin'), payload);
  const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
  app = await startApp({
    logger: pino({ level: 'info' }, sink), listen: { host: '127.0.0.1', port: 0 }, dashboard: false,
    record: join(dir, 'traffic.ndjson'), injections: registry,
    embedded: { root: join(dir, 'root'), replyMode: 'sha256', replyPrefix: '/reply/' },
  });
  app.bus.subscribe((e) => events.push(e));
});
afterAll(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the real client through injected faults', () => {
  it.each([
    ['a lost Close Ack', 'close: drop-ack times=1', ['drop-ack']],
    ['a lost Fragment Ack', 'fragment#2: drop-ack times=1', ['drop-ack']],
    ['a 416 naming what the server holds', 'fragment#2: status=416 range=server times=1', ['answer']],
    ['a forgotten session (0x8020001F): it starts a new one', 'fragment#2: forget-session times=1', ['forget-session']],
    ['a 503 on Close', 'close: status=503 times=1', ['answer']],
    ['a reset in the middle of a fragment', 'fragment#2: reset-after=50% times=1', ['reset-after']],
  ])('recovers from %s with zero violations, and every fault is marked', async (_what, ruleText, actions) => {
    const name = `f${events.length}.bin`;
    const rule = parseInjectionRule(`${ruleText} url=/uploads/${name}`);
    const { id } = registry.add(rule, 'cli');
    const from = events.length;
    const logFrom = lines.length;
    try {
      const result = await uploadFile({ url: `${app.gateway.url}/uploads/${name}`, file: join(dir, 'payload.bin'), fragmentSize: 30_000, backoffBaseMs: 10, backoffMaxMs: 50, noPing: true });
      expect(result.sessionId).toBeDefined();
    } finally {
      registry.remove(id);
    }
    expect(await readFile(join(dir, 'root', 'uploads', name))).toEqual(payload);
    await new Promise((r) => setTimeout(r, 30));
    const mine = events.slice(from);
    expect(mine.filter((e) => e.type === 'violation' && e.violation.severity !== 'info')).toEqual([]);
    expect(mine.flatMap((e) => (e.type === 'fault-injected' ? [[e.action, e.rule]] : []))).toEqual(actions.map((a) => [a, rule.text]));
    for (const a of actions) counted.set(a, (counted.get(a) ?? 0) + 1);
    const metrics = await app.metrics.registry.metrics();
    for (const [a, n] of counted) expect(metrics).toContain(`bitsgate_injected_faults_total{action="${a}"} ${n}`);
    expect(lines.slice(logFrom).filter((l) => l.msg === 'fault injected').map((l) => [l.level, l.action, l.rule])).toEqual(actions.map((a) => [30, a, rule.text]));
  });

  it('the recording carries every mark, and analyze reaches the same verdict: nothing to blame', async () => {
    await app.close();
    const text = await readFile(join(dir, 'traffic.ndjson'), 'utf8');
    const marks = text.trimEnd().split('\n').flatMap((l) => {
      const o = JSON.parse(l) as { injected?: { action: string } };
      return o.injected ? [o.injected.action] : [];
    });
    expect(marks.sort()).toEqual(['answer', 'answer', 'drop-ack', 'drop-ack', 'forget-session', 'reset-after']);
    const replayed = await replay(text.split('\n'));
    expect(replayed.violations.filter((v) => v.severity !== 'info')).toEqual([]);
    expect(replayed.tracker.stats().violationsByCode).toEqual({});
  });
});

describe('analyze', () => {
  it('says how many exchanges had a fault injected', async () => {
    const { textReport } = await import('../../src/analyze/report.js');
    const obs = (id: number, injected?: object) => JSON.stringify({
      type: 'observation', id, connectionId: 1, client: { address: '127.0.0.1', port: 1 }, method: 'BITS_POST', url: '/u', httpVersion: '1.1',
      requestHeaders: [['BITS-Packet-Type', 'Ping']], startedAt: 1, requestBodyBytes: 0, responseBodyBytes: 0, endedAt: 2, status: 503,
      responseHeaders: [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0']], responder: 'gateway', ...(injected ? { injected } : {}),
    });
    const r = await replay([obs(1, { id: 'inj-1', rule: 'ping: status=503', action: 'answer' }), obs(2, { id: 7, rule: 'x', action: 'answer' })]);
    expect(r.injected).toBe(1);
    expect(textReport(r, 'f.ndjson').split('\n')[1]).toBe('1 exchanges with a fault injected by the gateway (--inject): never held against the client or the server');
  });
});
