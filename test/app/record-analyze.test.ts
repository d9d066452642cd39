import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/client/index.js';
import { startRecordingApp } from '../recording-app.js';

// Issue 4: `analyze` replays what the gateway recorded, end to end, and reaches the same
// verdicts as the live tracker did.
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe('record with the gateway, analyze offline', () => {
  it('bitsgate analyze --json on a live recording reports the same sessions and violations as the live tracker', async () => {
    const { record, file, app, base, cleanup } = await startRecordingApp('bitsgate-rec-', Buffer.alloc(150_000, 7));
    cleanups.push(cleanup);
    const runs = [
      await uploadFile({ url: `${base}/uploads/ok.bin`, file, fragmentSize: 40_000 }),
      await uploadFile({ url: `${base}/uploads/early.bin`, file, fragmentSize: 40_000, misbehave: 'close-early' }),
      await uploadFile({ url: `${base}/reply/skip.bin`, file, fragmentSize: 40_000, misbehave: 'skip-reply' }),
      await uploadFile({ url: `${base}/uploads/gap.bin`, file, fragmentSize: 40_000, misbehave: 'gap' }),
    ];
    const live = runs.map((r) => app.tracker.session(r.sessionId!)!);
    await app.close();

    const lines = (await readFile(record, 'utf8')).trimEnd().split('\n');
    expect(JSON.parse(lines[0]!)).toEqual({ type: 'meta', format: 'bitsgate-observations', version: 1 });
    // Observations, and the end of each client connection (the tracker needs both).
    expect(new Set(lines.slice(1).map((l) => JSON.parse(l).type))).toEqual(new Set(['observation', 'connection-closed']));
    // Bodies are never recorded: no line is anywhere near a fragment's size.
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(4_000);

    const cli = join(__dirname, '..', '..', 'src', 'cli.ts');
    const out = spawnSync(process.execPath, ['--import', 'tsx', cli, 'analyze', record, '--json'], { encoding: 'utf8' });
    expect(out.status).toBe(0);
    const report = JSON.parse(out.stdout) as {
      sessions: Array<{ id: string; state: string; totalLength: number; ackedBytes: number; violations: string[] }>;
      violations: Array<{ code: string; sessionId: string }>;
    };
    for (const s of live) {
      const replayed = report.sessions.find((r) => r.id === s.id);
      expect(replayed).toEqual(expect.objectContaining({
        state: s.state, totalLength: s.totalLength, ackedBytes: s.ackedBytes, violations: s.violations,
      }));
    }
    expect(live.map((s) => s.violations)).toEqual([[], ['close-incomplete'], ['close-before-reply'], ['fragment-gap']]);
    expect(report.violations.map((v) => v.code).sort()).toEqual(['close-before-reply', 'close-incomplete', 'fragment-gap']);

    const text = spawnSync(process.execPath, ['--import', 'tsx', cli, 'analyze', record], { encoding: 'utf8' });
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('close-incomplete');
  }, 60_000);
});
