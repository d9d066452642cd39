import crypto from 'node:crypto';
import { copyFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayTlsOptions } from '../../src/gateway/index.js';
import type { TlsErrorReport } from '../../src/gateway/tls-listener.js';
import { bitsPost, CollectingSink, headerOf, RawClient, startUpstream, useGatewayFixture, waitUntil } from './helpers.js';
import { TestPki, type Leaf } from './test-pki.js';

const fx = useGatewayFixture();
let pki: TestPki;
let gw: Leaf;
let farm: Leaf;

beforeAll(() => {
  pki = new TestPki();
  gw = pki.leaf(['gw.example', '127.0.0.1'], { file: 'gw' });
  farm = pki.leaf(['farm.example'], { file: 'farm' });
});
afterAll(() => pki.remove());

const PING = bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]);

async function setup(tlsOptions: Partial<GatewayTlsOptions> = {}) {
  const sink = new CollectingSink();
  const errors: TlsErrorReport[] = [];
  fx.upstream = await startUpstream();
  fx.gateway = await startGateway({
    upstream: fx.upstream.url,
    listen: { host: '127.0.0.1', port: 0 },
    sinks: [sink],
    tls: {
      credentials: { default: { certFile: gw.certFile, keyFile: gw.keyFile }, sni: [{ name: 'farm.example', source: farm }] },
      watchIntervalMs: 0,
      onTlsError: (r) => errors.push(r),
      ...tlsOptions,
    },
  });
  return { sink, errors, port: fx.gateway.address.port };
}

function peerName(client: RawClient): string | undefined {
  return (client.socket as tls.TLSSocket).getPeerCertificate().subject?.CN as string | undefined;
}

