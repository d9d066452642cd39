/** Where a session's packets go: BITS-Host-Id and its fallback timer (time passed in). */
import { describe, expect, it } from 'vitest';
import { SessionRoute } from '../../src/client/session-route.js';

const url = new URL('http://front.example:8080/up/f.bin?x=1');

describe('SessionRoute', () => {
  it('follows a host id (with or without a port), keeping path and query', () => {
    const r = new SessionRoute(url);
    r.follow('node7.example:9000', 30);
    expect(r.current.href).toBe('http://node7.example:9000/up/f.bin?x=1');
    r.follow('10.0.0.7', 30);
    expect(r.current.href).toBe('http://10.0.0.7/up/f.bin?x=1');
    r.follow('[fe80::1]:81', 30);
    expect(r.current.href).toBe('http://[fe80::1]:81/up/f.bin?x=1');
  });

  it('ignores a host id that is not a host name, and says so', () => {
    const r = new SessionRoute(url);
    expect(r.follow('evil.example/path?', 30)).toBe('BITS-Host-Id "evil.example/path?" is not a host name: ignored, packets stay on front.example:8080');
    expect(r.follow('node:99999', 30)).toContain('is not a host name');
    expect(r.current).toBe(url);
  });

  it('without BITS-Host-Id-Fallback-Timeout it never falls back, however long connects fail', () => {
    const r = new SessionRoute(url);
    r.follow('node7.example', undefined);
    expect(r.connectFailed(0)).toBeUndefined();
    expect(r.connectFailed(10 * 365 * 86_400_000)).toBeUndefined();
    expect(r.current.host).toBe('node7.example');
  });

  it('falls back once connects have failed for the timeout, counted from the first failed connect', () => {
    const r = new SessionRoute(url);
    r.follow('node7.example', 30);
    expect(r.connectFailed(1000)).toBeUndefined();
    expect(r.connectFailed(30_999)).toBeUndefined();
    expect(r.connectFailed(31_000)).toBe('BITS-Host-Id node7.example unreachable for 30.0 s (BITS-Host-Id-Fallback-Timeout 30 s): falling back to front.example:8080');
    expect(r.current).toBe(url);
    // Back on the URL host, failures no longer count towards anything.
    expect(r.connectFailed(99_000)).toBeUndefined();
  });

  it('a successful connect resets the timer', () => {
    const r = new SessionRoute(url);
    r.follow('node7.example', 30);
    r.connectFailed(0);
    r.connected();
    expect(r.connectFailed(29_000)).toBeUndefined();
    expect(r.connectFailed(58_999)).toBeUndefined();
    expect(r.connectFailed(59_000)).toContain('falling back');
  });

  it('reset (a new session) returns to the URL until the next Create Ack names a host', () => {
    const r = new SessionRoute(url);
    r.follow('node7.example', undefined);
    r.reset();
    expect(r.current).toBe(url);
  });
});
