/**
 * Property tests: a request decodes the same however it is split, and arbitrary bytes
 * never crash the listener nor reach a handler unless they form a valid head.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkedDecoder } from '../../../src/gateway/http1/chunked-decoder.js';
import { DEFAULT_LIMITS } from '../../../src/gateway/http1/limits.js';
import { decideRequestFraming } from '../../../src/gateway/http1/request-framing.js';
import { RequestHeadParser } from '../../../src/gateway/http1/request-head.js';
import { parseFieldLine } from '../../../src/gateway/http1/syntax.js';
import type { Http1Request } from '../../../src/gateway/http1/index.js';
import { Client, readAll, startServer, type TestServer } from './helpers.js';

// ---- generators -----------------------------------------------------------------------

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 12 });
const pathChar = fc.constantFrom(...'abcXYZ019-._~%/?=&+!$'.split(''));
const target = fc.string({ unit: pathChar, maxLength: 30 }).map((p) => '/' + p);
/** Field values: visible ASCII, obs-text, inner SP/HTAB; no leading/trailing whitespace (that is OWS). */
const fieldValue = fc.string({ unit: fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constantFrom(0x20, 0x09)).map((c) => String.fromCharCode(c)), maxLength: 20 })
  .map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ''));
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect']);
const extraField = fc.tuple(token, fieldValue).filter(([n]) => !RESERVED.has(n.toLowerCase()));

interface ValidRequest { method: string; url: string; fields: [string, string][]; body: Buffer; chunkSizes: number[] | null; wire: Buffer }

const validRequest: fc.Arbitrary<ValidRequest> = fc
  .record({
    method: fc.oneof(fc.constant('BITS_POST'), token),
    url: target,
    extra: fc.array(extraField, { maxLength: 6 }),
    body: fc.uint8Array({ maxLength: 300 }),
    chunked: fc.boolean(),
    cuts: fc.array(fc.nat({ max: 300 }), { maxLength: 5 }),
    leadingCrlf: fc.nat({ max: 2 }),
  })
  .map(({ method, url, extra, body, chunked, cuts, leadingCrlf }) => {
    const b = Buffer.from(body);
    const fields: [string, string][] = [['Host', 'gw.example'], ...extra];
    let chunkSizes: number[] | null = null;
    let bodyWire: Buffer;
    if (chunked) {
      fields.push(['Transfer-Encoding', 'chunked']);
      const points = [...new Set(cuts.filter((c) => c > 0 && c < b.length))].sort((x, y) => x - y);
      const parts: Buffer[] = [];
      let prev = 0;
      for (const p of [...points, b.length]) { if (p > prev) parts.push(b.subarray(prev, p)); prev = p; }
      chunkSizes = parts.map((p) => p.length);
      bodyWire = Buffer.concat([...parts.flatMap((p) => [Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]), Buffer.from('0\r\n\r\n')]);
    } else {
      fields.push(['Content-Length', String(b.length)]);
      bodyWire = b;
    }
    const head = '\r\n'.repeat(leadingCrlf) + `${method} ${url} HTTP/1.1\r\n` + fields.map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n';
    return { method, url, fields, body: b, chunkSizes, wire: Buffer.concat([Buffer.from(head, 'latin1'), bodyWire]) };
  });

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) { out.push(buf.subarray(prev, p)); prev = p; }
  out.push(buf.subarray(prev));
  return out.filter((p) => p.length > 0);
}

/** Sans-I/O pipeline: head parser, framing decision, body decoder. */
function decodeRequest(pieces: Buffer[]): { method: string; url: string; fields: [string, string][]; body: Buffer } | string {
  const parser = new RequestHeadParser(DEFAULT_LIMITS.maxHeadBytes);
  let head: ReturnType<RequestHeadParser['push']> | undefined;
  let i = 0;
  let offset = 0;
  for (; i < pieces.length; i++) {
    head = parser.push(pieces[i]!);
    if (head.kind === 'error') return head.reason;
    if (head.kind === 'done') { offset = head.consumed; break; }
  }
  if (!head || head.kind !== 'done') return 'incomplete-head';
  const meta = decideRequestFraming(head.head);
  if (!meta.ok) return meta.reason;
  const body: Buffer[] = [];
  const framing = meta.value.framing;
  if (framing.kind === 'length') {
    let left = framing.length;
    for (; i < pieces.length && left > 0; i++, offset = 0) {
      const take = pieces[i]!.subarray(offset, offset + left);
      body.push(take);
      left -= take.length;
    }
  } else if (framing.kind === 'chunked') {
    const d = new ChunkedDecoder(DEFAULT_LIMITS);
    for (; i < pieces.length && !d.done; i++, offset = 0) {
      const r = d.decode(pieces[i]!, offset, (s) => body.push(Buffer.from(s)));
      if (!r.ok) return r.reason;
    }
  }
  return { method: head.head.method, url: head.head.url, fields: head.head.fields, body: Buffer.concat(body) };
}

