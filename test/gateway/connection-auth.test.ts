import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouteTable, startGateway, upstreamTarget } from '../../src/gateway/index.js';
import { SessionTracker } from '../../src/sessions/tracker.js';
import type { Observation } from '../../src/observation.js';
import { bitsPost, CollectingSink, RawClient, startUpstream, useGatewayFixture, type SeenRequest, type UpstreamReply } from './helpers.js';
import { TestPki, type Leaf } from './test-pki.js';

/**
 * Connection-bound authentication (NTLM/Negotiate) through the gateway: the scripted
 * upstream accepts the final credentials only on the connection that got its challenge,
 * as IIS does, so a gateway that pooled or re-opened upstream connections fails here.
 */

const fx = useGatewayFixture();
let pki: TestPki;
let iis: Leaf;
let gw: Leaf;
beforeAll(() => {
  pki = new TestPki();
  iis = pki.leaf(['iis.example'], { file: 'iis' });
  gw = pki.leaf(['gw.example'], { file: 'gw' });
});
afterAll(() => pki.remove());

const TYPE1 = 'NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==';
const TYPE2 = 'NTLM TlRMTVNTUAACAAAADAAMADgAAAAFgomiESIzRFVmd4gAAAAAAAAAAA==';
const TYPE3 = 'NTLM TlRMTVNTUAADAAAAGAAYAEgAAAAYABgAYAAAAAAAAAB4AAAAAAAAAHg=';

/** IIS-like: anonymous -> 401 with two WWW-Authenticate lines; type 1 -> challenge; type 3 -> 200 only where challenged. */
function ntlmServer(extendedProtection = false) {
  const challenged = new Set<number>();
  return (req: SeenRequest): UpstreamReply => {
    const auth = req.headers.find(([n]) => n.toLowerCase() === 'authorization')?.[1];
    const refuse: UpstreamReply = { status: 401, headers: [['WWW-Authenticate', 'Negotiate'], ['WWW-Authenticate', 'NTLM'], ['Content-Length', '0']] };
    if (auth === TYPE1) {
      challenged.add(req.socketId);
      return { status: 401, headers: [['WWW-Authenticate', TYPE2], ['Content-Length', '0']] };
    }
    if (auth === TYPE3 && challenged.has(req.socketId) && !extendedProtection) {
      return { status: 200, headers: [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0']] };
    }
    return refuse;
  };
}

const ping = (auth?: string) => bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ...(auth ? [['Authorization', auth] as [string, string]] : []), ['Content-Length', '0']]);

async function handshake(client: RawClient) {
  client.write(ping());
  client.write(ping(TYPE1));
  client.write(ping(TYPE3));
  return client.responsesAfter(3);
}

for (const scheme of ['http', 'https'] as const) {
  describe(`NTLM-style handshake through the gateway (${scheme} upstream, TLS client side)`, () => {
    async function setup(extendedProtection = false) {
      const sink = new CollectingSink();
      fx.upstream = await startUpstream(ntlmServer(extendedProtection), scheme === 'https' ? { cert: iis.cert, key: iis.key } : undefined);
      fx.gateway = await startGateway({
        routes: new RouteTable([], upstreamTarget(fx.upstream.url, { ca: pki.ca }, 'iis.example')),
        listen: { host: '127.0.0.1', port: 0 },
        sinks: [sink],
        tls: { credentials: { default: { certFile: gw.certFile, keyFile: gw.keyFile } }, watchIntervalMs: 0 },
      });
      const connect = () => RawClient.connectTls(fx.gateway!.address.port, { ca: pki.ca, servername: 'gw.example' });
      return { sink, connect };
    }

    it('completes on the connection that got the challenge, relaying both WWW-Authenticate lines', async () => {
      const { connect } = await setup();
      const client = await connect();
      const [anon, challenge, done] = await handshake(client);
      expect(anon!.status).toBe(401);
      expect(anon!.headers.filter(([n]) => n === 'WWW-Authenticate')).toEqual([['WWW-Authenticate', 'Negotiate'], ['WWW-Authenticate', 'NTLM']]);
      expect(challenge!.headers).toEqual([['WWW-Authenticate', TYPE2], ['Content-Length', '0']]);
      expect(done!.status).toBe(200);
      expect(client.closed).toBe(false);
      expect(fx.upstream!.requests.map((r) => r.socketId)).toEqual([1, 1, 1]);
      // A second client connection cannot ride on the first one's authentication.
      const other = await connect();
      other.write(ping(TYPE3));
      expect((await other.responsesAfter(1))[0]!.status).toBe(401);
      expect(fx.upstream!.requests[3]!.socketId).toBe(2);
      client.destroy();
      other.destroy();
    });

    it('flags the Extended Protection loop: credentials answered with a bare 401 after the challenge', async () => {
      const { sink, connect } = await setup(true);
      const client = await connect();
      const [, , refused] = await handshake(client);
      expect(refused!.status).toBe(401);
      const tracker = new SessionTracker();
      const observations: Observation[] = await sink.waitFor(3);
      const codes = observations.flatMap((o) => tracker.observe(o)).flatMap((e) => (e.type === 'violation' ? [e.violation.code] : []));
      expect(codes).toEqual(['auth-channel-binding']);
      client.destroy();
    });
  });
}
