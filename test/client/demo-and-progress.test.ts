import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { renderBar } from '../../src/client/progress.js';
import { command as demoCommand } from '../../src/commands/demo.js';
import { formatDemoSummary } from '../../src/demo/summary.js';
import { DEMO_ROLES, DEMO_SCHEDULE, demoTarget, isWellBehaved, roleOf, runDemo, type DemoReport } from '../../src/demo/traffic.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import { SessionTracker, type BitsEvent, type SessionSummary, type Violation } from '../../src/sessions/index.js';
import { UsageError } from '../../src/util/option-values.js';
import { listFiles, startFixture, type Fixture } from '../server/helpers.js';

describe('progress bar', () => {
  it('shows bytes, percentage, rate and ETA', () => {
    const line = renderBar({ acked: 512 * 1024, total: 1024 * 1024, startedAt: 0 }, 2000, 10);
    expect(line).toBe('[#####-----]  50.0% 512.0 KiB/1.00 MiB 256.0 KiB/s ETA 00:02');
  });
});

describe('demo schedule', () => {
  it('starts with one upload of each kind, then keeps most traffic well-behaved', () => {
    expect(Array.from({ length: 8 }, (_, n) => roleOf(n))).toEqual([
      'upload', 'upload-reply', 'close-early', 'skip-reply', 'gap', 'unknown-session', 'double-close', 'cancel',
    ]);
    expect([...DEMO_ROLES].sort()).toEqual(['cancel', 'close-early', 'double-close', 'gap', 'skip-reply', 'unknown-session', 'upload', 'upload-reply']);
    const behaved = DEMO_SCHEDULE.filter(isWellBehaved).length;
    expect(behaved / DEMO_SCHEDULE.length).toBeGreaterThan(0.6);
    expect(roleOf(DEMO_SCHEDULE.length + 2)).toBe('close-early');
  });

  it('sends upload-reply jobs under the reply prefix and everything else under the upload prefix', () => {
    const base = new URL('http://127.0.0.1:8080/ignored/path');
    const p = { replyPrefix: '/reply/', uploadPrefix: '/uploads' };
    expect(demoTarget(base, p, 'abcd1234', 1, 'upload-reply').href).toBe('http://127.0.0.1:8080/reply/demo-abcd1234-0001-upload-reply.bin');
    expect(demoTarget(base, p, 'abcd1234', 3, 'skip-reply').href).toBe('http://127.0.0.1:8080/reply/demo-abcd1234-0003-skip-reply.bin');
    expect(demoTarget(base, p, 'abcd1234', 0, 'upload').href).toBe('http://127.0.0.1:8080/uploads/demo-abcd1234-0000-upload.bin');
    expect(demoTarget(base, p, 'abcd1234', 12, 'double-close').href).toBe('http://127.0.0.1:8080/uploads/demo-abcd1234-0012-double-close.bin');
  });
});

describe('demo summary', () => {
  const tally = (uploads: number, replyUrls = 0) => ({ uploads, closed: uploads, cancelled: 0, failures: 0, replyUrls, repliesFetched: replyUrls });
  const ctx = { baseUrl: new URL('http://127.0.0.1:8080/'), replyPrefix: '/reply/', dashboardHint: 'the dashboard at http://127.0.0.1:8081/' };

  it('counts sessions per kind, names the expected violation and points at the dashboard', () => {
    const report: DemoReport = {
      runId: 'abcd1234', uploads: 9, failures: 0, elapsedMs: 1234, missing: ['gap'],
      byRole: { upload: tally(4), 'upload-reply': tally(3, 3), 'skip-reply': { ...tally(2, 2), repliesFetched: 0 } },
    };
    const lines = formatDemoSummary(report, ctx);
    expect(lines[0]).toBe('9 sessions in 1.2 s through http://127.0.0.1:8080 (run abcd1234):');
    expect(lines).toContain('  upload             4  well-behaved plain upload, expect state closed');
    expect(lines.some((l) => /^  skip-reply +2 .*expect close-before-reply$/.test(l))).toBe(true);
    expect(lines).toContain('  not run (too few uploads; raise --rounds or --duration): gap');
    expect(lines.at(-1)).toBe('  watch it: the dashboard at http://127.0.0.1:8081/');
    expect(lines.join('\n')).not.toContain('no BITS-Reply-URL');
  });

  it('says so when the server sent no reply URL under the reply prefix', () => {
    const report: DemoReport = { runId: 'x', uploads: 2, failures: 0, elapsedMs: 10, missing: [], byRole: { 'upload-reply': tally(1), 'skip-reply': tally(1) } };
    expect(formatDemoSummary(report, ctx).join('\n')).toContain('no BITS-Reply-URL came back under /reply/');
  });
});

