import { createHash, randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouteTable, startGateway, upstreamTarget, type UpstreamTlsSettings } from '../../src/gateway/index.js';
import { bitsPost, CollectingSink, RawClient, startUpstream, useGatewayFixture } from './helpers.js';
import { TestPki, type Leaf } from './test-pki.js';

const fx = useGatewayFixture();
let pki: TestPki;
let gwCert: Leaf;
let iis: Leaf;
let expired: Leaf;
let wrongName: Leaf;

beforeAll(() => {
  pki = new TestPki();
  gwCert = pki.leaf(['gw.example'], { file: 'gw' });
  iis = pki.leaf(['iis.example', '127.0.0.1'], { file: 'iis' });
  expired = pki.leaf(['iis.example', '127.0.0.1'], { file: 'expired', expired: true });
  wrongName = pki.leaf(['other.example'], { file: 'wrong' });
});
afterAll(() => pki.remove());

const PING = bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]);

/** An HTTPS upstream with `leaf`; records the SNI each handshake asked for. */
async function httpsUpstream(leaf: Leaf, extra: tls.TlsOptions = {}) {
  const sni: Array<string | undefined> = [];
  const upstream = await startUpstream((req) => ({
    status: 200,
    headers: [['BITS-Packet-Type', 'Ack'], ['BITS-Received-Content-Range', String(req.bodyBytes)], ['X-Body-Sha256', req.sha256], ['Content-Length', '0']],
  }), {
    cert: leaf.cert, key: leaf.key, ALPNProtocols: ['http/1.1'],
    SNICallback: (name, cb) => {
      sni.push(name);
      cb(null, undefined);
    },
    ...extra,
  });
  upstream.url.hostname = '127.0.0.1';
  return Object.assign(upstream, { sni });
}

async function gatewayTo(url: URL, settings: UpstreamTlsSettings, servername?: string, sink = new CollectingSink()) {
  fx.gateway = await startGateway({
    routes: new RouteTable([], upstreamTarget(url, settings, servername)),
    listen: { host: '127.0.0.1', port: 0 },
    sinks: [sink],
    tls: { credentials: { default: { certFile: gwCert.certFile, keyFile: gwCert.keyFile } }, watchIntervalMs: 0 },
  });
  return sink;
}

const tlsClient = () => RawClient.connectTls(fx.gateway!.address.port, { ca: pki.ca, servername: 'gw.example' });

describe('TLS towards the upstream', () => {
  it('relays a literal BITS_POST fragment byte-exactly: HTTPS client -> gateway -> HTTPS upstream, one pinned TLS connection', async () => {
    const upstream = await httpsUpstream(iis);
    fx.upstream = upstream;
    const sink = await gatewayTo(upstream.url, { ca: pki.ca }, 'iis.example');
    const client = await tlsClient();
    const body = randomBytes(256 * 1024);
    client.write(PING);
    client.write(bitsPost('/up/f.bin', [
      ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', '{0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}'],
      ['Content-Range', `bytes 0-${body.length - 1}/${body.length}`], ['Content-Length', String(body.length)],
    ], body));
    const [ping, frag] = await client.responsesAfter(2);
    expect(ping!.status).toBe(200);
    expect(frag!.headers).toEqual([
      ['BITS-Packet-Type', 'Ack'], ['BITS-Received-Content-Range', String(body.length)],
      ['X-Body-Sha256', createHash('sha256').update(body).digest('hex')], ['Content-Length', '0'],
    ]);
    const seen = upstream.requests;
    expect(seen.map((r) => [r.method, r.socketId])).toEqual([['BITS_POST', 1], ['BITS_POST', 1]]);
    // Node's client may add its own `Connection: keep-alive` (hop-by-hop, not ours to assert here).
    expect(seen[1]!.rawHead.replace('Connection: keep-alive\r\n', '')).toBe(
      'BITS_POST /up/f.bin HTTP/1.1\r\nHost: files.example.com\r\nBITS-Packet-Type: Fragment\r\n' +
      'BITS-Session-Id: {0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}\r\n' +
      `Content-Range: bytes 0-${body.length - 1}/${body.length}\r\nContent-Length: ${body.length}\r\n` +
      'X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: files.example.com\r\n\r\n',
    );
    expect(upstream.sni).toEqual(['iis.example']);
    // A second client connection gets its own upstream TLS connection.
    const second = await tlsClient();
    second.write(PING);
    await second.responsesAfter(1);
    expect(upstream.requests[2]!.socketId).toBe(2);
    const observations = await sink.waitFor(3);
    expect(observations.map((o) => o.upstreamConnectionId)).toEqual([observations[0]!.upstreamConnectionId, observations[0]!.upstreamConnectionId, observations[2]!.upstreamConnectionId]);
    expect(observations[2]!.upstreamConnectionId).not.toBe(observations[0]!.upstreamConnectionId);
  });

  it('sends the URL host as SNI when it is a name', async () => {
    const upstream = await httpsUpstream(iis);
    fx.upstream = upstream;
    const url = new URL(upstream.url);
    url.hostname = 'localhost';
    // localhost is not on the certificate: refused, and the SNI shows what was asked.
    await gatewayTo(url, { ca: pki.ca });
    const client = await tlsClient();
    client.write(PING);
    expect((await client.responsesAfter(1))[0]!.status).toBe(502);
    expect(upstream.sni).toEqual(['localhost']);
  });

  const refusals: Array<[string, () => Leaf, UpstreamTlsSettings, string | undefined]> = [
    ['an expired certificate', () => expired, { ca: pki?.ca }, 'iis.example'],
    ['a certificate for another name', () => wrongName, { ca: pki?.ca }, 'iis.example'],
    ['a certificate from an unknown CA', () => iis, {}, 'iis.example'],
  ];
  for (const [what, leaf, settings, servername] of refusals) {
    it(`refuses ${what} with 502 upstream-certificate, and accepts it with --upstream-insecure`, async () => {
      const upstream = await httpsUpstream(leaf());
      fx.upstream = upstream;
      const sink = await gatewayTo(upstream.url, { ...settings, ca: settings.ca ? pki.ca : undefined }, servername);
      const client = await tlsClient();
      client.write(PING);
      const [res] = await client.responsesAfter(1);
      expect(res!.status).toBe(502);
      expect((await sink.waitFor(1))[0]!.error).toBe('upstream-certificate');
      expect(upstream.requests).toEqual([]);
      await fx.gateway!.close();
      await gatewayTo(upstream.url, { insecure: true }, servername);
      const again = await tlsClient();
      again.write(PING);
      expect((await again.responsesAfter(1))[0]!.status).toBe(200);
      again.destroy();
      client.destroy();
    });
  }

  it('presents a client certificate to an upstream that requires one', async () => {
    const clientLeaf = pki.leaf(['bitsgate'], { client: true });
    const upstream = await httpsUpstream(iis, { requestCert: true, rejectUnauthorized: true, ca: pki.ca });
    fx.upstream = upstream;
    await gatewayTo(upstream.url, { ca: pki.ca, cert: clientLeaf.cert, key: clientLeaf.key }, 'iis.example');
    const client = await tlsClient();
    client.write(PING);
    expect((await client.responsesAfter(1))[0]!.status).toBe(200);
    await fx.gateway!.close();
    const sink = await gatewayTo(upstream.url, { ca: pki.ca }, 'iis.example');
    const without = await tlsClient();
    without.write(PING);
    expect((await without.responsesAfter(1))[0]!.status).toBe(502);
    expect((await sink.waitFor(1))[0]!.error).toMatch(/^upstream-/);
    client.destroy();
  });
});