describe('TLS towards clients', () => {
  it('serves a literal BITS_POST over TLS 1.3 with ALPN http/1.1, says https upstream and in the observation', async () => {
    const { sink, port } = await setup();
    const client = await RawClient.connectTls(port, { ca: pki.ca, servername: 'gw.example', ALPNProtocols: ['http/1.1'] });
    expect((client.socket as tls.TLSSocket).alpnProtocol).toBe('http/1.1');
    expect((client.socket as tls.TLSSocket).getProtocol()).toBe('TLSv1.3');
    client.write(PING);
    const [res] = await client.responsesAfter(1);
    expect(client.raw).toBe('HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\n\r\n');
    expect(res!.status).toBe(200);
    const seen = fx.upstream!.requests[0]!;
    expect(seen.method).toBe('BITS_POST');
    expect(seen.headers.filter(([n]) => n === 'X-Forwarded-Proto')).toEqual([['X-Forwarded-Proto', 'https']]);
    const [obs] = await sink.waitFor(1);
    expect(obs!.scheme).toBe('https');
    expect(obs!.method).toBe('BITS_POST');
    client.destroy();
  });

  it('picks the certificate by SNI; no SNI or an unknown name gets the default', async () => {
    const { port } = await setup();
    const byName = await RawClient.connectTls(port, { ca: pki.ca, servername: 'farm.example' });
    expect(peerName(byName)).toBe('farm.example');
    const noSni = await RawClient.connectTls(port, { ca: pki.ca, checkServerIdentity: () => undefined });
    expect(peerName(noSni)).toBe('gw.example');
    const other = await RawClient.connectTls(port, { ca: pki.ca, servername: 'unknown.example', checkServerIdentity: () => undefined });
    expect(peerName(other)).toBe('gw.example');
    for (const c of [byName, noSni, other]) c.destroy();
  });

  it('answers plain HTTP (a BITS_POST) on the TLS port with a 400 and counts it', async () => {
    const { errors, port } = await setup();
    const client = await RawClient.connect(port);
    client.write(PING);
    expect(await client.waitClosed()).toBe(true);
    const body = 'This port speaks HTTPS: use an https:// URL.\n';
    expect(client.raw).toBe(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(errors.map((e) => e.cause)).toEqual(['plain-http']);
    expect(errors[0]!.message).toBe('plain "BITS_POST /up/f.bin" sent to the TLS port');
  });

  it('counts bad handshakes by cause, closes them, and keeps serving', async () => {
    // Long enough for a real handshake on a loaded machine, short enough for the stalled ones.
    const { errors, port } = await setup({ handshakeTimeoutMs: 1_500 });
    const failed = (options: tls.ConnectionOptions) =>
      new Promise<void>((resolve) => {
        const s = tls.connect({ port, host: '127.0.0.1', ca: pki.ca, servername: 'gw.example', ...options });
        s.on('error', () => resolve());
        s.on('secureConnect', () => resolve());
      });
    await failed({ ALPNProtocols: ['h2'] });
    await failed({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
    // A handshake record header followed by garbage.
    const garbage = net.connect(port, '127.0.0.1');
    garbage.on('error', () => {});
    garbage.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]));
    // Silent clients: one sends nothing, one stops inside the handshake.
    const silent = net.connect(port, '127.0.0.1');
    silent.on('error', () => {});
    const stalled = net.connect(port, '127.0.0.1');
    stalled.on('error', () => {});
    let stalledClosed = false;
    stalled.on('close', () => (stalledClosed = true));
    stalled.write(Buffer.from([0x16, 0x03, 0x01]));
    await waitUntil(() => errors.length >= 5, 10_000, 'five handshake errors');
    await waitUntil(() => silent.destroyed || silent.readableEnded, 5_000, 'silent socket closed');
    // Node's handshake timeout only emits tlsClientError: the listener must close the socket itself.
    await waitUntil(() => stalledClosed, 5_000, 'stalled handshake closed');
    expect(errors.map((e) => e.cause).sort()).toEqual(
      ['handshake-failed', 'handshake-timeout', 'handshake-timeout', 'no-application-protocol', 'protocol-version'],
    );
    for (const s of [garbage, silent, stalled]) s.destroy();
    const client = await RawClient.connectTls(port, { ca: pki.ca, servername: 'gw.example' });
    client.write(PING);
    expect((await client.responsesAfter(1))[0]!.status).toBe(200);
    client.destroy();
  });

  it('still answers a client that half-closes (close_notify + FIN) after its request', async () => {
    const { port } = await setup();
    const client = await RawClient.connectTls(port, { ca: pki.ca, servername: 'gw.example' });
    client.write(PING);
    client.socket.end();
    expect((await client.responsesAfter(1))[0]!.status).toBe(200);
  });

  it('loads a PFX with its passphrase file, and names a wrong passphrase', async () => {
    const { pfxFile, passphraseFile } = pki.pfx(gw, 'p@ss word');
    const { port } = await setup({ credentials: { default: { pfxFile, passphraseFile } } });
    const client = await RawClient.connectTls(port, { ca: pki.ca, servername: 'gw.example' });
    expect(peerName(client)).toBe('gw.example');
    client.destroy();
    await fx.gateway!.close();
    fx.gateway = undefined;
    const wrong = `${passphraseFile}.wrong`;
    copyFileSync(pki.caFile, wrong);
    await expect(startGateway({
      upstream: fx.upstream!.url, listen: { host: '127.0.0.1', port: 0 },
      tls: { credentials: { default: { pfxFile, passphraseFile: wrong } }, watchIntervalMs: 0 },
    })).rejects.toThrow(/mac verify failure: wrong passphrase \(--tls-passphrase-file\)/);
  });

  it('refuses a client without a certificate when a client CA is required, and counts it', async () => {
    const client = pki.leaf(['operator'], { client: true });
    const { errors, port } = await setup({
      credentials: { default: { certFile: gw.certFile, keyFile: gw.keyFile }, clientCaFile: pki.caFile },
    });
    await new Promise<void>((resolve) => {
      const s = tls.connect({ port, host: '127.0.0.1', ca: pki.ca, servername: 'gw.example' });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.on('secureConnect', () => s.write(PING));
    });
    await waitUntil(() => errors.length === 1, 2_000, 'client-certificate error');
    expect(errors[0]!.cause).toBe('client-certificate');
    const good = await RawClient.connectTls(port, { ca: pki.ca, servername: 'gw.example', cert: client.cert, key: client.key });
    good.write(PING);
    expect((await good.responsesAfter(1))[0]!.status).toBe(200);
    good.destroy();
  });

  it('reloads certificates under load without a failed request; new handshakes see the new certificate', async () => {
    const dir = pki.dir;
    const certFile = `${dir}/live.crt`;
    const keyFile = `${dir}/live.key`;
    copyFileSync(gw.certFile, certFile);
    copyFileSync(gw.keyFile, keyFile);
    let reloads = 0;
    const { errors, port } = await setup({
      credentials: { default: { certFile, keyFile } },
      watchIntervalMs: 50,
      onReload: () => reloads++,
    });
    const renewed = pki.leaf(['gw.example', '127.0.0.1'], { file: 'renewed' });
    let ok = 0;
    let failed = 0;
    let stop = false;
    // A kept-alive connection opened before the reload keeps working after it.
    const longLived = await RawClient.connectTls(port, { ca: pki.ca, servername: 'gw.example' });
    const worker = async () => {
      while (!stop) {
        try {
          const c = await RawClient.connectTls(port, { ca: pki.ca, servername: 'gw.example' });
          c.write(PING);
          const [r] = await c.responsesAfter(1);
          if (r!.status === 200) ok++;
          else failed++;
          c.destroy();
        } catch {
          failed++;
        }
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    await waitUntil(() => ok >= 20, 5_000, 'load running');
    copyFileSync(renewed.certFile, certFile);
    copyFileSync(renewed.keyFile, keyFile);
    await waitUntil(() => reloads >= 1, 5_000, 'file-change reload');
    await fx.gateway!.reloadTls();
    const before = ok;
    await waitUntil(() => ok >= before + 20, 5_000, 'load after reload');
    stop = true;
    await Promise.all(workers);
    expect(failed).toBe(0);
    expect(errors).toEqual([]);
    const fresh = await RawClient.connectTls(port, { ca: pki.ca, servername: 'gw.example' });
    const serial = (s: RawClient) => (s.socket as tls.TLSSocket).getPeerCertificate().serialNumber;
    expect(serial(fresh)).toBe(new crypto.X509Certificate(renewed.cert).serialNumber);
    expect(serial(longLived)).toBe(new crypto.X509Certificate(gw.cert).serialNumber);
    longLived.write(PING);
    expect((await longLived.responsesAfter(1))[0]!.status).toBe(200);
    expect(headerOf((await longLived.responsesAfter(1))[0]!, 'BITS-Packet-Type')).toBe('Ack');
    for (const c of [fresh, longLived]) c.destroy();
  });

  it('keeps the old certificates when a reload finds a broken file, and says so', async () => {
    const certFile = `${pki.dir}/broken.crt`;
    copyFileSync(gw.certFile, certFile);
    const { errors, port } = await setup({ credentials: { default: { certFile, keyFile: gw.keyFile } } });
    copyFileSync(farm.certFile, certFile); // certificate of another key
    await fx.gateway!.reloadTls();
    expect(errors.map((e) => e.cause)).toEqual(['reload-failed']);
    expect(errors[0]!.message).toMatch(/previous ones stay in use/);
    const client = await RawClient.connectTls(port, { ca: pki.ca, servername: 'gw.example' });
    expect(peerName(client)).toBe('gw.example');
    client.destroy();
  });
});
