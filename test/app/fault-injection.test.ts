import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.js';
import { uploadFile } from '../../src/client/index.js';
import { InjectionRegistry } from '../../src/inject/registry.js';
import { parseInjectionRule } from '../../src/inject/rule-syntax.js';
import type { BitsEvent } from '../../src/sessions/events.js';
import { replay } from '../../src/sessions/replay.js';

// Issue 13, fault injection: our own client, through the gateway with injected faults, recovers
// from each of them, and nothing injected is blamed on the client or the server.
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('the real client through injected faults', () => {
  it.each([
    ['a lost Close Ack', ['close: drop-ack times=1'], ['drop-ack']],
    ['a lost Fragment Ack', ['fragment#2: drop-ack times=1'], ['drop-ack']],
    ['a 416 naming what the server holds', ['fragment#2: status=416 range=server times=1'], ['answer']],
    ['a forgotten session (0x8020001F): it starts a new one', ['fragment#2: forget-session times=1'], ['forget-session']],
    ['a 503 on Close', ['close: status=503 times=1'], ['answer']],
    ['a reset in the middle of a fragment', ['fragment#2: reset-after=50% times=1'], ['reset-after']],
  ])('recovers from %s with zero violations, and every fault is marked', async (_what, rules, actions) => {
    const dir = await mkdtemp(join(tmpdir(), 'bitsgate-inject-'));
    dirs.push(dir);
    const registry = new InjectionRegistry();
    for (const r of rules) registry.add(parseInjectionRule(r), 'cli');
    const record = join(dir, 'traffic.ndjson');
    const { logger, lines } = capture();
    const app = await startApp({
      logger, listen: { host: '127.0.0.1', port: 0 }, dashboard: false, record, injections: registry,
      embedded: { root: join(dir, 'root'), replyMode: 'sha256', replyPrefix: '/reply/' },
    });
    const events: BitsEvent[] = [];
    app.bus.subscribe((e) => events.push(e));
    const file = join(dir, 'payload.bin');
    const payload = Buffer.alloc(100_000);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    await writeFile(file, payload);
    try {
      const result = await uploadFile({ url: `${app.gateway.url}/uploads/f.bin`, file, fragmentSize: 30_000, backoffBaseMs: 10, backoffMaxMs: 50, noPing: true });
      expect(result.sessionId).toBeDefined();
      expect(await readFile(join(dir, 'root', 'uploads', 'f.bin'))).toEqual(payload);
      await new Promise((r) => setTimeout(r, 50));
      const violations = app.tracker.recentViolations().filter((v) => v.severity !== 'info');
      expect(violations).toEqual([]);
      const injected = events.flatMap((e) => (e.type === 'fault-injected' ? [e.action] : []));
      expect(injected).toEqual(actions);
      const metrics = await app.metrics.registry.metrics();
      for (const a of new Set(actions)) expect(metrics).toContain(`bitsgate_injected_faults_total{action="${a}"} ${actions.filter((x) => x === a).length}`);
      expect(lines.filter((l) => l.msg === 'fault injected').map((l) => [l.level, l.action, l.rule])).toEqual(actions.map((a) => [30, a, rules[0]]));
    } finally {
      await app.close();
    }
    // The recording carries the marks, and analyze reaches the same verdict: nothing to blame.
    const recorded = (await readFile(record, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { injected?: { action: string; rule: string } });
    expect(recorded.flatMap((o) => (o.injected ? [o.injected.action] : []))).toEqual(actions);
    const replayed = await replay((await readFile(record, 'utf8')).split('\n'));
    expect(replayed.violations.filter((v) => v.severity !== 'info')).toEqual([]);
  });
});
