import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bitsPost, RawClient, startUpstream, waitUntil } from './helpers.js';
import { TestPki, type Leaf } from './test-pki.js';

/**
 * bitsgate as a service: started from a config file, HTTPS on both sides, SIGHUP reloads
 * the certificate, SIGTERM lets the exchange in flight finish and flushes the recording.
 */

let pki: TestPki;
let gw: Leaf;
let iis: Leaf;
beforeAll(() => {
  pki = new TestPki();
  gw = pki.leaf(['gw.example'], { file: 'gw' });
  iis = pki.leaf(['iis.example', '127.0.0.1'], { file: 'iis' });
});
afterAll(() => pki.remove());

const PING = bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]);

describe('bitsgate as a service', () => {
  it('runs from a config file with TLS on both sides, reloads on SIGHUP, and on SIGTERM finishes the exchange in flight', async () => {
    let release: (() => void) | undefined;
    const upstream = await startUpstream((req) => {
      const slow = req.headers.some(([n, v]) => n === 'X-Slow' && v === '1');
      const reply = { status: 200, headers: [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0']] as Array<[string, string]> };
      return slow ? new Promise((resolve) => (release = () => resolve(reply))) : reply;
    }, { cert: iis.cert, key: iis.key });
    copyFileSync(gw.certFile, join(pki.dir, 'svc.crt'));
    copyFileSync(gw.keyFile, join(pki.dir, 'svc.key'));
    const record = join(pki.dir, 'svc.ndjson');
    const config = join(pki.dir, 'bitsgate.yaml');
    writeFileSync(config, [
      `upstream: https://127.0.0.1:${upstream.port}`,
      'upstream-servername: iis.example',
      'upstream-ca: ca.crt',
      'listen: 127.0.0.1:0',
      'no-dashboard: true',
      'tls-cert: svc.crt',
      'tls-key: svc.key',
      'record: svc.ndjson',
      'shutdown-grace: 10s',
      '',
    ].join('\n'));
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'src', 'cli.ts'), '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    try {
      await waitUntil(() => out.includes('gateway listening') || child.exitCode !== null, 30_000, 'gateway listening');
      if (!out.includes('gateway listening')) throw new Error(out);
      const listen = JSON.parse(out.split('\n').find((l) => l.includes('gateway listening'))!).listen as string;
      expect(listen).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const port = Number(new URL(listen).port);
      const connect = () => RawClient.connectTls(port, { ca: pki.ca, servername: 'gw.example' });

      const first = await connect();
      first.write(PING);
      expect((await first.responsesAfter(1))[0]!.status).toBe(200);

      const renewed = pki.leaf(['gw.example'], { file: 'svc-renewed' });
      copyFileSync(renewed.certFile, join(pki.dir, 'svc.crt'));
      copyFileSync(renewed.keyFile, join(pki.dir, 'svc.key'));
      child.kill('SIGHUP');
      await waitUntil(() => out.includes('certificates reloaded'), 5_000, 'reload log line');
      const second = await connect();
      const serial = (second.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber;
      expect(serial).toBe(new (await import('node:crypto')).X509Certificate(renewed.cert).serialNumber);

      // An exchange in flight when SIGTERM arrives.
      second.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['X-Slow', '1'], ['Content-Length', '0']]));
      await waitUntil(() => release !== undefined, 5_000, 'slow request upstream');
      child.kill('SIGTERM');
      await waitUntil(() => out.includes('shutting down'), 5_000, 'shutdown log line');
      // No new connections once shutting down.
      const refused = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => resolve(true));
        s.on('connect', () => {
          s.destroy();
          resolve(false);
        });
      });
      expect(refused).toBe(true);
      // The idle kept-alive connection is closed; the busy one gets its answer, then closes.
      expect(await first.waitClosed()).toBe(true);
      release!();
      const [slow] = await second.responsesAfter(1);
      expect(slow!.status).toBe(200);
      expect(slow!.headers.find(([n]) => n.toLowerCase() === 'connection')).toEqual(['Connection', 'close']);
      expect(await exited).toBe(0);
      const lines = readFileSync(record, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; scheme?: string; status?: number });
      expect(lines.slice(1).filter((l) => l.type === 'observation').map((l) => [l.type, l.scheme, l.status])).toEqual([
        ['observation', 'https', 200], ['observation', 'https', 200],
      ]);
    } finally {
      child.kill('SIGKILL');
      await upstream.close();
    }
  }, 40_000);

  it('refuses to start with a config error naming the key and line, exit 2', async () => {
    const config = join(pki.dir, 'bad.yaml');
    writeFileSync(config, 'listen: 127.0.0.1:0\ntls-crt: x.pem\n');
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'src', 'cli.ts'), '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(err).toContain(`${config}:2: tls-crt: unknown option`);
    expect(code).toBe(2);
  }, 20_000);
});
