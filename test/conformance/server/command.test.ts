/** `bitsgate check-server` as a command: usage, unreachable servers, the table, --json, Ctrl-C. */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli.js';
import { command } from '../../../src/commands/check-server.js';
import { SERVER_CASES } from '../../../src/conformance/server/index.js';
import { captureOutput } from '../../command-output.js';
import { listFiles, startFixture, type Fixture } from '../../server/helpers.js';
import { startDeviatingServer } from './deviating-server.js';

const cli = path.join(__dirname, '..', '..', '..', 'src', 'cli.ts');

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('bitsgate check-server (command)', () => {
  it('exits 2 with one clear line when the server cannot be reached', async () => {
    const port = await closedPort();
    const r = await captureOutput(() => main(['check-server', `http://127.0.0.1:${port}/up/`]));
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(`bitsgate check-server: cannot reach http://127.0.0.1:${port}/up/: connect ECONNREFUSED 127.0.0.1:${port} (ECONNREFUSED)\n`);
  });

  it.each([
    [['ftp://example.com/up/'], 'URL: only http:// and https:// are supported, got "ftp:"'],
    [['not a url'], 'URL: not a URL: "not a url" (expected http://HOST:PORT or https://HOST)'],
    [[], 'expected one URL'],
    [['http://127.0.0.1:1/', '--timeout', 'soon'], '--timeout'],
  ])('exits 2 on a bad command line %j', async (args, message) => {
    const r = await captureOutput(() => main(['check-server', ...args]));
    expect(r.code).toBe(2);
    expect(r.err).toContain(`bitsgate check-server: ${message}`);
    expect(r.err).toContain("Run 'bitsgate check-server --help' for usage.");
  });

  it('--help lists every case with its reference section, the options and the exit codes', async () => {
    const r = await captureOutput(() => main(['check-server', '--help']));
    expect(r.code).toBe(0);
    for (const c of SERVER_CASES) expect(r.out).toContain(`  ${c.name.padEnd(34)} ${c.section}\n      ${c.checks}\n`);
    for (const option of ['--reply-url URL', '--json', '--timeout DURATION', '--ca FILE', '--insecure']) expect(r.out).toContain(option);
    expect(r.out).toContain('Exit codes: 0 no deviation, 1 at least one deviation, 2 usage error or server unreachable');
    const list = await captureOutput(() => main(['--help']));
    expect(list.out).toContain('  check-server check a BITS server against the protocol reference');
  });

  it('prints the prefix, a line per case as it runs, and the summary', async () => {
    fixture = await startFixture();
    const r = await captureOutput(() => command.run([`${fixture!.server.url}up/`]));
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^bitsgate check-server: checking http:\/\/127\.0\.0\.1:\d+\/up\/; uploads go under http:\/\/127\.0\.0\.1:\d+\/up\/bitsgate-check-[0-9a-f]{8}\/$/);
    const caseLines = lines.filter((l) => /^(PASS|DEVIATION|N\/A) /.test(l));
    expect(caseLines.map((l) => l.split(/\s+/)[1])).toEqual(SERVER_CASES.map((c) => c.name));
    expect(caseLines[0]).toBe('PASS       ping                               §1 §3');
    expect(lines).toContain('N/A        upload-reply                       §1 §3 §7');
    expect(lines.at(-2)).toBe('bitsgate check-server: 21 passed, 0 with deviations, 2 not applicable');
    expect(lines.at(-1)).toMatch(/^bitsgate check-server: every session closed or cancelled; uploaded files, if any, are under http:\/\/127\.0\.0\.1:\d+\/up\/bitsgate-check-[0-9a-f]{8}\/$/);
  });

  it('--json prints one document: url, prefix, cases (name, section, outcome, deviations, notes), summary, leftOpen', async () => {
    fixture = await startFixture();
    const url = `${fixture.server.url}up/`;
    const r = await captureOutput(() => command.run([url, '--json']));
    const report = JSON.parse(r.out) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual(['url', 'prefix', 'cases', 'summary', 'leftOpen']);
    expect(report.url).toBe(url);
    expect(report.summary).toEqual({ pass: 21, deviation: 0, notApplicable: 2 });
    expect(report.leftOpen).toEqual([]);
    const cases = report.cases as Record<string, unknown>[];
    expect(cases).toHaveLength(SERVER_CASES.length);
    expect(cases[0]).toEqual({ name: 'ping', section: '§1 §3', outcome: 'pass', deviations: [], notes: [] });
    // The table went to stderr, so stdout is the document alone.
    expect(r.err).toContain('PASS       ping');
  });

  it('Ctrl-C stops the case in flight, cancels every open session and exits 130', async () => {
    fixture = await startFixture();
    const front = await startDeviatingServer(fixture.server.url, 'hang-on-changed-total');
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'check-server', `${front.url}up/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      // The case before fragment-changed-total is done: that case now waits for an answer that never comes.
      await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('fragment-duplicate')) resolve();
      }));
      // Its session is open on the server (the hung Fragment was never forwarded).
      await expect.poll(() => fixture!.server.sessionCount(), { timeout: 5000 }).toBe(1);
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(err).toContain('interrupted; cancelling the sessions still open');
      expect(out).toContain('(interrupted after 8 of 23 cases)');
      expect(out).toMatch(/every session closed or cancelled/);
      expect(fixture.server.sessionCount()).toBe(0);
      for (const f of await listFiles(fixture.root)) expect(f).toMatch(/^up\/bitsgate-check-[0-9a-f]{8}\//);
    } finally {
      child.kill('SIGKILL');
      await front.close();
    }
  }, 20_000);
});
