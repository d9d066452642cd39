import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { command, parseGatewayArgs } from '../../src/commands/gateway.js';
import { UsageError } from '../../src/util/option-values.js';
import { bitsPost, RawClient, startUpstream, waitUntil } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'bitsgate-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bitsgate gateway options', () => {
  it('has defaults matching the help text', () => {
    const o = parseGatewayArgs(['--upstream', 'http://10.0.0.5:8081']);
    expect(o).toMatchObject({
      listen: { host: '127.0.0.1', port: 8080 }, upstreamTimeoutMs: 120_000, headersTimeoutMs: 30_000,
      forwardedHeaders: true, record: undefined, logLevel: 'info', pretty: undefined,
    });
    expect(o.upstream!.href).toBe('http://10.0.0.5:8081/');
    expect(command.help).toContain('--no-forwarded-headers');
    expect(command.help).toContain('default 127.0.0.1:8080');
    expect(command.help).toContain('default 120s');
  });

  it('parses every option', () => {
    const o = parseGatewayArgs([
      '--upstream', 'http://up:80', '--listen', '0.0.0.0:9000', '--upstream-timeout', '5s', '--headers-timeout', '500ms', '--body-timeout', '9s',
      '--no-forwarded-headers', '--record', 'x.ndjson', '--log-level', 'debug', '--pretty',
    ]);
    expect(o).toMatchObject({
      listen: { host: '0.0.0.0', port: 9000 }, upstreamTimeoutMs: 5_000, headersTimeoutMs: 500, bodyTimeoutMs: 9_000, forwardedHeaders: false,
      record: 'x.ndjson', logLevel: 'debug', pretty: true,
    });
  });

  it('rejects bad values with a usage error naming the option', () => {
    expect(() => parseGatewayArgs(['--upstream', 'ftp://x'])).toThrow(UsageError);
    expect(() => parseGatewayArgs(['--log-level', 'loud'])).toThrow(/--log-level/);
    expect(() => parseGatewayArgs(['--upstream-timeout', '0'])).toThrow(/--upstream-timeout/);
    expect(() => parseGatewayArgs(['--listen', 'nope'])).toThrow(/--listen/);
    expect(() => parseGatewayArgs(['--bogus'])).toThrow();
  });

  it('refuses contradictory options', () => {
    expect(() => parseGatewayArgs(['--upstream', 'http://up:80', '--root', 'x'])).toThrow(/--root/);
    expect(() => parseGatewayArgs(['--no-dashboard', '--dashboard', '127.0.0.1:1'])).toThrow(/--no-dashboard/);
    expect(() => parseGatewayArgs(['--dashboard-token', 'short'])).toThrow(/--dashboard-token/);
    expect(() => parseGatewayArgs(['--max-sessions', '0'])).toThrow(/--max-sessions/);
    expect(() => parseGatewayArgs(['--dashboard-allowed-host', 'a b'])).toThrow(/--dashboard-allowed-host/);
    expect(parseGatewayArgs(['--dashboard-allowed-host', 'GW.Example.org', '--dashboard-allowed-host', 'gw'])
      .dashboardAllowedHosts).toEqual(['gw.example.org', 'gw']);
  });

  it('defaults to the embedded server and the dashboard on 127.0.0.1:8081', () => {
    const o = parseGatewayArgs([]);
    expect(o).toMatchObject({
      upstream: undefined, embeddedRoot: './uploads', dashboard: { host: '127.0.0.1', port: 8081 },
      maxSessions: 100_000, sessionTimeoutMs: 14 * 86_400_000,
    });
    expect(parseGatewayArgs(['--no-dashboard']).dashboard).toBe(false);
  });

  it('runs without --upstream: embedded server, dashboard, a BITS upload tracked end to end', async () => {
    const root = join(dir, 'embedded-root');
    const child = spawn(process.execPath, [
      '--import', 'tsx', join(__dirname, '..', '..', 'src', 'cli.ts'),
      '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0', '--root', root,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stdout = '';
    child.stdout.on('data', (d) => ((out += d), (stdout += d)));
    child.stderr.on('data', (d) => (out += d));
    try {
      // The banner goes to stderr at once; the JSON log line to stdout through pino's async
      // writer, so either may come first.
      await waitUntil(() => out.includes('Try it:') && /gateway listening.*\n/.test(stdout), 15_000, 'banner and log line');
      const started = JSON.parse(stdout.split('\n').find((l) => l.includes('gateway listening'))!);
      expect(started.embedded).toBe(true);
      const port = Number(new URL(started.listen).port);
      const c = await RawClient.connect(port);
      c.write(bitsPost('/uploads/t.bin', [
        ['BITS-Packet-Type', 'Create-Session'],
        ['BITS-Supported-Protocols', '{7df0354d-249b-430f-820d-3d2a9bef4931}'],
        ['Content-Length', '0'],
      ]));
      const [created] = await c.responsesAfter(1);
      expect(created!.status).toBe(200);
      const sid = created!.headers.find(([n]) => n.toLowerCase() === 'bits-session-id')![1];
      c.write(bitsPost('/uploads/t.bin', [
        ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid],
        ['Content-Range', 'bytes 0-4/5'], ['Content-Length', '5'],
      ], 'hello'));
      c.write(bitsPost('/uploads/t.bin', [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', sid], ['Content-Length', '0']]));
      const rest = await c.responsesAfter(3);
      expect(rest.map((r) => r.status)).toEqual([200, 200, 200]);
      c.destroy();
      expect(readFileSync(join(root, 'uploads', 't.bin'), 'utf8')).toBe('hello');
      const sessions = await (await fetch(new URL('/api/sessions', started.dashboard))).json() as Array<{ id: string; state: string }>;
      expect(sessions.find((s) => s.id === sid)).toMatchObject({ state: 'closed', ackedBytes: 5, totalLength: 5 });
      const code = await new Promise<number | null>((resolve) => {
        child.once('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      });
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('runs as a process: forwards BITS_POST, logs JSON, records NDJSON, exits 0 on SIGTERM', async () => {
    const upstream = await startUpstream();
    const record = join(dir, 'run.ndjson');
    const child = spawn(process.execPath, [
      '--import', 'tsx', join(__dirname, '..', '..', 'src', 'cli.ts'), '--upstream', upstream.url.href,
      '--listen', '127.0.0.1:0', '--no-dashboard', '--record', record,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      await waitUntil(() => out.includes('gateway listening'), 15_000, 'gateway listening');
      const listen = JSON.parse(out.split('\n').find((l) => l.includes('gateway listening'))!).listen as string;
      const c = await RawClient.connect(Number(new URL(listen).port));
      c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
      expect((await c.responsesAfter(1))[0]!.status).toBe(200);
      c.destroy();
      await waitUntil(() => out.includes('"msg":"exchange"'), 5_000, 'exchange log line');
      const code = await new Promise<number | null>((resolve) => {
        child.once('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      });
      expect(code).toBe(0);
      const lines = readFileSync(record, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(lines[0]).toEqual({ type: 'meta', format: 'bitsgate-observations', version: 1 });
      expect(lines[1]).toMatchObject({ type: 'observation', method: 'BITS_POST', url: '/up/f.bin', status: 200 });
      const logLine = JSON.parse(out.split('\n').find((l) => l.includes('"msg":"exchange"'))!);
      expect(logLine).toMatchObject({ level: 30, packet: 'ping', status: 200, method: 'BITS_POST' });
    } finally {
      child.kill('SIGKILL');
      await upstream.close();
    }
  }, 30_000);
});
