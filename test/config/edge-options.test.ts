import { describe, expect, it } from 'vitest';
import { parseGatewayArgs } from '../../src/commands/gateway.js';
import { command } from '../../src/commands/gateway.js';

describe('gateway TLS, route and service flags', () => {
  it('parses TLS on both sides, SNI, routes and the shutdown grace', () => {
    const o = parseGatewayArgs([
      '--upstream', 'https://10.0.0.10', '--upstream-servername', 'BITS.example.com', '--upstream-ca', 'ca.pem',
      '--upstream-cert', 'c.pem', '--upstream-key', 'c.key',
      '--tls-cert', 'gw.pem', '--tls-key', 'gw.key', '--tls-sni', 'farm.example=f.pem,f.key', '--tls-sni', '*.farm.example=w.pem,w.key',
      '--dashboard-tls', '--route', 'Node1.farm=https://10.0.0.11', '--route', 'node2.farm=http://10.0.0.12:8080/bits', '--shutdown-grace', '5s',
    ]);
    expect(o.upstream!.href).toBe('https://10.0.0.10/');
    expect(o.edge.upstreamTls).toEqual({ caFile: 'ca.pem', servername: 'bits.example.com', insecure: false, certFile: 'c.pem', keyFile: 'c.key' });
    expect(o.edge.tls!.credentials.sni!.map((s) => s.name)).toEqual(['farm.example', '*.farm.example']);
    expect(o.edge.dashboardTls).toEqual({ certFile: 'gw.pem', keyFile: 'gw.key' });
    expect(o.edge.routes.map(([h, u]) => [h, u.href])).toEqual([['node1.farm', 'https://10.0.0.11/'], ['node2.farm', 'http://10.0.0.12:8080/bits']]);
    expect(o.edge.shutdownGraceMs).toBe(5_000);
    expect(parseGatewayArgs([]).edge.shutdownGraceMs).toBe(30_000);
  });

  const bad: Array<[string[], RegExp]> = [
    [['--tls-cert', 'a.pem'], /--tls-cert and --tls-key go together/],
    [['--tls-pfx', 'a.pfx', '--tls-cert', 'a', '--tls-key', 'b'], /--tls-pfx: give either/],
    [['--tls-passphrase-file', 'p'], /--tls-passphrase-file: only with --tls-pfx/],
    [['--tls-sni', 'farm.example=a.pem'], /--tls-sni: expected NAME=CERT,KEY/],
    [['--tls-sni', 'farm.example=a.pem,a.key'], /--tls-sni: needs --tls-cert/],
    [['--dashboard-tls'], /--dashboard-tls: needs --tls-cert/],
    [['--route', 'node1.farm'], /--route: expected HOST=URL/],
    [['--route', 'a=ftp://x'], /--route: only http:\/\/ and https:\/\//],
    [['--route', 'a=http://x', '--route', 'A=http://y'], /--route: a is routed twice/],
    [['--upstream-servername', '10.0.0.1'], /--upstream-servername: expected a DNS name/],
    [['--upstream', 'https://user:pw@x'], /--upstream: no credentials in the URL/],
    [['--shutdown-grace', 'later'], /--shutdown-grace: expected a duration/],
    [['--tls-cert', 'a.pem', '--tls-key', 'a.key', '--tls-handshake-timeout', '0s'], /^--tls-handshake-timeout: must be more than 0$/],
    [['--body-timeout', '0'], /^--body-timeout: must be more than 0$/],
  ];
  for (const [args, message] of bad) {
    it(`refuses ${args.join(' ')}`, () => {
      expect(() => parseGatewayArgs(args)).toThrow(message);
    });
  }

  it('documents every new flag in --help', () => {
    for (const flag of ['--tls-cert', '--tls-pfx', '--tls-passphrase-file', '--tls-sni', '--tls-client-ca', '--dashboard-tls-cert', '--upstream-ca',
      '--upstream-servername', '--upstream-insecure', '--upstream-cert', '--route', '--config', '--shutdown-grace']) {
      expect(command.help).toContain(flag);
    }
  });
});
