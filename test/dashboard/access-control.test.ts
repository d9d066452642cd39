import { describe, expect, it } from 'vitest';
import { AccessPolicy, isLoopbackHost, readCookie } from '../../src/dashboard/access-control.js';

describe('AccessPolicy', () => {
  const p = new AccessPolicy({ listenHost: '127.0.0.1', port: 8081 });

  it('accepts only loopback names with the bound port in Host', () => {
    for (const h of ['127.0.0.1:8081', 'localhost:8081', 'LOCALHOST:8081', '[::1]:8081']) expect(p.checkHost(h)).toBe(true);
    for (const h of [undefined, '', '127.0.0.1', '127.0.0.1:8082', 'evil.example:8081', 'localhost.evil.example:8081', '127.0.0.2:8081']) {
      expect(p.checkHost(h)).toBe(false);
    }
  });

  it('accepts configured extra names for a specific bind', () => {
    const q = new AccessPolicy({ listenHost: '10.1.2.3', port: 9000, token: 'x'.repeat(16), allowedHosts: ['gw.corp.example', 'alias:9000'] });
    expect(q.checkHost('10.1.2.3:9000')).toBe(true);
    expect(q.checkHost('gw.corp.example:9000')).toBe(true);
    expect(q.checkHost('alias:9000')).toBe(true);
    expect(q.checkHost('localhost:9000')).toBe(false);
  });

  it('checks a WebSocket Origin against the exact host:port of the request', () => {
    expect(p.checkOrigin('http://127.0.0.1:8081', '127.0.0.1:8081')).toBe(true);
    expect(p.checkOrigin('http://localhost:8081', '127.0.0.1:8081')).toBe(false);
    expect(p.checkOrigin('http://127.0.0.1:8082', '127.0.0.1:8081')).toBe(false);
    expect(p.checkOrigin('null', '127.0.0.1:8081')).toBe(false);
    expect(p.checkOrigin('file://', '127.0.0.1:8081')).toBe(false);
    expect(p.checkOrigin('http://evil.example:8081', 'evil.example:8081')).toBe(false); // Host not allowed either
    expect(p.checkOrigin(undefined, '127.0.0.1:8081')).toBe(true); // not a browser: judged by the token
  });

  it('compares the Origin scheme too: http for a plain listener, https for a TLS one', () => {
    expect(p.checkOrigin('https://127.0.0.1:8081', '127.0.0.1:8081')).toBe(false);
    expect(p.checkOrigin('HTTP://127.0.0.1:8081', '127.0.0.1:8081')).toBe(true); // schemes are case-insensitive
    expect(p.checkOrigin('ws://127.0.0.1:8081', '127.0.0.1:8081')).toBe(false);
    const tls = new AccessPolicy({ listenHost: '127.0.0.1', port: 8443, scheme: 'https' });
    expect(tls.checkOrigin('https://127.0.0.1:8443', '127.0.0.1:8443')).toBe(true);
    expect(tls.checkOrigin('http://127.0.0.1:8443', '127.0.0.1:8443')).toBe(false);
    // Default ports: an Origin never carries them, the Host may.
    const tls443 = new AccessPolicy({ listenHost: '127.0.0.1', port: 443, scheme: 'https' });
    expect(tls443.checkOrigin('https://127.0.0.1', '127.0.0.1')).toBe(true);
    expect(tls443.checkOrigin('https://127.0.0.1', '127.0.0.1:443')).toBe(true);
    expect(tls443.checkOrigin('http://127.0.0.1', '127.0.0.1')).toBe(false);
    const plain80 = new AccessPolicy({ listenHost: '127.0.0.1', port: 80 });
    expect(plain80.checkOrigin('http://127.0.0.1', '127.0.0.1:80')).toBe(true);
  });

  it('compares tokens in constant time whatever their length', () => {
    const q = new AccessPolicy({ listenHost: '127.0.0.1', port: 1, token: 'correct-horse-battery' });
    expect(q.tokenMatches('correct-horse-battery')).toBe(true);
    expect(q.tokenMatches('correct-horse-batter')).toBe(false);
    expect(q.tokenMatches('')).toBe(false);
    expect(q.tokenMatches('x'.repeat(10_000))).toBe(false);
    expect(p.tokenMatches('anything')).toBe(false); // no token configured: nothing matches
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', 'example.com'].some(isLoopbackHost)).toBe(false);
  });

  it('reads one cookie among many and survives bad encoding', () => {
    expect(readCookie('a=1; bitsgate_dashboard=tok%20en; b=2', 'bitsgate_dashboard')).toBe('tok en');
    expect(readCookie('bitsgate_dashboard=%E0%A4%A', 'bitsgate_dashboard')).toBeUndefined();
    expect(readCookie(undefined, 'x')).toBeUndefined();
  });
});
