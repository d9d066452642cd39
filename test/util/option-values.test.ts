import { describe, expect, it } from 'vitest';
import { parseHttpUrl, parseListen, parseUpstreamUrl, UsageError } from '../../src/util/option-values.js';

describe('parseListen (every HOST:PORT option)', () => {
  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
    ['gw-1.corp.example:80', { host: 'gw-1.corp.example', port: 80 }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['[::]:8080', { host: '::', port: 8080 }],
    ['[fe80::1%eth0]:8080', { host: 'fe80::1%eth0', port: 8080 }],
    [':9000', { host: '127.0.0.1', port: 9000 }],
    ['9000', { host: '127.0.0.1', port: 9000 }],
    [' 127.0.0.1:1 ', { host: '127.0.0.1', port: 1 }],
  ])('accepts %j', (value, expected) => {
    expect(parseListen('--listen', value)).toEqual(expected);
  });

  it.each([
    ['1.2.3', '--listen: no port in "1.2.3"'],
    ['1.2.3:80', '--listen: "1.2.3" is not an IPv4 address or a host name in "1.2.3:80"'],
    ['256.1.1.1:80', '--listen: "256.1.1.1" is not an IPv4 address or a host name in "256.1.1.1:80"'],
    ['127.0.0.1:70000', '--listen: port 70000 is out of range (0-65535) in "127.0.0.1:70000"'],
    ['127.0.0.1:', '--listen: no port in "127.0.0.1:"'],
    ['127.0.0.1:8o', '--listen: port "8o" is not a number in "127.0.0.1:8o"'],
    ['127.0.0.1:-1', '--listen: port "-1" is not a number in "127.0.0.1:-1"'],
    ['::1:8080', '--listen: an IPv6 address must be in brackets, e.g. [::1]:8080, in "::1:8080"'],
    ['[::1]', '--listen: no port after the IPv6 address in "[::1]"'],
    ['[::1:8080', '--listen: no closing "]" in "[::1:8080"'],
    ['[::g]:80', '--listen: "::g" is not an IPv6 address in "[::g]:80"'],
    ['exa mple:80', '--listen: "exa mple" is not an IPv4 address or a host name in "exa mple:80"'],
    ['-bad.example:80', '--listen: "-bad.example" is not an IPv4 address or a host name in "-bad.example:80"'],
    ['', '--listen: no port in ""'],
  ])('refuses %j with a one-line message saying what is wrong', (value, message) => {
    let err: unknown;
    try {
      parseListen('--listen', value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(`${message}; expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080`);
    expect((err as Error).message).not.toContain('\n');
  });

  it('names the option it parses', () => {
    expect(() => parseListen('--dashboard', '1.2.3')).toThrow(/^--dashboard: no port in "1\.2\.3"/);
  });
});

describe('parseHttpUrl / parseUpstreamUrl (every URL option)', () => {
  const message = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return (err as Error).message;
    }
    throw new Error('accepted');
  };

  it('http only: our own gateway, dashboard and notification targets', () => {
    expect(parseHttpUrl('--gateway', 'http://127.0.0.1:8080/up/').href).toBe('http://127.0.0.1:8080/up/');
    expect(parseHttpUrl('--notification-url', 'http://user:pw@app.local/n').username).toBe('user');
    expect(message(() => parseHttpUrl('--gateway', 'nope'))).toBe('--gateway: not a URL: "nope" (expected http://HOST:PORT)');
    expect(message(() => parseHttpUrl('--gateway', 'https://x/'))).toBe('--gateway: only http:// is supported, got "https:"');
  });

  it('upstreams: http or https, the path kept as a prefix, no credentials', () => {
    expect(parseUpstreamUrl('--upstream', 'https://bits.example/uploads/').href).toBe('https://bits.example/uploads/');
    expect(message(() => parseUpstreamUrl('URL', 'nope'))).toBe('URL: not a URL: "nope" (expected http://HOST:PORT or https://HOST)');
    expect(message(() => parseUpstreamUrl('--route', 'ftp://x/'))).toBe('--route: only http:// and https:// are supported, got "ftp:"');
    expect(message(() => parseUpstreamUrl('--upstream', 'http://u:p@x/'))).toBe('--upstream: no credentials in the URL, please');
  });
});
