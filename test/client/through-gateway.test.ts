/**
 * Client → gateway → server: files arrive byte-identical through the inspection gateway,
 * and each deliberate misbehaviour reaches the server as the exchange it should be.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MISBEHAVE_DESCRIPTIONS, uploadFile } from '../../src/client/index.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import type { Observation } from '../../src/observation.js';
import { headerValue } from '../../src/protocol/index.js';
import { SessionTracker, type BitsEvent } from '../../src/sessions/index.js';
import { sha256, startFixture, type Fixture } from '../server/helpers.js';

let fx: Fixture;
let gw: Gateway;
let src: string;
const seen: Observation[] = [];
let tracker: SessionTracker;
const events: BitsEvent[] = [];

beforeAll(async () => {
  fx = await startFixture({ replyMode: 'sha256' });
  gw = await startGateway({
    upstream: new URL(fx.server.url),
    listen: { host: '127.0.0.1', port: 0 },
    sinks: [{
      onExchangeStart: (start) => events.push(...tracker.begin(start)),
      onObservation: (o) => {
        seen.push(o);
        events.push(...tracker.observe(o));
      },
    }],
  });
  src = path.join(fx.dir, 'src');
  await fs.mkdir(src);
});
afterAll(async () => {
  await gw.close();
  await fx.close();
});
beforeEach(() => {
  seen.length = 0;
  events.length = 0;
  tracker = new SessionTracker();
});

const violations = () => events.flatMap((e) => (e.type === 'violation' ? [e.violation.code] : []));

const url = (p: string) => `http://127.0.0.1:${gw.address.port}${p}`;
const packets = () =>
  seen.map((o) => `${o.method} ${headerValue(o.requestHeaders, 'BITS-Packet-Type') ?? '-'} ${o.status ?? '-'}${headerValue(o.responseHeaders ?? [], 'BITS-Error-Code') ? ' ' + headerValue(o.responseHeaders ?? [], 'BITS-Error-Code') : ''}`);

async function localFile(name: string, data: Buffer): Promise<string> {
  const p = path.join(src, name);
  await fs.writeFile(p, data);
  return p;
}

describe('through the gateway', () => {
  it.each([
    [0, 1024],
    [1, 1024],
    [65_536, 65_536],
  ])('a %i-byte file (fragment size %i) arrives byte-identical', async (size, fragmentSize) => {
    const data = randomBytes(size);
    const name = `gw-${size}.bin`;
    const r = await uploadFile({ url: url(`/gw/${name}`), file: await localFile(name, data), fragmentSize, backoffBaseMs: 1 });
    expect(r).toMatchObject({ closed: true, acked: size, retries: 0 });
    expect(sha256(await fs.readFile(path.join(fx.root, 'gw', name)))).toBe(sha256(data));
    // A 0-byte file is sent with no Fragment (Create -> Close): the tracker cannot tell it from a
    // client that closed before sending its data, so it warns (close-no-data, bits-protocol.md §4/§5).
    expect(violations()).toEqual(size === 0 ? ['close-no-data'] : []);
    const fragments = Math.ceil(size / fragmentSize);
    // Reply mode: the final Ack carries a reply URL, fetched through the gateway too.
    expect(packets()).toEqual([
      'BITS_POST Ping 200',
      'BITS_POST Create-Session 200',
      ...Array(fragments).fill('BITS_POST Fragment 200'),
      ...(fragments > 0 ? ['GET - 200'] : []),
      'BITS_POST Close-Session 200',
    ]);
  });

  it('50 MiB in odd-sized fragments arrives byte-identical', async () => {
    const data = randomBytes(50 * 1024 * 1024);
    const r = await uploadFile({ url: url('/gw/big.bin'), file: await localFile('big.bin', data), fragmentSize: 2_999_999 });
    expect(r).toMatchObject({ closed: true, retries: 0, resyncs: 0 });
    expect(sha256(await fs.readFile(path.join(fx.root, 'gw', 'big.bin')))).toBe(sha256(data));
    const relayed = seen.filter((o) => headerValue(o.requestHeaders, 'BITS-Packet-Type') === 'Fragment').reduce((n, o) => n + o.requestBodyBytes, 0);
    expect(relayed).toBe(data.length);
  });

  it.each([
    ['close-early', ['BITS_POST Ping 200', 'BITS_POST Create-Session 200', 'BITS_POST Fragment 200', 'BITS_POST Close-Session 200']],
    ['skip-reply', ['BITS_POST Ping 200', 'BITS_POST Create-Session 200', 'BITS_POST Fragment 200', 'BITS_POST Close-Session 200']],
    ['gap', ['BITS_POST Ping 200', 'BITS_POST Create-Session 200', 'BITS_POST Fragment 416 0x00000000', 'BITS_POST Fragment 200', 'GET - 200', 'BITS_POST Close-Session 200']],
    ['unknown-session', ['BITS_POST Ping 200', 'BITS_POST Close-Session 500 0x8020001F']],
    ['double-close', ['BITS_POST Ping 200', 'BITS_POST Create-Session 200', 'BITS_POST Fragment 200', 'GET - 200', 'BITS_POST Close-Session 200', 'BITS_POST Close-Session 500 0x8020001F']],
  ] as const)('--misbehave %s reaches the server as exactly its error', async (mode, expected) => {
    const file = await localFile(`${mode}.bin`, randomBytes(5000));
    const r = await uploadFile({ url: url(`/mis/${mode}.bin`), file, misbehave: mode });
    expect(r.misbehaved?.mode).toBe(mode);
    expect(packets()).toEqual(expected);
    // The session tracker, fed the gateway's observations, names exactly this error. (The 500
    // answering a double close is what a resent Close gets, not a rejection of the commit; the
    // 416 answering a gap is the resync signal, not a server error.)
    expect(violations()).toEqual([MISBEHAVE_DESCRIPTIONS[mode].expect]);
  });
});

describe('BITS-Host-Id', () => {
  it('sends the packets after Create-Session to the host id, bypassing the gateway', async () => {
    const farm = await startFixture({ hostId: `127.0.0.1:${fx.port}` });
    const g = await startGateway({ upstream: new URL(farm.server.url), listen: { host: '127.0.0.1', port: 0 }, sinks: [{ onObservation: (o) => seen.push(o) }] });
    try {
      seen.length = 0;
      const data = randomBytes(3000);
      // The farm node named by the host id is `fx` (another server): it does not know the
      // session, so the fragment fails with BG_E_SESSION_NOT_FOUND — proof it went there.
      // The client restarts at Create-Session (through the gateway, the URL's host), once
      // at once; with no retries allowed it stops at the second loss.
      const err = await uploadFile({ url: `http://127.0.0.1:${g.address.port}/h.bin`, file: await localFile('h.bin', data), maxRetries: 0 }).catch((e: Error) => e);
      expect((err as Error).message).toBe('Fragment: session lost (0x8020001F) 2 times in a row; gave up after 2 sessions (1 failure in a row; retries limited to 0)');
      expect(packets()).toEqual(['BITS_POST Ping 200', 'BITS_POST Create-Session 200', 'BITS_POST Create-Session 200']);
    } finally {
      await g.close();
      await farm.close();
    }
  });

  it('falls back to the original URL when the host id cannot be reached', async () => {
    const farm = await startFixture({ hostId: '127.0.0.1:1', hostIdFallbackTimeout: 0 });
    try {
      const data = randomBytes(3000);
      const r = await uploadFile({ url: `http://127.0.0.1:${farm.port}/fb.bin`, file: await localFile('fb.bin', data), backoffBaseMs: 1 });
      expect(r).toMatchObject({ closed: true, retries: 1 });
      expect(sha256(await fs.readFile(path.join(farm.root, 'fb.bin')))).toBe(sha256(data));
    } finally {
      await farm.close();
    }
  });
});
