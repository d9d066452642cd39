import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bits } from '../server/raw-http.js';
import { TestPki } from '../gateway/test-pki.js';
import { GatewayProcess, waitFor } from './harness.js';

/**
 * `bitsgate --workers 2` with TLS and the embedded BITS server (started once, by the
 * primary): a session ticket issued by one worker resumes on the other (shared ticket
 * keys), and SIGHUP reloads the certificate in every worker.
 */

let pki: TestPki;
let gw: GatewayProcess & { port: number; dashboard: string };
const PING = bits('/uploads/p', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]);

beforeAll(async () => {
  pki = new TestPki();
  const leaf = pki.leaf(['gw.example'], { file: 'gw' });
  copyFileSync(leaf.certFile, join(pki.dir, 'svc.crt'));
  copyFileSync(leaf.keyFile, join(pki.dir, 'svc.key'));
  gw = await GatewayProcess.start([
    '--workers', '2', '--root', join(pki.dir, 'uploads'), '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0',
    '--tls-cert', join(pki.dir, 'svc.crt'), '--tls-key', join(pki.dir, 'svc.key'), '--record', join(pki.dir, 'rec.ndjson'),
  ]);
}, 40_000);

afterAll(() => {
  gw?.kill();
  pki?.remove();
});

interface Pinged { reused: boolean; serial: string; session: Buffer | undefined }

/** One TLS connection, one Ping; resumes `session` when given, else waits for the ticket it gets. */
function pingOverTls(session?: Buffer): Promise<Pinged> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port: gw.port, host: '127.0.0.1', ca: pki.ca, servername: 'gw.example', ...(session && { session }) });
    let ticket: Buffer | undefined;
    let answer = '';
    socket.on('session', (s: Buffer) => (ticket = s));
    socket.on('error', reject);
    socket.on('secureConnect', () => socket.write(PING));
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
      if (!answer.includes('\r\n\r\n')) return;
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      // TLS 1.3 tickets come after the handshake: by the time the answer is here, they are too.
      const done = () => {
        resolve({ reused: socket.isSessionReused(), serial: socket.getPeerCertificate().serialNumber, session: ticket });
        socket.destroy();
      };
      if (ticket || session) done();
      else socket.once('session', () => setImmediate(done));
    });
  });
}

function recordedNodes(): string[] {
  return readFileSync(join(pki.dir, 'rec.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; node?: string })
    .filter((l) => l.type === 'observation').map((l) => l.node!.replace(/^.*#/, '#'));
}

describe('bitsgate --workers 2 with TLS', () => {
  it('resumes a TLS session issued by one worker on the other: the workers share ticket keys', async () => {
    const first = await pingOverTls();
    expect(first.reused).toBe(false);
    const resumed = [];
    for (let i = 0; i < 3; i++) resumed.push(await pingOverTls(first.session));
    expect(resumed.map((r) => r.reused)).toEqual([true, true, true]);
    // Round-robin: the four connections went to both workers.
    await waitFor(() => recordedNodes().length === 4, 5_000, 'four recorded exchanges');
    expect(new Set(recordedNodes())).toEqual(new Set(['#w1', '#w2']));
  }, 30_000);

  it('SIGHUP reloads the certificate in every worker', async () => {
    const renewed = pki.leaf(['gw.example'], { file: 'svc-renewed' });
    copyFileSync(renewed.certFile, join(pki.dir, 'svc.crt'));
    copyFileSync(renewed.keyFile, join(pki.dir, 'svc.key'));
    gw.child.kill('SIGHUP');
    const reloads = () => gw.logLines().filter((l) => l.msg === 'tls: certificates reloaded').map((l) => String(l.worker).replace(/^.*#/, '#'));
    await waitFor(() => reloads().length >= 2, 10_000, 'a reload line from each worker');
    expect(new Set(reloads())).toEqual(new Set(['#w1', '#w2']));
    const serial = new X509Certificate(renewed.cert).serialNumber;
    const fresh = [await pingOverTls(), await pingOverTls()];
    expect(fresh.map((f) => f.serial)).toEqual([serial, serial]);
    await waitFor(() => recordedNodes().length === 6, 5_000, 'six recorded exchanges');
    expect(new Set(recordedNodes().slice(4))).toEqual(new Set(['#w1', '#w2']));
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
  }, 30_000);
});
