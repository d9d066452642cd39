/**
 * `--control` and `--control-token-file` on the command line and in the config file, and the
 * generated token: printed once with the banner (stderr), never in the JSON log (stdout).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { parseGatewayArgs, readControlToken, startFromOptions } from '../../src/commands/gateway.js';
import { UsageError } from '../../src/util/option-values.js';
import { waitUntil } from '../gateway/helpers.js';
import { loopbackRequest, type Reply } from '../loopback-http.js';

const dir = mkdtempSync(join(tmpdir(), 'bitsgate-control-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function post(port: number, path: string, headers: Record<string, string>, body: string): Promise<Reply> {
  return loopbackRequest(port, 'POST', path, headers, body);
}

describe('--control options', () => {
  it('is off by default, and on with --control (token file optional)', () => {
    expect(parseGatewayArgs([]).control).toBeUndefined();
    expect(parseGatewayArgs(['--control']).control).toEqual({ tokenFile: undefined });
    expect(parseGatewayArgs(['--control', '--control-token-file', 'tok']).control).toEqual({ tokenFile: 'tok' });
  });

  it('refuses a token file without --control, and --control without the dashboard', () => {
    expect(() => parseGatewayArgs(['--control-token-file', 'tok'])).toThrow(new UsageError('--control-token-file: needs --control'));
    expect(() => parseGatewayArgs(['--control', '--no-dashboard'])).toThrow(/^--control: needs the dashboard/);
  });

  it('reads `control: true` and a token file relative to the config file', () => {
    const cfg = join(dir, 'bitsgate.yaml');
    writeFileSync(cfg, 'control: true\ncontrol-token-file: secrets/control.token\n');
    expect(parseGatewayArgs(['--config', cfg]).control).toEqual({ tokenFile: join(dir, 'secrets', 'control.token') });
    writeFileSync(cfg, 'control: yes please\n');
    expect(() => parseGatewayArgs(['--config', cfg])).toThrow(/bitsgate\.yaml:1: control: /);
  });

  it('takes the first line of the token file, and refuses a short one without echoing it', async () => {
    const good = join(dir, 'good.token');
    writeFileSync(good, 'a-control-token-of-32-characters\nsecond line ignored\n');
    expect(await readControlToken(good)).toBe('a-control-token-of-32-characters');
    const short = join(dir, 'short.token');
    writeFileSync(short, 'tiny-secret\n');
    const err = await readControlToken(short).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(`--control-token-file: ${short}: expected 16 to 256 visible ASCII characters on its first line`);
    await expect(readControlToken(join(dir, 'missing.token'))).rejects.toThrow(/^--control-token-file: cannot read /);
  });

  it('prints a generated token once on stderr, never in the JSON log, and that token authorises a write', async () => {
    const root = join(dir, 'root');
    const child = spawn(process.execPath, [
      '--import', 'tsx', join(__dirname, '..', '..', 'src', 'cli.ts'),
      '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0', '--root', root, '--control', '--log-level', 'debug',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    try {
      await waitUntil(() => stderr.includes('Try it:') && /gateway listening.*\n/.test(stdout), 15_000, 'banner and log line');
      const token = /live control {7}ON: control token (\S+) /.exec(stderr)?.[1];
      expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(stderr.split(token!).length - 1).toBe(1);
      const started = JSON.parse(stdout.split('\n').find((l) => l.includes('gateway listening'))!);
      expect(started.control).toBe(true);
      const dash = Number(new URL(started.dashboard).port);
      const added = await post(dash, '/api/injections', { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, JSON.stringify({ rule: 'ping: delay=1ms' }));
      expect(added.status).toBe(201);
      expect(JSON.parse(added.body)).toMatchObject({ rule: 'ping: delay=1ms', origin: 'control' });
      const code = await new Promise<number | null>((resolve) => {
        child.once('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      });
      expect(code).toBe(0);
      expect(stdout).toContain('"msg":"stopped"');
      expect(stdout).not.toContain(token!);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('edits the very registry --inject filled: the dashboard lists the command line\'s rule and can remove it', async () => {
    const tokenFile = join(dir, 'both.token');
    writeFileSync(tokenFile, 'a-control-token-for-both-rules\n');
    const opts = parseGatewayArgs([
      '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0', '--root', join(dir, 'root2'),
      '--inject', 'close: drop-ack times=1', '--control', '--control-token-file', tokenFile,
    ]);
    const app = await startFromOptions(opts, pino({ level: 'silent' }));
    try {
      expect(app.control!.registry).toBe(app.injections);
      const [cli] = app.control!.registry.list();
      expect(cli).toMatchObject({ origin: 'cli', rule: { text: 'close: drop-ack times=1' } });
      const port = app.dashboard!.port;
      const del = (await loopbackRequest(port, 'DELETE', `/api/injections/${cli!.id}`, { Authorization: 'Bearer a-control-token-for-both-rules' })).status;
      expect(del).toBe(204);
      expect(app.control!.registry.list()).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
