import { afterEach, describe, expect, it } from 'vitest';
import { RouteTable, startGateway, upstreamTarget } from '../../src/gateway/index.js';
import { absoluteFormAuthority, hostName } from '../../src/gateway/routes.js';
import { SessionTracker } from '../../src/sessions/tracker.js';
import { CollectingSink, headerOf, PROTOCOL_GUID, startUpstream, useGatewayFixture, type SeenRequest, type TestUpstream } from './helpers.js';

const SESSION = '{0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}';
const fx = useGatewayFixture();
let second: TestUpstream | undefined;
afterEach(async () => {
  await second?.close();
  second = undefined;
});

/** A farm node: Create-Session hands out `hostId`; every packet is acknowledged. */
const farmNode = (hostId: string) => (req: SeenRequest) => {
  const type = req.headers.find(([n]) => n === 'BITS-Packet-Type')?.[1];
  const headers: Array<[string, string]> = [['BITS-Packet-Type', 'Ack'], ['X-Node', hostId]];
  if (type === 'Create-Session') headers.push(['BITS-Protocol', PROTOCOL_GUID], ['BITS-Session-Id', SESSION], ['BITS-Host-Id', 'node2.farm']);
  if (type === 'Fragment') headers.push(['BITS-Received-Content-Range', '10']);
  headers.push(['Content-Length', '0']);
  return { status: 200, headers };
};

function request(target: string, host: string | null, type: string, extra: Array<[string, string]> = [], body = ''): string {
  let head = `BITS_POST ${target} HTTP/1.1\r\n`;
  if (host !== null) head += `Host: ${host}\r\n`;
  head += `BITS-Packet-Type: ${type}\r\n`;
  for (const [n, v] of extra) head += `${n}: ${v}\r\n`;
  return `${head}Content-Length: ${body.length}\r\n\r\n${body}`;
}

async function farm(withDefault: boolean) {
  const sink = new CollectingSink();
  fx.upstream = await startUpstream(farmNode('node1.farm'));
  second = await startUpstream(farmNode('node2.farm'));
  const node1 = upstreamTarget(fx.upstream.url);
  const node2 = upstreamTarget(second.url);
  fx.gateway = await startGateway({
    routes: new RouteTable([['bits.farm', node1], ['node2.farm', node2]], withDefault ? node1 : undefined),
    listen: { host: '127.0.0.1', port: 0 },
    sinks: [sink],
  });
  return { sink, node1: fx.upstream, node2: second };
}

