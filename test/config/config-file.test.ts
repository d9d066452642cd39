import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGatewayArgs } from '../../src/commands/gateway.js';
import { ConfigError } from '../../src/config/config-file.js';

const dir = mkdtempSync(join(tmpdir(), 'bitsgate-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string, ext = 'yaml'): string {
  const path = join(dir, `c${n++}.${ext}`);
  writeFileSync(path, text);
  return path;
}

describe('--config FILE', () => {
  it('reads every kind of option from YAML; relative paths are taken from the file\'s directory', () => {
    const path = file([
      'upstream: https://iis.example.internal',
      'listen: 0.0.0.0:8443',
      'upstream-timeout: 5m',
      'max-sessions: 5000',
      'max-session-memory: 64MiB',
      'no-forwarded-headers: true',
      'tls-cert: certs/gw.pem',
      'tls-key: certs/gw.key',
      'tls-sni:',
      '  farm.example: { cert: certs/farm.pem, key: certs/farm.key }',
      'upstream-ca: /etc/ssl/private-ca.pem',
      'route:',
      '  node1.farm: https://10.0.0.11',
      '  node2.farm: https://10.0.0.12',
      'dashboard-allowed-host: [gw.example.com]',
      'shutdown-grace: 10s',
      '',
    ].join('\n'));
    const o = parseGatewayArgs(['--config', path]);
    expect(o.upstream!.href).toBe('https://iis.example.internal/');
    expect(o).toMatchObject({ listen: { host: '0.0.0.0', port: 8443 }, upstreamTimeoutMs: 300_000, maxSessions: 5000, forwardedHeaders: false, dashboardAllowedHosts: ['gw.example.com'] });
    expect(o.edge.tls!.credentials).toEqual({
      default: { certFile: join(dir, 'certs/gw.pem'), keyFile: join(dir, 'certs/gw.key') },
      sni: [{ name: 'farm.example', source: { certFile: join(dir, 'certs/farm.pem'), keyFile: join(dir, 'certs/farm.key') } }],
    });
    expect(o.edge.upstreamTls).toEqual({ caFile: '/etc/ssl/private-ca.pem', insecure: false });
    expect(o.edge.routes.map(([h, u]) => [h, u.href])).toEqual([['node1.farm', 'https://10.0.0.11/'], ['node2.farm', 'https://10.0.0.12/']]);
    expect(o.edge.shutdownGraceMs).toBe(10_000);
    expect(o.maxSessionMemory).toBe(64 * 1024 * 1024);
  });

  it('knows every option the command line knows', async () => {
    const { CONFIG_SCHEMA } = await import('../../src/config/config-file.js');
    const { command } = await import('../../src/commands/gateway.js');
    const flags = new Set([...command.help.matchAll(/^\s+--([a-z-]+)/gm)].map((m) => m[1]!));
    flags.delete('config');
    flags.delete('help');
    expect([...flags].filter((f) => !(f in CONFIG_SCHEMA.shape))).toEqual([]);
  });

  it('reads JSON too', () => {
    const o = parseGatewayArgs(['--config', file('{\n  "upstream": "http://up:80",\n  "listen": "127.0.0.1:9000"\n}\n', 'json')]);
    expect(o.listen).toEqual({ host: '127.0.0.1', port: 9000 });
  });

  it('lets command-line flags override the file, a repeatable flag replacing the whole list', () => {
    const path = file('upstream: http://up:80\nlisten: 0.0.0.0:8080\nroute:\n  a.farm: http://a:80\n  b.farm: http://b:80\n');
    const o = parseGatewayArgs(['--listen', '127.0.0.1:9999', '--config', path, '--route', 'c.farm=http://c:80']);
    expect(o.listen).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(o.upstream!.href).toBe('http://up/');
    expect(o.edge.routes.map(([h]) => h)).toEqual(['c.farm']);
    expect(parseGatewayArgs([`--config=${path}`]).edge.routes.map(([h]) => h)).toEqual(['a.farm', 'b.farm']);
  });

  const errors: Array<[string, string, RegExp]> = [
    ['an unknown key', 'upstream: http://up:80\n\nupstrem-timeout: 5s\n', /c\d+\.yaml:3: upstrem-timeout: unknown option$/],
    ['an unknown nested key', 'tls-sni:\n  a.example:\n    cert: a.pem\n    key: a.key\n    chain: x\n', /:5: tls-sni\.a\.example\.chain: unknown option$/],
    ['a wrong type', 'listen: 8080\npretty: "yes"\n', /:2: pretty: .*boolean/],
    ['a bad value, judged by the command-line parser', 'upstream: http://up:80\nupstream-timeout: soon\n', /:2: upstream-timeout: expected a duration/],
    ['a bad route URL', 'route:\n  a.farm: ftp://a\n', /:1: route: only http:\/\/ and https:\/\//],
    ['a duplicate key', 'listen: 1\nlisten: 2\n', /:2: Map keys must be unique/],
    ['broken syntax', 'listen: [1\n', /c\d+\.yaml:\d+: /],
    ['a non-map document', '- a\n- b\n', /:1: \(top level\): /],
  ];
  for (const [what, text, message] of errors) {
    it(`names the key and line of ${what}`, () => {
      const path = file(text);
      let error: unknown;
      try {
        parseGatewayArgs(['--config', path]);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message.startsWith(path)).toBe(true);
    });
  }

  it('says when the file cannot be read', () => {
    expect(() => parseGatewayArgs(['--config', join(dir, 'missing.yaml')])).toThrow(/--config: cannot read .*missing\.yaml/);
  });
});
