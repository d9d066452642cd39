/** `bitsgate upload` as a command: exit codes and the one-line summary off a TTY. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { startFixture, type Fixture } from '../server/helpers.js';

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

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  try {
    return { code: await main(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
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
