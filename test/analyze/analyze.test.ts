import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { command } from '../../src/commands/analyze.js';
import { parseRecordingLine, replay } from '../../src/sessions/index.js';
import { Wire } from '../sessions/factory.js';
import { captureOutput, type CommandOutput } from '../command-output.js';

const URL_ = '/up/f.bin';
let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'bitsgate-analyze-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** A recording as src/sinks/recorder.ts writes it: meta line, then one observation per line. */
function recording(): string[] {
  const w = new Wire();
  const good = w.upload(URL_, '{good}', 20, 10);
  const bad = [w.create('/up/g.bin', '{bad}'), w.fragment('/up/g.bin', '{bad}', 0, 9, 30), w.close('/up/g.bin', '{bad}')];
  const lines = [JSON.stringify({ type: 'meta', format: 'bitsgate-observations', version: 1 })];
  for (const o of [...good, ...bad]) lines.push(JSON.stringify({ type: 'observation', ...o }));
  return lines;
}

function runAnalyze(args: string[]): Promise<CommandOutput> {
  return captureOutput(() => command.run(args));
}

describe('bitsgate analyze', () => {
  it('--json prints exactly the documented shape', async () => {
    const file = join(dir, 'rec.ndjson');
    writeFileSync(file, recording().join('\n') + '\n');
    const { code, out, err } = await runAnalyze([file, '--json']);
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out.endsWith('\n')).toBe(true);
    expect(JSON.parse(out)).toEqual({
      sessions: [
        { id: '{good}', state: 'closed', url: URL_, totalLength: 20, ackedBytes: 20, violations: [] },
        { id: '{bad}', state: 'closed', url: '/up/g.bin', totalLength: 30, ackedBytes: 10, violations: ['close-incomplete'] },
      ],
      violations: [
        { code: 'close-incomplete', severity: 'error', sessionId: '{bad}', message: 'Close-Session after 10 of 30 bytes acknowledged' },
      ],
    });
    expect(Object.keys(JSON.parse(out).sessions[0])).toEqual(['id', 'state', 'url', 'totalLength', 'ackedBytes', 'violations']);
    expect(Object.keys(JSON.parse(out).violations[0])).toEqual(['code', 'severity', 'sessionId', 'message']);
  });

  it('reports a malformed line with its number on stderr and goes on', async () => {
    const lines = recording();
    lines.splice(3, 0, '{"type":"observation","id":"x"', '', '{"type":"observation","id":99,"method":"GET"}');
    const file = join(dir, 'bad.ndjson');
    writeFileSync(file, lines.join('\n'));
    const { code, out, err } = await runAnalyze([file, '--json']);
    expect(code).toBe(0);
    const errLines = err.trim().split('\n');
    expect(errLines).toHaveLength(2);
    expect(errLines[0]).toMatch(/bad\.ndjson:4: skipped malformed line: not JSON/);
    expect(errLines[1]).toMatch(/bad\.ndjson:6: skipped malformed line: not an observation: "url" must be a string/);
    expect(JSON.parse(out).sessions).toHaveLength(2);
  });

  it('prints a readable report with sessions, then violations grouped with their explanation', async () => {
    const file = join(dir, 'text.ndjson');
    writeFileSync(file, recording().join('\n'));
    const { code, out } = await runAnalyze([file]);
    expect(code).toBe(0);
    expect(out).toContain('7 observations, 2 sessions, 1 violations (1 errors, 0 warnings, 0 info)');
    expect(out).toMatch(/closed\s+20\/20 100%\s+\/up\/f\.bin\s+\{good\}/);
    expect(out).toMatch(/closed\s+10\/30 33\.3%\s+\/up\/g\.bin\s+\{bad\}/);
    expect(out).toContain('close-incomplete (error) x1: Close-Session before the upload was complete');
    expect(out).toContain('why: The server deletes the partial upload');
    expect(out).toContain('- [{bad}] Close-Session after 10 of 30 bytes acknowledged (exchange 7)');
    expect(out.indexOf('Sessions')).toBeLessThan(out.indexOf('Violations'));
  });

  it('shows traffic-supplied text as data, never as terminal control sequences', async () => {
    const w = new Wire();
    const evil = '/up/\u001b[2Jx\u202egnp.exe';
    const file = join(dir, 'evil.ndjson');
    writeFileSync(file, [w.create(evil, 'sid'), w.fragment(evil, 'sid', 0, 0, 2), w.close(evil + '\u0007', 'sid')].map((o) => JSON.stringify(o)).join('\n'));
    const { out } = await runAnalyze([file]);
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u202e]/);
    expect(out).toContain('\\u001b[2Jx\\u202egnp.exe');
  });

  it('fails clearly with exit 2 on a missing file, and on a usage error', async () => {
    const missing = await runAnalyze([join(dir, 'nope.ndjson')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read .*nope\.ndjson: no such file/);
    await expect(command.run([])).rejects.toThrow('missing FILE.ndjson');
  });

  it('runs through the CLI dispatcher as a subprocess', () => {
    const file = join(dir, 'cli.ndjson');
    writeFileSync(file, recording().join('\n'));
    const cli = join(__dirname, '..', '..', 'src', 'cli.ts');
    const ok = spawnSync(process.execPath, ['--import', 'tsx', cli, 'analyze', file, '--json'], { encoding: 'utf8', timeout: 20_000 });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).violations.map((v: { code: string }) => v.code)).toEqual(['close-incomplete']);
    const missing = spawnSync(process.execPath, ['--import', 'tsx', cli, 'analyze', join(dir, 'missing.ndjson')], { encoding: 'utf8', timeout: 20_000 });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('no such file');
  });
});

describe('replay', () => {
  it('accepts observation lines without "type", notes foreign types and dropped observations', async () => {
    const w = new Wire();
    const lines = [
      JSON.stringify({ type: 'meta', format: 'bitsgate-events', version: 1 }),
      JSON.stringify(w.create(URL_, 's')),
      JSON.stringify({ type: 'event', seq: 1 }),
      JSON.stringify({ type: 'dropped', count: 3, at: 1 }),
      JSON.stringify(w.close(URL_, 's')),
    ];
    const r = await replay(lines);
    expect(r.observations).toBe(2);
    expect(r.malformed).toEqual([]);
    expect(r.dropped).toBe(3);
    expect(r.warnings.map((x) => x.line)).toEqual([1, 3, 4]);
    expect(r.sessions.map((s) => [s.id, s.state])).toEqual([['s', 'closed']]);
  });

  it('keeps sessions evicted during the replay in the result', async () => {
    const w = new Wire();
    const lines = ['a', 'b', 'c'].map((id) => JSON.stringify(w.create(URL_, id)));
    const r = await replay(lines, { maxSessions: 2 });
    expect(r.sessions.map((s) => [s.id, s.state])).toEqual([['a', 'evicted'], ['b', 'open'], ['c', 'open']]);
  });

  it.each([
    ['[1,2]', 'not a JSON object'],
    ['{"type":"dropped"}', 'dropped line without a valid count'],
    ['{"id":1,"method":"GET","url":"/","requestHeaders":[["a"]],"startedAt":1}', '"requestHeaders" must be an array'],
    ['{"id":1,"method":"GET","url":"/","requestHeaders":[],"startedAt":1,"status":42}', '"status" must be an HTTP status code'],
  ])('rejects %s', (line, reason) => {
    const r = parseRecordingLine(line);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });
});
