import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { BIN, GatewayProcess } from './harness.js';
import { parseGatewayArgs } from '../../src/commands/gateway.js';
import { UsageError } from '../../src/util/option-values.js';

describe('--workers', () => {
  it('defaults to 1 (one process, no cluster) and takes 1 to 64', () => {
    expect(parseGatewayArgs([]).workers).toBe(1);
    expect(parseGatewayArgs(['--workers', '4']).workers).toBe(4);
    expect(() => parseGatewayArgs(['--workers', '0'])).toThrow(UsageError);
    expect(() => parseGatewayArgs(['--workers', '65'])).toThrow(UsageError);
    expect(() => parseGatewayArgs(['--workers', 'two'])).toThrow(UsageError);
    // The injection registry lives in one process: refused rather than silently not applied.
    expect(() => parseGatewayArgs(['--workers', '2', '--control'])).toThrow('--inject and --control: not available with --workers above 1 yet');
    // Judged on the number, not the text: `01` is one process.
    expect(parseGatewayArgs(['--workers', '01', '--control']).workers).toBe(1);
  });

  it('is read from the config file as `workers:`, the command line winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitsgate-workers-config-'));
    try {
      const file = join(dir, 'bitsgate.yaml');
      writeFileSync(file, 'listen: 127.0.0.1:0\nworkers: 3\n');
      expect(parseGatewayArgs(['--config', file]).workers).toBe(3);
      expect(parseGatewayArgs(['--config', file, '--workers', '2']).workers).toBe(2);
      writeFileSync(file, 'workers: 0\n');
      expect(() => parseGatewayArgs(['--config', file])).toThrow(`${file}:1: workers:`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--workers 1', () => {
  it('is the single process of today: no worker processes, no cluster', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitsgate-workers-one-'));
    const gw = await GatewayProcess.start(['--workers', '1', '--root', join(dir, 'up'), '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0']);
    try {
      expect(gw.workerPids()).toEqual([]);
      expect(gw.logLines().find((l) => l.msg === 'gateway listening')).not.toHaveProperty('workers');
      gw.child.kill('SIGTERM');
      const code = await gw.exited;
      expect(code, gw.out).toBe(0);
    } finally {
      gw.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});

describe('--workers 2 on an address in use', () => {
  it('ends with the one line a single process prints, and exit 1', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as net.AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'bitsgate-workers-busy-'));
    const child = spawn(process.execPath, [BIN, '--workers', '2', '--root', join(dir, 'up'), '--listen', `127.0.0.1:${port}`, '--dashboard', '127.0.0.1:0'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    try {
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(err).toBe(`bitsgate gateway: cannot listen on 127.0.0.1:${port}: the address is already in use (EADDRINUSE)\n`);
      expect(code).toBe(1);
    } finally {
      child.kill('SIGKILL');
      busy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
