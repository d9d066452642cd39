/** `bitsgate upload` as a command: exit codes and the one-line summary off a TTY. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { startFixture, type Fixture } from '../server/helpers.js';
import { captureOutput, type CommandOutput } from '../command-output.js';

let fx: Fixture;
let file: string;

beforeAll(async () => {
  fx = await startFixture({ replyMode: 'sha256', maxUpload: 1000 });
  file = path.join(fx.dir, 'in.txt');
  await fs.writeFile(file, 'hello');
});
afterAll(async () => {
  await fx.close();
});

function run(args: string[]): Promise<CommandOutput> {
  return captureOutput(() => main(args));
}

describe('bitsgate upload', () => {
  it('uploads, prints the reply on stdout and a summary on stderr, exit 0', async () => {
    const r = await run(['upload', `http://127.0.0.1:${fx.port}/cmd/a.txt`, file, '--fragment-size', '2']);
    expect(r.code).toBe(0);
    expect(r.out).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n');
    expect(r.err).toMatch(/^bitsgate upload: uploaded 5 B of 5 B to http:\/\/127\.0\.0\.1:\d+\/cmd\/a\.txt in \d+\.\d\d s \(\d+ B\/s\), session \{[0-9a-f-]{36}\}, 7 requests, reply http:\/\/127\.0\.0\.1:\d+\/\.bitsgate-reply\/[0-9a-f-]{36}\n$/);
    expect(await fs.readFile(path.join(fx.root, 'cmd', 'a.txt'), 'utf8')).toBe('hello');
  });

  it('writes the reply to --reply-out', async () => {
    const out = path.join(fx.dir, 'reply.txt');
    const r = await run(['upload', `http://127.0.0.1:${fx.port}/cmd/b.txt`, file, '--reply-out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(await fs.readFile(out, 'utf8')).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n');
  });

  it('exits 1 with a clear message on a fatal answer', async () => {
    // The server refuses an existing file with 403 + 0x80070005 (bits-protocol.md §6).
    await fs.mkdir(path.join(fx.root, 'cmd'), { recursive: true });
    await fs.writeFile(path.join(fx.root, 'cmd', 'c.bin'), 'old');
    const r = await run(['upload', `http://127.0.0.1:${fx.port}/cmd/c.bin`, file]);
    expect(r.code).toBe(1);
    expect(r.err).toBe('bitsgate upload: failed: Create-Session answered 403 (0x80070005 E_ACCESSDENIED): the server refuses uploads to this path\n');
  });

  it('exits 1 when the file does not exist, and 2 on a bad option', async () => {
    expect((await run(['upload', `http://127.0.0.1:${fx.port}/x`, path.join(fx.dir, 'missing')])).code).toBe(1);
    const bad = await run(['upload', `http://127.0.0.1:${fx.port}/x`, file, '--misbehave', 'explode']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--misbehave: expected one of close-early, skip-reply, gap, unknown-session, double-close');
  });

  it('--cancel-after: cancels once the server holds that many bytes, says so, exit 0, nothing committed', async () => {
    const r = await run(['upload', `http://127.0.0.1:${fx.port}/cmd/e.txt`, file, '--fragment-size', '2', '--cancel-after', '3']);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^bitsgate upload: cancelled after 4 B of 5 B to http:\/\/127\.0\.0\.1:\d+\/cmd\/e\.txt in .*, session \{[0-9a-f-]{36}\}, 5 requests\n$/);
    await expect(fs.stat(path.join(fx.root, 'cmd', 'e.txt'))).rejects.toThrow(/ENOENT/);
    expect((await run(['upload', `http://127.0.0.1:${fx.port}/x`, file, '--cancel-after', 'lots'])).code).toBe(2);
  });

  it('reports a deliberate misbehaviour and exits 0', async () => {
    const r = await run(['upload', `http://127.0.0.1:${fx.port}/cmd/d.txt`, file, '--misbehave', 'double-close']);
    expect(r.code).toBe(0);
    expect(r.err).toContain('misbehaved on purpose (double-close): closed the session twice; second Close answered 500 0x8020001F BG_E_SESSION_NOT_FOUND');
  });
});

describe('bitsgate upload: --retry-for and --backoff-max', () => {
  it.each([
    [['--retry-for', 'soon'], '--retry-for: expected a duration such as 30s, 500ms, 5m or 14d, got "soon"'],
    [['--retry-for', '1h30m'], '--retry-for: expected a duration such as 30s, 500ms, 5m or 14d, got "1h30m"'],
    [['--retry-for=-5m'], '--retry-for: expected a duration such as 30s, 500ms, 5m or 14d, got "-5m"'],
    [['--retry-for', '31d'], '--retry-for: at most 30d, got "31d"'],
    [['--backoff-max', '5ms'], '--backoff-max: expected a duration from 100ms to 1h, got "5ms"'],
    [['--backoff-max', '2h'], '--backoff-max: expected a duration from 100ms to 1h, got "2h"'],
    [['--retries', 'many'], '--retries: expected a whole number from 0 to 1000000, got "many"'],
  ])('refuses %j with exit 2 and says what it expected', async (args, message) => {
    const r = await run(['upload', `http://127.0.0.1:${fx.port}/x`, file, ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`bitsgate upload: ${message}\nRun 'bitsgate upload --help' for usage.\n`);
  });

  it('gives up after --retry-for without progress, having said before each wait why and when it retries', async () => {
    const closed = await (await import('./test-peers.js')).startScriptedServer(() => ({ status: 200, headers: [] }));
    const port = closed.port;
    await closed.close();
    const r = await run(['upload', `http://127.0.0.1:${port}/x`, file, '--retry-for', '1s', '--backoff-max', '200ms']);
    expect(r.code).toBe(1);
    const lines = r.err.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^bitsgate upload: failed: Ping: no answer \(ECONNREFUSED, connect failed\); gave up after \d+ attempts \(no progress for 1(\.\d+)? s \(--retry-for 1 s\)\)$/);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const l of lines.slice(0, -1)) {
      expect(l).toMatch(/^bitsgate upload: waiting: Ping: no answer \(ECONNREFUSED, connect failed\); retry \d+ at \d\d:\d\d:\d\dZ \(in [\d.]+ s\); giving up at \d\d:\d\d:\d\dZ without progress$/);
    }
  });

  it('--help documents the options and what the client does on each answer', async () => {
    const r = await run(['upload', '--help']);
    expect(r.code).toBe(0);
    for (const s of ['--retry-for DURATION', '--backoff-max DURATION', 'default 10m', '413 on a Fragment', '0x8020001F', '5xx on Close/Cancel', 'reconnect, Ping, resend the same packet', 'context 0x7', 'BITS-Host-Id-Fallback-Timeout', '130 interrupted (Ctrl-C)']) {
      expect(r.out).toContain(s);
    }
  });
});