describe('demo against gateway → server (reply mode under /reply/ only), watched by a SessionTracker', () => {
  let fx: Fixture;
  let gw: Gateway;
  const tracker = new SessionTracker();
  const events: BitsEvent[] = [];
  let report: DemoReport;

  beforeAll(async () => {
    fx = await startFixture({ replyMode: 'sha256', replyPrefix: '/reply/' });
    gw = await startGateway({
      upstream: new URL(fx.server.url),
      listen: { host: '127.0.0.1', port: 0 },
      sinks: [{
        onExchangeStart: (start) => events.push(...tracker.begin(start)),
        onObservation: (o) => events.push(...tracker.observe(o)),
      }],
    });
    report = await runDemo({ baseUrl: new URL(gw.url), clients: 4, rounds: 4, durationMs: 20_000, maxFileBytes: 64 * 1024, pauseMs: 5 });
  });
  afterAll(async () => {
    await gw?.close();
    await fx?.close();
  });

  const violations = (): Violation[] => events.flatMap((e) => (e.type === 'violation' ? [e.violation] : []));
  const sessionsOf = (role: string): SessionSummary[] => tracker.sessions().filter((s) => s.url.endsWith(`-${role}.bin`));

  it('runs clients × rounds uploads, one of each kind at least, without failures', () => {
    expect(report.uploads).toBe(16);
    expect(report.failures).toBe(0);
    expect(report.missing).toEqual([]);
    expect(report.byRole.upload!.closed).toBe(report.byRole.upload!.uploads);
    expect(report.byRole['upload-reply']!.repliesFetched).toBe(report.byRole['upload-reply']!.uploads);
    expect(report.byRole.upload!.replyUrls).toBe(0);
    expect(report.byRole.cancel!.cancelled).toBe(report.byRole.cancel!.uploads);
  });

  it('produces each invalid-close and fragment code the misbehaviours stand for', () => {
    const codes = new Set(violations().map((v) => v.code));
    for (const code of ['close-incomplete', 'close-before-reply', 'fragment-gap', 'close-unknown-session', 'close-after-end']) {
      expect(codes, code).toContain(code);
    }
  });

  it('ends every well-behaved session closed (cancelled for cancel), with its reply fetched under /reply/ and none elsewhere, and no error-severity violation', () => {
    const plain = sessionsOf('upload');
    const reply = sessionsOf('upload-reply');
    expect(plain.length).toBe(report.byRole.upload!.uploads);
    expect(reply.length).toBe(report.byRole['upload-reply']!.uploads);
    for (const s of plain) {
      expect(s.state, s.url).toBe('closed');
      expect(s.url.startsWith('/uploads/')).toBe(true);
      expect(s.replyUrl).toBeUndefined();
    }
    for (const s of reply) {
      expect(s.state, s.url).toBe('closed');
      expect(s.url.startsWith('/reply/')).toBe(true);
      expect(s.replyFetched, s.url).toBe(true);
    }
    const cancelled = sessionsOf('cancel');
    expect(cancelled.length).toBe(report.byRole.cancel!.uploads);
    for (const s of cancelled) {
      expect(s.state, s.url).toBe('cancelled');
      expect(s.ackedBytes).toBeGreaterThan(0);
      expect(s.ackedBytes).toBeLessThan(s.totalLength!);
    }
    const ids = new Set([...plain, ...reply, ...cancelled].map((s) => s.id));
    const errors = violations().filter((v) => v.sessionId !== undefined && ids.has(v.sessionId) && v.severity === 'error');
    expect(errors).toEqual([]);
  });

  it('flags close-before-reply on skip-reply jobs only: plain uploads that never fetch a reply are not false positives', () => {
    const skip = new Set(sessionsOf('skip-reply').map((s) => s.id));
    const flagged = violations().filter((v) => v.code === 'close-before-reply');
    expect(flagged.length).toBe(skip.size);
    for (const v of flagged) expect(skip.has(v.sessionId!)).toBe(true);
    const early = new Set(sessionsOf('close-early').map((s) => s.id));
    for (const v of violations().filter((x) => x.code === 'close-incomplete')) expect(early.has(v.sessionId!)).toBe(true);
  });

  it('commits the files of the well-behaved and double-close jobs, deletes the incomplete ones', async () => {
    const files = await listFiles(fx.root);
    const names = (role: string) => files.filter((f) => f.endsWith(`-${role}.bin`));
    expect(names('upload').length).toBe(report.byRole.upload!.uploads);
    expect(names('upload-reply').length).toBe(report.byRole['upload-reply']!.uploads);
    expect(names('close-early')).toEqual([]);
    expect(names('cancel')).toEqual([]);
    expect(await listFiles(path.join(fx.root, '.bitsgate-tmp'))).toEqual([]);
    expect(names('upload').every((f) => f.startsWith(`uploads${path.sep}demo-${report.runId}-`))).toBe(true);
  });

  it('bitsgate demo runs again on the same server without 409s, prints the summary and exits 0', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    let code = -1;
    try {
      code = await demoCommand.run(['--gateway', gw.url, '--clients', '2', '--rounds', '4', '--max-file', '8k', '--quiet']);
    } finally {
      spy.mockRestore();
    }
    const text = out.join('');
    expect(code).toBe(0);
    expect(text).toMatch(/bitsgate demo: 8 sessions in [\d.]+ s through http:\/\/127\.0\.0\.1:\d+ \(run [0-9a-f]{8}\):/);
    expect(text).toMatch(/bitsgate demo: {3}skip-reply +1 {2}.*expect close-before-reply/);
    expect(text).toContain('bitsgate demo:   watch it: the dashboard');
    expect(text).not.toContain('failed');
    // Uploads 0-7 of the schedule: only upload, gap and double-close commit under /uploads/.
    const runId = /\(run ([0-9a-f]{8})\)/.exec(text)![1]!;
    const committed = (await fs.readdir(path.join(fx.root, 'uploads'))).filter((f) => f.startsWith(`demo-${runId}-`)).sort();
    expect(committed.map((f) => f.slice(`demo-${runId}-`.length))).toEqual(['0000-upload.bin', '0004-gap.bin', '0006-double-close.bin']);
  });
});

describe('bitsgate demo options', () => {
  it.each([
    [['--reply-prefix', 'reply/'], '--reply-prefix: must start with "/"'],
    [['--upload-prefix', 'up'], '--upload-prefix: must start with "/"'],
    [['--rounds', '0'], '--rounds: expected a whole number from 1 to 1000'],
    [['--clients', '51'], '--clients: expected a whole number from 1 to 50'],
    [['--duration', '2h'], '--duration: at most 1h'],
    [['--max-file', '1'], '--max-file: from 2 bytes'],
    [['extra'], 'unexpected argument "extra"'],
  ])('%j is a UsageError', async (args, message) => {
    const run = demoCommand.run(args as string[]);
    await expect(run).rejects.toThrow(UsageError);
    await expect(demoCommand.run(args as string[])).rejects.toThrow(message);
  });

  it('documents --clients, --rounds, --duration and the prefixes in its help', () => {
    for (const opt of ['--clients N', '--rounds N', '--duration D', '--reply-prefix PATH', '--upload-prefix PATH', '--quiet']) {
      expect(demoCommand.help).toContain(opt);
    }
  });
});
