import { describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway/index.js';
import { bitsPost, CollectingSink, startUpstream, useGatewayFixture } from './helpers.js';

/**
 * Methods the gateway never forwards (CONNECT, TRACE) are answered at once by the gateway
 * itself, whatever the upstream timeout, and never reach the upstream (issue 15, part 3).
 */

const fx = useGatewayFixture();
const UPSTREAM_TIMEOUT_MS = 30_000;

function refusal(method: string): string {
  const body = `Not Implemented: bitsgate does not forward ${method} requests\n`;
  return `HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n` +
    `Connection: close\r\n\r\n${body}`;
}

async function setup() {
  fx.upstream = await startUpstream();
  const sink = new CollectingSink();
  fx.gateway = await startGateway({
    upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink], upstreamTimeoutMs: UPSTREAM_TIMEOUT_MS,
  });
  return sink;
}

describe('methods the gateway does not forward', () => {
  it.each([
    ['CONNECT', 'CONNECT /x.bin HTTP/1.1\r\nHost: files.example.com\r\n\r\n'],
    ['TRACE', 'TRACE /x.bin HTTP/1.1\r\nHost: files.example.com\r\nAuthorization: NTLM c2VjcmV0\r\n\r\n'],
    // Node's http client upper-cases methods: a lower-case `connect` would become a CONNECT upstream.
    ['CONNECT', 'connect /x.bin HTTP/1.1\r\nHost: files.example.com\r\n\r\n'],
  ])('%s is answered 501 at once, never forwarded, and the connection closes', async (method, request) => {
    const sink = await setup();
    const c = await fx.client();
    // Tunnel bytes a client may send right behind its CONNECT must never be read as a request.
    c.write(request + bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]).toString('latin1'));
    await c.responsesAfter(1, 2_000);
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(c.raw).toBe(refusal(method));
    const obs = await sink.waitFor(1);
    expect(obs).toHaveLength(1);
    expect(obs[0]).toMatchObject({
      method: request.slice(0, request.indexOf(' ')), url: '/x.bin', status: 501, responder: 'gateway', error: 'method-not-forwarded',
    });
    expect(fx.upstream!.accepted).toBe(0);
  });

  it('a CONNECT with a body is refused the same way', async () => {
    const sink = await setup();
    const c = await fx.client();
    c.write('CONNECT /x.bin HTTP/1.1\r\nHost: files.example.com\r\nContent-Length: 5\r\n\r\nhello');
    await c.responsesAfter(1, 2_000);
    expect(c.raw).toBe(refusal('CONNECT'));
    expect((await sink.waitFor(1))[0]).toMatchObject({ status: 501, error: 'method-not-forwarded' });
    expect(fx.upstream!.accepted).toBe(0);
  });

  it('other methods are still forwarded (OPTIONS, PROPFIND, BITS_POST)', async () => {
    await setup();
    const c = await fx.client();
    c.write('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\nPROPFIND /d HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n');
    c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
    const responses = await c.responsesAfter(3, 2_000);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(fx.upstream!.requests.map((r) => r.method)).toEqual(['OPTIONS', 'PROPFIND', 'BITS_POST']);
  });
});
