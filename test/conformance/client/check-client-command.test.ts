/**
 * The `bitsgate check-client` command as a person runs it: --json on stdout (its exact
 * shape), the exit code, usage errors, and the dashboard's Conformance panel over the
 * WebSocket.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../../src/client/index.js';
import { command, parseCheckClientArgs, startCheckClient } from '../../../src/commands/check-client.js';
import { main } from '../../../src/cli.js';
import type { ConformanceMessage, ServerMessage } from '../../../src/dashboard/messages.js';
import { captureOutput } from '../../command-output.js';
import { freePort } from '../../free-port.js';

let dir: string;
let file: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'check-client-cmd-'));
  file = path.join(dir, 'src.bin');
  await fs.writeFile(file, randomBytes(10_000));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function whenListening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listens on ${port}`);
}

const upload = (url: string, extra: Parameters<typeof uploadFile>[0] extends infer O ? Partial<O> : never = {}) =>
  uploadFile({ url, file, fragmentSize: 4096, backoffBaseMs: 5, backoffMaxMs: 20, retryForMs: 3_000, ...extra });

describe('bitsgate check-client', () => {
  it('--json prints the report on stdout alone, and exits 0 when every case passed', async () => {
    const port = await freePort();
    const ran = captureOutput(() => command.run(['--listen', `127.0.0.1:${port}`, '--no-dashboard', '--cases', 'baseline,close-4xx', '--settle', '200ms', '--json']));
    await whenListening(port);
    await upload(`http://127.0.0.1:${port}/uploads/a.bin`);
    await upload(`http://127.0.0.1:${port}/uploads/b.bin`).catch(() => undefined); // 403 on Close: the client gives up, as it must
    const { code, out, err } = await ran;
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(Object.keys(report)).toEqual(['format', 'version', 'passed', 'counts', 'cases']);
    expect(report).toMatchObject({ format: 'bitsgate-check-client', version: 1, passed: true, counts: { pass: 2, fail: 0, incomplete: 0 } });
    expect(report.cases).toHaveLength(2);
    expect(Object.keys(report.cases[1])).toEqual(['id', 'verdict', 'reason', 'fault', 'rule', 'expected', 'reference', 'sessions', 'url', 'client']);
    expect(report.cases[0]).toMatchObject({ id: 'baseline', verdict: 'pass', rule: null, url: '/uploads/a.bin', client: '127.0.0.1' });
    expect(report.cases[1]).toMatchObject({
      id: 'close-4xx', verdict: 'pass', reason: 'did not resend Close-Session after the final 403 0x80070005',
      rule: 'close#1: status=403 code=0x80070005 times=1', expected: 'never resend that Close-Session (a 1xx-4xx Close Ack is final)',
      reference: '§3, §6 (100-499 on Close: no retry)', url: '/uploads/b.bin',
    });
    expect(report.cases[1].sessions).toHaveLength(1);
    expect(report.cases[1].sessions[0]).toMatch(/^\{[0-9a-f-]{36}\}$/i);
    // The live lines went to stderr, one per case as it completed.
    expect(err).toMatch(/^PASS {7}baseline {11}a clean upload, then closed after the last Ack \[session \{[0-9a-f-]{36}\}\]$/im);
    expect(err).toMatch(/^PASS {7}close-4xx /m);
  });

  it('prints the summary and exits 1 when a case failed', async () => {
    const port = await freePort();
    const ran = captureOutput(() => command.run(['--listen', `127.0.0.1:${port}`, '--no-dashboard', '--cases', 'close-5xx', '--settle', '100ms', '--case-timeout', '500ms']));
    await whenListening(port);
    await upload(`http://127.0.0.1:${port}/uploads/c.bin`, { misbehave: 'no-close-resend' }).catch(() => undefined);
    const { code, out } = await ran;
    expect(code).toBe(1);
    expect(out).toContain('FAIL       close-5xx          expected Close-Session resent after the 500 0x80004005; seen nothing more from the client within the case timeout');
    expect(out).toContain('0 passed, 1 failed, 0 incomplete of 1 cases: NOT conformant');
  });

  it('refuses unknown cases and conflicting options (exit 2, one line)', async () => {
    expect(() => parseCheckClientArgs(['--cases', 'baseline,nope'])).toThrow('--cases: expected case ids out of baseline, lost-fragment-ack');
    expect(() => parseCheckClientArgs(['--root', 'x', '--upstream', 'http://127.0.0.1:1'])).toThrow('--root: only for the embedded server');
    // The embedded server would refuse it at start (a RangeError with a stack): a usage error instead.
    expect(() => parseCheckClientArgs(['--reply-prefix', '/a/../'])).toThrow('--reply-prefix: has a "." or ".." segment');
    const r = await captureOutput(() => main(['check-client', '--cases', 'nope']));
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toMatch(/^bitsgate check-client: --cases: expected case ids/);
  });

  it('feeds the dashboard a Conformance panel over the WebSocket, as text fields, live and on connect', async () => {
    const run = await startCheckClient({
      listen: { host: '127.0.0.1', port: 0 }, cases: ['baseline'], replyPrefix: '/reply/', settleMs: 100, caseTimeoutMs: 1_000,
      dashboard: { host: '127.0.0.1', port: 0 }, json: false, logLevel: 'silent',
    });
    try {
      const port = run.app.dashboard!.port;
      const panels: ConformanceMessage[] = [];
      const ws = new WebSocket(`ws://127.0.0.1:${port}/events`, { headers: { Origin: `http://127.0.0.1:${port}` } });
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as ServerMessage;
        if (msg.type === 'conformance') panels.push(msg);
      });
      await new Promise((r) => ws.once('open', r));
      await upload(`${run.url}/uploads/p.bin`);
      const report = await run.finished;
      expect(report.passed).toBe(true);
      for (let i = 0; i < 100 && !panels.at(-1)?.done; i++) await new Promise((r) => setTimeout(r, 20));
      ws.close();
      expect(panels[0]).toMatchObject({ type: 'conformance', suite: 'client', done: false, cases: [{ id: 'baseline', state: 'waiting' }] });
      expect(panels.at(-1)).toMatchObject({ done: true, cases: [{ id: 'baseline', state: 'pass', url: '/uploads/p.bin', reason: 'a clean upload, then closed after the last Ack' }] });
    } finally {
      await run.close();
    }
  });
});
