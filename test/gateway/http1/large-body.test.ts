/** Streaming: big bodies pass byte-exact with backpressure, never buffered whole. */
import { createHash, randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { Http1Request } from '../../../src/gateway/http1/index.js';
import { Client, startServer, useServerFixture } from './helpers.js';

const fx = useServerFixture();

/** Writes `total` pseudo-random bytes (from a repeated 1 MiB block) honouring the socket's backpressure. */
async function sendBody(c: Client, total: number, block: Buffer, frame?: (b: Buffer) => Buffer[]): Promise<string> {
  const hash = createHash('sha256');
  let sent = 0;
  while (sent < total) {
    const piece = block.subarray(0, Math.min(block.length, total - sent));
    hash.update(piece);
    sent += piece.length;
    let ok = true;
    for (const b of frame ? frame(piece) : [piece]) ok = c.socket.write(b) && ok;
    if (!ok) await new Promise((r) => c.socket.once('drain', r));
  }
  return hash.digest('hex');
}

// A real GC before sampling, so the sample shows what is retained rather than garbage not yet collected.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Every 8 MiB of body, collects garbage and records the live ArrayBuffer memory. */
function hashingServer(peak: { arrayBuffers: number }) {
  return startServer((req: Http1Request, res) => {
    const hash = createHash('sha256');
    let nextSample = 8 * 1024 * 1024;
    req.on('data', (d: Buffer) => {
      hash.update(d);
      if (req.bodyBytesRead >= nextSample) {
        nextSample += 8 * 1024 * 1024;
        gc();
        peak.arrayBuffers = Math.max(peak.arrayBuffers, process.memoryUsage().arrayBuffers);
      }
    });
    req.on('end', () => {
      const out = Buffer.from(`${req.bodyBytesRead} ${hash.digest('hex')}`);
      res.writeHead(200, [['Content-Length', String(out.length)]]);
      res.end(out);
    });
  });
}

describe('HTTP/1.1 listener: streaming', () => {
  it('streams a 64 MiB Content-Length body through a hashing handler: sha256 matches, memory flat', async () => {
    const peak = { arrayBuffers: 0 };
    fx.srv = await hashingServer(peak);
    gc();
    const before = process.memoryUsage().arrayBuffers;
    const c = await fx.open();
    const total = 64 * 1024 * 1024;
    c.write(`BITS_POST /up/big.bin HTTP/1.1\r\nHost: a\r\nBITS-Packet-Type: Fragment\r\nContent-Length: ${total}\r\n\r\n`);
    const digest = await sendBody(c, total, randomBytes(1024 * 1024));
    await c.untilText(digest, 60_000);
    expect(c.text).toBe(`HTTP/1.1 200 OK\r\nContent-Length: ${String(total).length + 65}\r\n\r\n${total} ${digest}`);
    // The whole body never sits in memory: growth stays far below 64 MiB (client + server share this process).
    expect(peak.arrayBuffers).toBeGreaterThan(0);
    expect(peak.arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  }, 60_000);

  it('streams a 16 MiB chunked body with odd chunk sizes byte-exact', async () => {
    const peak = { arrayBuffers: 0 };
    fx.srv = await hashingServer(peak);
    const c = await fx.open();
    const total = 16 * 1024 * 1024;
    c.write('BITS_POST /up/big.bin HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
    const frame = (b: Buffer): Buffer[] => {
      const out: Buffer[] = [];
      for (let i = 0; i < b.length; i += 7777) {
        const part = b.subarray(i, i + 7777);
        out.push(Buffer.from(`${part.length.toString(16)};n=${i}\r\n`), part, Buffer.from('\r\n'));
      }
      return out;
    };
    const digest = await sendBody(c, total, randomBytes(1024 * 1024 - 3), frame);
    c.write('0\r\n\r\n');
    await c.untilText(digest, 60_000);
    expect(c.text.endsWith(`${total} ${digest}`)).toBe(true);
  }, 60_000);

  it('pauses the socket while the handler does not read (backpressure), then delivers everything', async () => {
    let req: Http1Request | undefined;
    fx.srv = await startServer((r, res) => {
      req = r;
      r.pause();
      r.on('end', () => { res.writeHead(200, [['Content-Length', '0']]); res.end(); });
    });
    const c = await fx.open();
    const total = 32 * 1024 * 1024;
    c.write(`BITS_POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: ${total}\r\n\r\n`);
    const block = Buffer.alloc(1024 * 1024, 0x5a);
    let written = 0;
    const pump = async () => {
      while (written < total) {
        written += block.length;
        if (!c.socket.write(block)) await new Promise((r) => c.socket.once('drain', r));
      }
    };
    const pumping = pump();
    await new Promise((r) => setTimeout(r, 300));
    // Only socket buffers and one highWaterMark's worth were taken from the kernel.
    expect(req!.bodyBytesRead).toBeLessThan(8 * 1024 * 1024);
    expect(written).toBeLessThan(total);
    let seen = 0;
    req!.on('data', (d: Buffer) => { seen += d.length; });
    req!.resume();
    await pumping;
    await c.untilText('200 OK', 30_000);
    expect(seen).toBe(total);
  }, 60_000);
});
