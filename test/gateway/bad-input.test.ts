import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import { bitsPost, RawClient, startUpstream, waitUntil, type TestUpstream } from './helpers.js';

/**
 * End to end through the gateway: whatever a client writes, the upstream only ever sees
 * requests the gateway re-serialised from a cleanly parsed head, and the gateway keeps
 * serving. (The listener's own parser properties are tested in test/gateway/http1.)
 */

let upstream: TestUpstream;
let gateway: Gateway;

beforeAll(async () => {
  upstream = await startUpstream();
  gateway = await startGateway({ upstream: upstream.url, listen: { host: '127.0.0.1', port: 0 }, headersTimeoutMs: 300 });
});

afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

/** Writes `pieces` with a pause between them, then waits until the gateway answered or closed (or `patience` ran out). */
async function send(pieces: Buffer[], expectResponses: number, patience = 3_000): Promise<RawClient> {
  const c = await RawClient.connect(gateway.address.port);
  c.parsing = false;
  for (const p of pieces) {
    c.write(p);
    await new Promise((r) => setImmediate(r));
  }
  const deadline = Date.now() + patience;
  const done = () => c.closed || (c.raw.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0) >= expectResponses;
  await waitUntil(() => done() || Date.now() > deadline, patience + 1_000, 'answer or close');
  if (patience >= 3_000) expect(done()).toBe(true);
  return c;
}

describe('bad input through the gateway', () => {
  it('random bytes never reach the upstream except as a re-serialised, cleanly parsed request', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        // Mostly-valid heads with a random middle: these exercise the field rules.
        fc.tuple(fc.constantFrom('BITS_POST /up/f.bin HTTP/1.1\r\n', 'GET / HTTP/1.1\r\nHost: h\r\n'), fc.uint8Array({ maxLength: 120 }))
          .map(([line, middle]) => Buffer.concat([Buffer.from(line), Buffer.from(middle), Buffer.from('\r\n\r\n')])),
      ), async (bytes) => {
        const before = upstream.requests.length;
        // An incomplete head just waits: 50 ms is enough to see whether anything leaks through.
        const c = await send([Buffer.from(bytes)], 1, 50);
        c.destroy();
        for (const seen of upstream.requests.slice(before)) {
          // Whatever got through was parsed and rebuilt: a token method, HTTP/1.1, our X-Forwarded-For.
          expect(seen.rawHead).toMatch(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+ HTTP\/1\.1\r\n/);
          expect(seen.headers.some(([n, v]) => n === 'X-Forwarded-For' && v === '127.0.0.1')).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
    // Still serving.
    const c = await send([bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']])], 1);
    expect(c.raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    c.destroy();
  }, 60_000);

  it('a valid request split at random points reaches the upstream identically', async () => {
    const request = bitsPost('/up/f.bin', [
      ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', '{abc}'], ['Content-Range', 'bytes 0-9/10'], ['Content-Length', '10'],
    ], '0123456789');
    const reference = await send([request], 1);
    reference.destroy();
    const expected = upstream.requests.at(-1)!;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: request.length - 1 }), { maxLength: 6 }), async (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), request.length];
        const pieces = points.slice(1).map((end, i) => request.subarray(points[i]!, end));
        const before = upstream.requests.length;
        const c = await send(pieces, 1);
        c.destroy();
        expect(c.raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        const seen = upstream.requests[before]!;
        expect(seen.headers).toEqual(expected.headers);
        expect(seen.sha256).toBe(expected.sha256);
      }),
      { numRuns: 25 },
    );
  }, 60_000);
});
