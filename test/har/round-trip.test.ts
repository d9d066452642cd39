import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { uploadFile } from '../../src/client/index.js';
import { command as analyze } from '../../src/commands/analyze.js';
import { command as exportCommand } from '../../src/commands/export.js';
import { harProblems } from './har-schema.js';
import { captureOutput, type CommandOutput } from '../command-output.js';
import { startRecordingApp } from '../recording-app.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});
afterEach(() => vi.restoreAllMocks());

function run(cmd: typeof analyze, args: string[]): Promise<CommandOutput> {
  return captureOutput(() => cmd.run(args));
}

describe('HAR round trip', () => {
  it('recording -> HAR -> analyze gives the same verdicts as analysing the recording', async () => {
    const { dir, record, file, app, base, cleanup } = await startRecordingApp('bitsgate-har-rt-', Buffer.alloc(100_000, 3));
    cleanups.push(cleanup);
    await uploadFile({ url: `${base}/uploads/ok.bin`, file, fragmentSize: 30_000 });
    await uploadFile({ url: `${base}/reply/ok.bin`, file, fragmentSize: 30_000 });
    for (const misbehave of ['close-early', 'skip-reply', 'gap', 'unknown-session', 'double-close'] as const) {
      await uploadFile({ url: `${base}/${misbehave === 'skip-reply' ? 'reply' : 'uploads'}/${misbehave}.bin`, file, fragmentSize: 30_000, misbehave, maxRetries: 0 }).catch(() => undefined);
    }
    await app.close();

    const har = join(dir, 'traffic.har');
    expect((await run(exportCommand, [record, '--har', har])).code).toBe(0);
    const parsed = JSON.parse(await readFile(har, 'utf8'));
    expect(harProblems(parsed)).toEqual([]);
    expect(parsed.log.entries.length).toBeGreaterThan(20);

    const direct = await run(analyze, [record, '--json']);
    const viaHar = await run(analyze, [har, '--json']);
    expect(direct.code).toBe(0);
    expect(viaHar).toEqual({ code: 0, out: direct.out, err: '' });
    const verdicts = JSON.parse(direct.out) as { sessions: Array<{ violations: string[] }> };
    // The traffic really contains the verdicts that matter (so equality is not trivially empty).
    expect(verdicts.sessions.flatMap((s) => s.violations)).toEqual(expect.arrayContaining(['close-incomplete', 'close-before-reply', 'fragment-gap', 'close-after-end']));

    // The same holds per session: the reply upload's HAR keeps its reply fetch.
    const reply = JSON.parse(direct.out).sessions[1] as { id: string; violations: string[] };
    const one = join(dir, 'reply.har');
    expect((await run(exportCommand, [record, '--har', one, '--session', reply.id])).code).toBe(0);
    const oneParsed = JSON.parse(await readFile(one, 'utf8'));
    expect(oneParsed.log.entries.map((e: { request: { method: string } }) => e.request.method)).toContain('GET');
    const alone = JSON.parse((await run(analyze, [one, '--json'])).out) as { sessions: Array<{ id: string; state: string; violations: string[] }> };
    expect(alone.sessions).toEqual([expect.objectContaining({ id: reply.id, state: 'closed', violations: [] })]);
  }, 30_000);
});
