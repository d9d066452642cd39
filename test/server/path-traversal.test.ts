/**
 * No URL can make the server write outside its root. Each attempt is a full upload
 * (Create-Session, Fragment, Close-Session) so that a bug at any step would show as a file.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GUID, listFiles, startFixture, type Fixture } from './helpers.js';
import { bits, RawConnection } from './raw-http.js';

let fx: Fixture;

beforeAll(async () => {
  fx = await startFixture();
  // A symlinked directory inside the root that points outside it.
  await fs.mkdir(path.join(fx.dir, 'outside'));
  await fs.symlink(path.join(fx.dir, 'outside'), path.join(fx.root, 'link'));
});
afterAll(async () => {
  await fx.close();
});

async function attempt(target: string): Promise<{ status: number; code?: string; context?: string; length?: string }> {
  const c = await RawConnection.open(fx.port);
  try {
    const r = await c.request(bits(target, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']]));
    if (r.status === 200) {
      // Should never happen; finish the upload so a wrong write becomes visible.
      const sid = r.get('BITS-Session-Id')!;
      await c.request(bits(target, [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid], ['Content-Range', 'bytes 0-4/5']], Buffer.from('pwned')));
      await c.request(bits(target, [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', sid], ['Content-Length', '0']]));
    }
    return { status: r.status, code: r.get('BITS-Error-Code'), context: r.get('BITS-Error-Context'), length: r.get('Content-Length') };
  } finally {
    c.close();
  }
}

describe('path safety', () => {
  it.each([
    ['/../escape.txt', 403],
    ['/a/../../escape.txt', 403],
    ['/%2e%2e/escape.txt', 403],
    ['/%2E%2e/%2e%2E/escape.txt', 403],
    ['/.%2e/escape.txt', 403],
    ['/..%5cescape.txt', 400],
    ['/..%2fescape.txt', 400],
    ['//tmp/escape.txt', 400],
    ['/C:/escape.txt', 403],
    ['/escape%00.txt', 400],
    ['/.bitsgate-tmp/escape.part', 403],
    ['/link/escape.txt', 403],
  ])('refuses %j with %i and BITS error headers, writing nothing', async (target, status) => {
    const r = await attempt(target);
    expect(r.status).toBe(status);
    expect(r.code).toBe(status === 403 ? '0x80070005' : '0x80070057');
    expect(r.context).toBe('0x5');
    expect(r.length).toBe('0');
  });

  it('refuses a raw backslash path (the listener or the server answers 400)', async () => {
    const r = await attempt('/..\\escape.txt');
    expect(r.status).toBe(400);
  });

  it('left nothing outside the root and no file inside it', async () => {
    expect(await listFiles(fx.dir)).toEqual(['root/link']);
    expect(await listFiles(path.join(fx.dir, 'outside'))).toEqual([]);
    expect(fx.server.sessionCount()).toBe(0);
  });
});