// ---- reference grammar for "a valid head" (RFC 9112 §2-§5, the strict subset we accept) ----

const T = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
const VALID_HEAD = new RegExp(
  `^(?:\\r\\n){0,2}(${T}+) ((?:/|\\*$|[A-Za-z][A-Za-z0-9+.-]*://)[\\x21-\\x7e\\x80-\\xff]*|\\*) HTTP/1\\.[01]\\r\\n` +
  `(?:${T}+:[\\t\\x20-\\x7e\\x80-\\xff]*\\r\\n)*\\r\\n`,
);
const VALID_TARGET = /^(?:\/[\x21-\x7e\x80-\xff]*|\*|[A-Za-z][A-Za-z0-9+.-]*:\/\/[\x21-\x7e\x80-\xff]*)$/;

describe('properties (sans-I/O)', () => {
  it('a valid request decodes to the same method, url, headers and body however it is split', () => {
    fc.assert(
      fc.property(validRequest, fc.array(fc.nat(), { maxLength: 12 }), (req, cuts) => {
        const whole = decodeRequest([req.wire]);
        const split = decodeRequest(splitAt(req.wire, cuts));
        expect(typeof whole).toBe('object');
        expect(split).toEqual(whole);
        if (typeof whole === 'object') {
          expect(whole.method).toBe(req.method);
          expect(whole.url).toBe(req.url);
          expect(whole.fields).toEqual(req.fields);
          expect(whole.body).toEqual(req.body);
        }
      }),
      { numRuns: 500 },
    );
  });

  const noise = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('GET ', 'BITS_POST ', '/', ' ', 'HTTP/1.1', 'HTTP/1.0', '\r\n', '\r', '\n', ':', 'Host: a', 'Content-Length: 3', 'Transfer-Encoding: chunked', '\t', '\x00', 'x', '*', 'http://h/') },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }).map((a) => Buffer.from(a).toString('latin1')) },
  );
  const noiseInput = fc.array(noise, { maxLength: 24 }).map((parts) => parts.join(''));

  it('the head parser accepts exactly the heads of the reference grammar (differential)', () => {
    fc.assert(
      fc.property(noiseInput, fc.array(fc.nat(), { maxLength: 4 }), (text, cuts) => {
        const bytes = Buffer.from(text, 'latin1');
        const parser = new RequestHeadParser(DEFAULT_LIMITS.maxHeadBytes);
        let step: ReturnType<RequestHeadParser['push']> = { kind: 'need-more' };
        let used = 0;
        for (const piece of splitAt(bytes, cuts)) {
          step = parser.push(piece);
          if (step.kind !== 'need-more') { used += step.kind === 'done' ? step.consumed : 0; break; }
          used += piece.length;
        }
        const m = VALID_HEAD.exec(text);
        if (m) {
          expect(step.kind).toBe('done');
          expect(used).toBe(m[0].length);
        } else {
          expect(step.kind).not.toBe('done');
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('properties: the head parser reads field lines as parseFieldLine does', () => {
  // parseFieldLine (syntax.ts) parses a whole line with regular expressions and still reads
  // trailers; the head parser classifies the same bytes in its one pass. Same fields, same codes.
  const lineUnit = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...TCHARS.split('')) },
    { weight: 2, arbitrary: fc.constantFrom(':', ' ', '\t', ' :', ': ', '"', '(', '\x7f', '\x01', '\x1f', '\x80', '\xff', 'é') },
  );
  const fieldLine = fc.array(lineUnit, { minLength: 1, maxLength: 30 }).map((parts) => parts.join(''));

  it('accepts and rejects the same lines, with the same fields and reason codes, however split', () => {
    fc.assert(
      fc.property(fieldLine, fc.array(fc.nat(), { maxLength: 4 }), (line, cuts) => {
        const head = Buffer.from(`GET / HTTP/1.1\r\n${line}\r\nHost: a\r\n\r\n`, 'latin1');
        const parser = new RequestHeadParser(DEFAULT_LIMITS.maxHeadBytes);
        let step: ReturnType<RequestHeadParser['push']> = { kind: 'need-more' };
        for (const piece of splitAt(head, cuts)) {
          step = parser.push(piece);
          if (step.kind !== 'need-more') break;
        }
        const ref = parseFieldLine(Buffer.from(line, 'latin1').toString('latin1'));
        if (ref.ok) {
          expect(step.kind).toBe('done');
          if (step.kind === 'done') expect(step.head.fields).toEqual([ref.value, ['Host', 'a']]);
        } else {
          expect(step).toMatchObject({ kind: 'error', status: 400, reason: ref.reason });
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('properties (over a socket)', () => {
  let srv: TestServer;
  const calls: { port: number; method: string; url: string; rawHeaders: string[]; body: Buffer }[] = [];
  beforeAll(async () => {
    srv = await startServer(async (req: Http1Request, res) => {
      const call = { port: req.socket.remotePort ?? 0, method: req.method, url: req.url, rawHeaders: req.rawHeaders, body: Buffer.alloc(0) as Buffer };
      calls.push(call);
      try {
        call.body = await readAll(req);
      } catch {
        // malformed body: the listener answers
      }
      res.writeHead(200, [['Content-Length', '0']]);
      res.end();
    }, { headersTimeoutMs: 2000 });
  });
  afterAll(async () => srv.close());

  it('a valid request split into random writes reaches the handler exactly as sent', async () => {
    await fc.assert(
      fc.asyncProperty(validRequest, fc.array(fc.nat(), { maxLength: 6 }), async (req, cuts) => {
        const c = await Client.open(srv.port);
        const port = c.socket.localPort;
        try {
          c.socket.setNoDelay(true);
          for (const piece of splitAt(req.wire, cuts)) {
            c.write(piece);
            await new Promise((r) => setImmediate(r));
          }
          await c.untilText('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
          const mine = calls.filter((x) => x.port === port);
          expect(mine).toHaveLength(1);
          expect(mine[0]!.method).toBe(req.method);
          expect(mine[0]!.url).toBe(req.url);
          expect(mine[0]!.rawHeaders).toEqual(req.fields.flat());
          expect(mine[0]!.body).toEqual(req.body);
        } finally {
          c.destroy();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('random bytes never crash the listener and only valid heads reach the handler', async () => {
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      // half of these start like a real request, so some do reach the handler
      fc.tuple(
        fc.constantFrom('', 'BITS_POST /up HTTP/1.1\r\nHost: a\r\n'),
        fc.array(fc.constantFrom('GET / HTTP/1.1\r\n', 'Host: a\r\n', '\r\n', 'Content-Length: 2\r\n', 'Transfer-Encoding: chunked\r\n', '\n', '\r', ' ', 'x', '0\r\n', 'zz', 'X-A: b\r\n'), { maxLength: 12 }),
      ).map(([start, p]) => Buffer.from(start + p.join(''), 'latin1')),
    );
    await fc.assert(
      fc.asyncProperty(junk, async (bytes) => {
        const c = await Client.open(srv.port);
        const port = c.socket.localPort;
        try {
          // Half-close: the listener answers what it can, then closes (a truncated head or body just closes).
          c.socket.end(bytes);
          await c.untilEnded(3000);
        } finally {
          c.destroy();
        }
        for (const call of calls.filter((x) => x.port === port)) {
          expect(call.method).toMatch(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
          expect(call.url).toMatch(VALID_TARGET);
          for (let i = 0; i < call.rawHeaders.length; i += 2) {
            expect(call.rawHeaders[i]).toMatch(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
            expect(call.rawHeaders[i + 1]).not.toMatch(/[\x00-\x08\x0a-\x1f\x7f]/);
          }
          // every head that reached the handler is a prefix of the bytes sent, in the reference grammar
          expect(VALID_HEAD.test(bytes.toString('latin1'))).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
    expect(calls.length).toBeGreaterThan(5); // the property was not vacuous
    // still serving
    const c = await Client.open(srv.port);
    try {
      c.write('GET /alive HTTP/1.1\r\nHost: a\r\n\r\n');
      await c.untilText('200 OK');
    } finally {
      c.destroy();
    }
  }, 60_000);
});