describe('routing by Host (a farm behind one gateway)', () => {
  it('follows a BITS-Host-Id to another node and keeps one session across both', async () => {
    const { sink, node1, node2 } = await farm(false);
    const first = await fx.client();
    first.write(request('/up/f.bin', 'bits.farm', 'Create-Session', [['BITS-Supported-Protocols', PROTOCOL_GUID]]));
    const [created] = await first.responsesAfter(1);
    expect(headerOf(created!, 'X-Node')).toBe('node1.farm');
    expect(headerOf(created!, 'BITS-Host-Id')).toBe('node2.farm');
    const next = await fx.client();
    next.write(request('/up/f.bin', 'NODE2.farm:8080', 'Fragment', [['BITS-Session-Id', SESSION], ['Content-Range', 'bytes 0-9/10']], '0123456789'));
    next.write(request('/up/f.bin', 'node2.farm', 'Close-Session', [['BITS-Session-Id', SESSION]]));
    const [frag, close] = await next.responsesAfter(2);
    expect([headerOf(frag!, 'X-Node'), headerOf(close!, 'X-Node')]).toEqual(['node2.farm', 'node2.farm']);
    expect(node1.requests.map((r) => r.headers.find(([n]) => n === 'BITS-Packet-Type')?.[1])).toEqual(['Create-Session']);
    expect(node2.requests.map((r) => r.headers.find(([n]) => n === 'BITS-Packet-Type')?.[1])).toEqual(['Fragment', 'Close-Session']);
    // The Host a client sent is the Host the node gets.
    expect(node2.requests[0]!.headers.find(([n]) => n === 'Host')).toEqual(['Host', 'NODE2.farm:8080']);
    const tracker = new SessionTracker();
    const events = (await sink.waitFor(3)).flatMap((o) => tracker.observe(o));
    expect(tracker.stats().sessionsByState).toMatchObject({ closed: 1, open: 0, failed: 0 });
    expect(events.filter((e) => e.type === 'violation')).toEqual([]);
    expect(events.filter((e) => e.type === 'session-created')).toHaveLength(1);
  });

  it('answers 421 for a name no route serves when there is no default, and closes', async () => {
    const { sink } = await farm(false);
    const client = await fx.client();
    client.write(request('/up/f.bin', 'elsewhere.example', 'Ping'));
    const [res] = await client.responsesAfter(1);
    expect(res!.status).toBe(421);
    expect(res!.body.toString()).toBe('Misdirected Request: no upstream serves this host name\n');
    expect(await client.waitClosed()).toBe(true);
    expect((await sink.waitFor(1))[0]).toMatchObject({ status: 421, responder: 'gateway', error: 'no-route' });
  });

  it('sends unknown names to the default upstream when there is one', async () => {
    const { node1 } = await farm(true);
    const client = await fx.client();
    client.write(request('/up/f.bin', 'elsewhere.example', 'Ping'));
    expect((await client.responsesAfter(1))[0]!.status).toBe(200);
    expect(node1.requests).toHaveLength(1);
  });

  it('answers 421 when a kept-alive connection bound to one node asks for another', async () => {
    const { node2 } = await farm(true);
    const client = await fx.client();
    client.write(request('/up/f.bin', 'bits.farm', 'Ping'));
    client.write(request('/up/f.bin', 'node2.farm', 'Ping'));
    const [a, b] = await client.responsesAfter(2);
    expect([a!.status, b!.status]).toEqual([200, 421]);
    expect(node2.requests).toEqual([]);
  });

  it('routes an absolute-form request by its authority and sends that authority as Host (RFC 9112 §3.2.2)', async () => {
    const { node1, node2 } = await farm(false);
    const client = await fx.client();
    client.write(request('http://node2.farm/up/f.bin?x=1', 'bits.farm', 'Ping'));
    expect((await client.responsesAfter(1))[0]!.status).toBe(200);
    expect(node1.requests).toEqual([]);
    const seen = node2.requests[0]!;
    expect(seen.url).toBe('/up/f.bin?x=1');
    expect(seen.headers.filter(([n]) => n === 'Host' || n === 'X-Forwarded-Host')).toEqual([['Host', 'node2.farm'], ['X-Forwarded-Host', 'node2.farm']]);
  });

  for (const [what, host] of [['empty', ''], ['whitespace-only', ' \t ']] as const) {
    it(`answers 400 to a ${what} Host`, async () => {
      const { sink } = await farm(true);
      const client = await fx.client();
      client.write(request('/up/f.bin', host, 'Ping'));
      const [res] = await client.responsesAfter(1);
      expect(res!.status).toBe(400);
      expect(fx.upstream!.requests).toEqual([]);
      expect((await sink.waitFor(1))[0]).toMatchObject({ status: 400, responder: 'gateway', error: 'bad-host' });
    });
  }
});

describe('route names', () => {
  it('compares host names without port, case or trailing dot', () => {
    expect(['Node2.Farm:8080', 'node2.farm.', 'node2.farm'].map(hostName)).toEqual(['node2.farm', 'node2.farm', 'node2.farm']);
    expect(hostName('[::1]:80')).toBe('[::1]');
  });
  it('takes the authority of an absolute-form target only', () => {
    expect(absoluteFormAuthority('http://user@h.example:81/x')).toBe('h.example:81');
    expect(absoluteFormAuthority('/x')).toBeUndefined();
    expect(absoluteFormAuthority('*')).toBeUndefined();
  });
});
