import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { uploadFile } from '../../src/client/index.js';
import { startBitsServer, type BitsServer } from '../../src/server/index.js';
import { TestPki } from '../gateway/test-pki.js';

// The tour over HTTPS end to end: our client -> gateway (TLS) -> our server (TLS), upload-reply
// included, dashboard over HTTPS with the listener's certificate.
let pki: TestPki;
let server: BitsServer;
let app: App;

beforeAll(async () => {
  pki = new TestPki();
  const gw = pki.leaf(['gw.example', '127.0.0.1'], { file: 'gw' });
  const iis = pki.leaf(['iis.example'], { file: 'iis' });
  server = await startBitsServer({
    root: join(pki.dir, 'root'), listen: { host: '127.0.0.1', port: 0 }, replyMode: 'sha256', replyPrefix: '/reply/',
    tls: { default: { certFile: iis.certFile, keyFile: iis.keyFile } },
  });
  app = await startApp({
    logger: pino({ level: 'silent' }),
    upstream: new URL(server.url),
    upstreamTls: { ca: pki.ca, servername: 'iis.example' },
    listen: { host: '127.0.0.1', port: 0 },
    dashboard: { host: '127.0.0.1', port: 0 },
    tls: { credentials: { default: { certFile: gw.certFile, keyFile: gw.keyFile } }, watchIntervalMs: 0 },
    dashboardTls: { cert: gw.cert, key: gw.key },
  });
});

afterAll(async () => {
  await app?.close();
  await server?.close();
  pki.remove();
});

describe('the tour over HTTPS', () => {
  it('uploads through an HTTPS gateway to an HTTPS server, fetches the reply, and the dashboard (HTTPS) shows the session', async () => {
    expect(server.url).toMatch(/^https:/);
    expect(app.gateway.url).toMatch(/^https:/);
    const file = join(pki.dir, 'payload.bin');
    const data = randomBytes(300_000);
    await writeFile(file, data);
    const result = await uploadFile({
      url: new URL('/reply/payload.bin', app.gateway.url), file, fragmentSize: 100_000, tls: { ca: pki.ca },
    });
    expect(result.closed).toBe(true);
    expect(result.reply?.toString().trim()).toBe(createHash('sha256').update(data).digest('hex'));
    expect(await readFile(join(pki.dir, 'root', 'reply', 'payload.bin'))).toEqual(data);
    expect(app.dashboard!.url).toMatch(/^https:/);
    const sessions = app.tracker.stats().sessionsByState;
    expect(sessions.closed).toBe(1);
  });

  it('refuses a gateway certificate the client cannot verify, unless told --insecure', async () => {
    const file = join(pki.dir, 'small.bin');
    await writeFile(file, 'hello');
    await expect(uploadFile({ url: new URL('/uploads/small.bin', app.gateway.url), file, maxRetries: 0 })).rejects.toThrow(/UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    const ok = await uploadFile({ url: new URL('/uploads/small.bin', app.gateway.url), file, tls: { insecure: true } });
    expect(ok.closed).toBe(true);
  });
});

/** The serial number of the certificate the dashboard presents to a new handshake. */
function dashboardSerial(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'gw.example' }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

describe('dashboard certificate renewal', () => {
  it('new handshakes get the renewed certificate, without a restart', async () => {
    const before = await dashboardSerial(app.dashboard!.port, pki.ca);
    const renewed = pki.leaf(['gw.example', '127.0.0.1'], { file: 'gw-renewed' });
    app.dashboard!.setTls({ cert: renewed.cert, key: renewed.key });
    const after = await dashboardSerial(app.dashboard!.port, pki.ca);
    expect(after).not.toBe(before);
    expect(after).toBe(new X509Certificate(renewed.cert).serialNumber);
  });
});
