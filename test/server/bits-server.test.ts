/**
 * The server's IIS-faithful rules, over raw sockets with the literal BITS_POST method:
 * exact statuses and headers.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { classifyAnswer } from '../../src/protocol/index.js';
import { bits, buildRequest, exchange, RawConnection, type RawResponse } from './raw-http.js';
import { GUID, listFiles, sha256, startFixture, type Fixture } from './helpers.js';

let fx: Fixture;
const open: RawConnection[] = [];

async function conn(): Promise<RawConnection> {
  const c = await RawConnection.open(fx.port);
  open.push(c);
  return c;
}

afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await fx?.close();
});

function expectAck(r: RawResponse, status: number) {
  expect(r.status).toBe(status);
  expect(r.get('BITS-Packet-Type')).toBe('Ack');
  expect(r.get('Content-Length')).toBe('0');
}

function expectError(r: RawResponse, status: number, code: string, context = '0x5') {
  expectAck(r, status);
  expect(r.get('BITS-Error-Code')).toBe(code);
  expect(r.get('BITS-Error-Context')).toBe(context);
}

async function create(c: RawConnection, target = '/f.bin'): Promise<string> {
  const r = await c.request(bits(target, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']]));
  expectAck(r, 200);
  return r.get('BITS-Session-Id')!;
}

function frag(target: string, sid: string, start: number, body: Buffer, total: number, extra: [string, string][] = []): Buffer {
  return bits(target, [
    ['BITS-Packet-Type', 'Fragment'],
    ['BITS-Session-Id', sid],
    ['Content-Range', `bytes ${start}-${start + body.length - 1}/${total}`],
    ...extra,
  ], body);
}

function packet(target: string, type: string, sid: string): Buffer {
  return bits(target, [['BITS-Packet-Type', type], ['BITS-Session-Id', sid], ['Content-Length', '0']]);
}

describe('bitsgate serve (default options)', () => {
  beforeEach(async () => {
    fx = await startFixture();
  });

  it('answers Ping with a 200 Ack', async () => {
    const r = await exchange(fx.port, bits('/x', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
    expectAck(r, 200);
    expect(r.get('BITS-Error-Code')).toBeUndefined();
  });

  it('creates a session: chosen protocol (case-insensitive match), fresh braced GUID, Accept-Encoding: Identity', async () => {
    const c = await conn();
    const upper = GUID.toUpperCase();
    const r1 = await c.request(bits('/f.bin', [['bits-packet-type', 'CREATE-SESSION'], ['BITS-Supported-Protocols', `{00000000-0000-0000-0000-000000000000} ${upper}`]]));
    const r2 = await c.request(bits('/g.bin', [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID]]));
    for (const r of [r1, r2]) {
      expectAck(r, 200);
      expect(r.get('Accept-Encoding')).toBe('Identity');
      expect(r.get('BITS-Session-Id')).toMatch(/^\{[0-9a-f-]{36}\}$/);
      expect(r.get('BITS-Host-Id')).toBeUndefined();
    }
    expect(r1.get('BITS-Protocol')!.toLowerCase()).toBe(GUID);
    expect(r1.get('BITS-Session-Id')).not.toBe(r2.get('BITS-Session-Id'));
  });

  it('refuses a Create-Session with no common protocol: 400, 0x80070057, context 0x5', async () => {
    const r = await exchange(fx.port, bits('/f.bin', [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', '{11111111-2222-3333-4444-555555555555}']]));
    expectError(r, 400, '0x80070057');
    expect(fx.server.sessionCount()).toBe(0);
  });

  it('uploads in fragments across different connections; the file is at its destination at the final Fragment Ack (IIS)', async () => {
    const data = Buffer.from('hello, BITS world!');
    const sid = await create(await conn(), '/dir/sub/f.txt');
    let r = await (await conn()).request(frag('/dir/sub/f.txt', sid, 0, data.subarray(0, 7), data.length, [['Content-Name', 'f.txt']]));
    expectAck(r, 200);
    expect(r.get('BITS-Session-Id')).toBe(sid);
    expect(r.get('BITS-Received-Content-Range')).toBe('7');
    r = await (await conn()).request(frag('/dir/sub/f.txt', sid, 7, data.subarray(7), data.length));
    expect(r.get('BITS-Received-Content-Range')).toBe(String(data.length));
    expect(r.get('BITS-Reply-URL')).toBeUndefined();
    // Written at the final Fragment Ack ([W]), before Close-Session.
    expect(await fs.readFile(path.join(fx.root, 'dir/sub/f.txt'))).toEqual(data);
    r = await (await conn()).request(packet('/dir/sub/f.txt', 'Close-Session', sid));
    expectAck(r, 200);
    expect(r.get('BITS-Session-Id')).toBe(sid);
    expect(await fs.readFile(path.join(fx.root, 'dir/sub/f.txt'))).toEqual(data);
    expect(await listFiles(fx.root)).toEqual(['dir/sub/f.txt']);
  });

  it('keeps only the new bytes of an overlapping fragment and acknowledges a full duplicate', async () => {
    const c = await conn();
    const sid = await create(c);
    const data = Buffer.from('0123456789');
    await c.request(frag('/f.bin', sid, 0, Buffer.from('01234'), 10));
    // Overlap 3..7: the server already holds 0..4; bytes 3,4 must not be rewritten.
    let r = await c.request(frag('/f.bin', sid, 3, Buffer.from('XX567'), 10));
    expectAck(r, 200);
    expect(r.get('BITS-Received-Content-Range')).toBe('8');
    r = await c.request(frag('/f.bin', sid, 0, Buffer.from('YYY'), 10));
    expect(r.get('BITS-Received-Content-Range')).toBe('8');
    r = await c.request(frag('/f.bin', sid, 8, Buffer.from('89'), 10));
    expect(r.get('BITS-Received-Content-Range')).toBe('10');
    expectAck(await c.request(packet('/f.bin', 'Close-Session', sid)), 200);
    expect(await fs.readFile(path.join(fx.root, 'f.bin'))).toEqual(data);
  });

  it('answers a gap with 416, error code 0 (§6) and BITS-Received-Content-Range = the next expected offset', async () => {
    const c = await conn();
    const sid = await create(c);
    await c.request(frag('/f.bin', sid, 0, Buffer.from('abc'), 10));
    const r = await c.request(frag('/f.bin', sid, 5, Buffer.from('fg'), 10));
    expectError(r, 416, '0x00000000');
    expect(r.get('BITS-Received-Content-Range')).toBe('3');
    // The session continues from the offset the server named.
    const c2 = await conn();
    expect((await c2.request(frag('/f.bin', sid, 3, Buffer.from('defghij'), 10))).get('BITS-Received-Content-Range')).toBe('10');
  });

  it('rejects a Content-Length that does not match the range with 400', async () => {
    const c = await conn();
    const sid = await create(c);
    const body = Buffer.from('abcd');
    const r = await c.request(bits('/f.bin', [
      ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid], ['Content-Range', 'bytes 0-9/10'], ['Content-Length', '4'],
    ], body));
    expectError(r, 400, '0x80070057');
    expect(r.get('BITS-Session-Id')).toBe(sid);
  });

  it('rejects a fragment with a Content-Encoding other than identity with 400', async () => {
    const c = await conn();
    const sid = await create(c);
    expectError(await c.request(frag('/f.bin', sid, 0, Buffer.from('ab'), 2, [['Content-Encoding', 'gzip']])), 400, '0x80070057');
    expectAck(await c.request(frag('/f.bin', sid, 0, Buffer.from('ab'), 2, [['Content-Encoding', 'identity']])), 200);
  });

  it('rejects malformed and changed ranges with 400', async () => {
    const c = await conn();
    const sid = await create(c);
    let r = await c.request(bits('/f.bin', [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid], ['Content-Range', 'bytes 0-3/2'], ['Content-Length', '4']], Buffer.from('abcd')));
    expectError(r, 400, '0x80070057');
    await c.request(frag('/f.bin', sid, 0, Buffer.from('ab'), 4));
    r = await c.request(frag('/f.bin', sid, 2, Buffer.from('cd'), 5));
    expectError(r, 400, '0x80070057');
  });

  it('answers an unknown session with 500 BG_E_SESSION_NOT_FOUND for Fragment, Close and Cancel', async () => {
    const c = await conn();
    const bogus = '{00000000-1111-2222-3333-444444444444}';
    for (const req of [frag('/f.bin', bogus, 0, Buffer.from('a'), 1), packet('/f.bin', 'Close-Session', bogus), packet('/f.bin', 'Cancel-Session', bogus)]) {
      const r = await c.request(req);
      expectError(r, 500, '0x8020001F');
      expect(r.get('BITS-Session-Id')).toBe(bogus);
    }
  });

  it('deletes an incomplete upload on Close-Session and forgets the session', async () => {
    const c = await conn();
    const sid = await create(c);
    await c.request(frag('/f.bin', sid, 0, Buffer.from('abc'), 10));
    expectAck(await c.request(packet('/f.bin', 'Close-Session', sid)), 200);
    expect(await listFiles(fx.root)).toEqual([]);
    expectError(await c.request(packet('/f.bin', 'Close-Session', sid)), 500, '0x8020001F');
    expect(fx.logs.some((l) => l.msg === 'incomplete upload deleted' && l.obj.received === 3 && l.obj.total === 10)).toBe(true);
  });

  it('deletes everything on a Cancel-Session before the last fragment', async () => {
    const c = await conn();
    const sid = await create(c);
    await c.request(frag('/f.bin', sid, 0, Buffer.from('abcde'), 10));
    expectAck(await c.request(packet('/f.bin', 'Cancel-Session', sid)), 200);
    expect(await listFiles(fx.root)).toEqual([]);
    expectError(await c.request(frag('/f.bin', sid, 5, Buffer.from('fghij'), 10)), 500, '0x8020001F');
  });

  it('keeps a plain upload on a Cancel-Session after the last fragment ([W]: it was written at the final Ack)', async () => {
    const c = await conn();
    const sid = await create(c);
    await c.request(frag('/f.bin', sid, 0, Buffer.from('abcdefghij'), 10));
    expectAck(await c.request(packet('/f.bin', 'Cancel-Session', sid)), 200);
    expect(await listFiles(fx.root)).toEqual(['f.bin']);
    expect(await fs.readFile(path.join(fx.root, 'f.bin'), 'utf8')).toBe('abcdefghij');
    expectError(await c.request(packet('/f.bin', 'Close-Session', sid)), 500, '0x8020001F');
  });

  it('commits a zero-byte upload closed without any fragment', async () => {
    const c = await conn();
    const sid = await create(c, '/empty.bin');
    expectAck(await c.request(packet('/empty.bin', 'Close-Session', sid)), 200);
    expect((await fs.stat(path.join(fx.root, 'empty.bin'))).size).toBe(0);
  });

  it('answers 403 + 0x80070005 on Create-Session when the destination exists (§6 row; a client gives up, not retries)', async () => {
    await fs.writeFile(path.join(fx.root, 'exists.bin'), 'old');
    const r = await exchange(fx.port, bits('/exists.bin', [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID]]));
    expectError(r, 403, '0x80070005');
    expect(await fs.readFile(path.join(fx.root, 'exists.bin'), 'utf8')).toBe('old');
  });

  it('answers 403 on the final Fragment when the destination appeared meanwhile, keeping the existing file and ending the session', async () => {
    const c = await conn();
    const sid = await create(c, '/race.bin');
    await fs.writeFile(path.join(fx.root, 'race.bin'), 'old');
    expectError(await c.request(frag('/race.bin', sid, 0, Buffer.from('new'), 3)), 403, '0x80070005');
    // 403 is final for the client: nothing can complete this session, so nothing of it stays.
    expect(await listFiles(fx.root)).toEqual(['race.bin']);
    expect(await fs.readFile(path.join(fx.root, 'race.bin'), 'utf8')).toBe('old');
    expectError(await c.request(packet('/race.bin', 'Close-Session', sid)), 500, '0x8020001F');
  });

  it('sends 100 Continue before reading a fragment that expects it', async () => {
    const c = await conn();
    const sid = await create(c);
    c.write(bits('/f.bin', [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid], ['Content-Range', 'bytes 0-2/3'], ['Content-Length', '3'], ['Expect', '100-continue']]));
    const cont = await c.read();
    expect(cont.status).toBe(100);
    c.write('abc');
    const r = await c.read();
    expectAck(r, 200);
    expect(r.get('BITS-Received-Content-Range')).toBe('3');
  });

  it('rejects a fragment that expects 100-continue without sending 100, then closes the connection', async () => {
    const c = await conn();
    c.write(bits('/f.bin', [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', '{nope}'], ['Content-Range', 'bytes 0-2/3'], ['Content-Length', '3'], ['Expect', '100-continue']]));
    const r = await c.read();
    expectError(r, 500, '0x8020001F');
    expect(r.get('Connection')?.toLowerCase()).toBe('close');
    await c.waitClosed();
  });

  it('answers a gap in a large fragment with 416 that the client can read, keeping no bytes', async () => {
    const c = await conn();
    const sid = await create(c);
    const r = await c.request(frag('/f.bin', sid, 1, Buffer.alloc(3 * 1024 * 1024, 7), 4 * 1024 * 1024));
    expectError(r, 416, '0x00000000');
    expect(r.get('BITS-Received-Content-Range')).toBe('0');
    const c2 = await conn();
    expectAck(await c2.request(packet('/f.bin', 'Cancel-Session', sid)), 200);
    expect(await listFiles(fx.root)).toEqual([]);
  });

  it('answers an unknown packet type and a missing session id with 400 E_INVALIDARG', async () => {
    const c = await conn();
    expectError(await c.request(bits('/f.bin', [['BITS-Packet-Type', 'Teleport'], ['Content-Length', '0']])), 400, '0x80070057');
    expectError(await c.request(bits('/f.bin', [['BITS-Packet-Type', 'Close-Session'], ['Content-Length', '0']])), 400, '0x80070057');
  });

  it('refuses other methods with 405 and a GET of an unknown reply with 404, both with Content-Length', async () => {
    let r = await exchange(fx.port, buildRequest('PUT', '/f.bin', [], Buffer.from('x')));
    expect(r.status).toBe(405);
    expect(r.get('Allow')).toBe('BITS_POST, GET');
    expect(r.get('Content-Length')).toBe(String(r.body.length));
    r = await exchange(fx.port, buildRequest('GET', '/.bitsgate-reply/nope', []));
    expect(r.status).toBe(404);
    expect(await listFiles(fx.root)).toEqual([]);
  });

  it('runs concurrent uploads of different sessions independently', async () => {
    const files = Array.from({ length: 6 }, (_, i) => Buffer.alloc(50_000 + i * 1000, i + 1));
    await Promise.all(files.map(async (data, i) => {
      const c = await conn();
      const target = `/c/${i}.bin`;
      const sid = await create(c, target);
      for (let off = 0; off < data.length; off += 7_001) {
        const part = data.subarray(off, Math.min(off + 7_001, data.length));
        expectAck(await c.request(frag(target, sid, off, part, data.length)), 200);
      }
      expectAck(await c.request(packet(target, 'Close-Session', sid)), 200);
    }));
    for (const [i, data] of files.entries()) {
      expect(sha256(await fs.readFile(path.join(fx.root, 'c', `${i}.bin`)))).toBe(sha256(data));
    }
  });
});

describe('bitsgate serve options', () => {
  it('--max-upload-size: a total over the limit gets 500 + BG_E_TOO_LARGE (the client gives up), never 413 (shrink forever)', async () => {
    fx = await startFixture({ maxUpload: 10 });
    const c = await conn();
    const sid = await create(c);
    const r = await c.request(frag('/f.bin', sid, 0, Buffer.from('abc'), 11));
    expectError(r, 500, '0x80200020');
    expect(classifyAnswer('fragment', r.status, Number(r.get('BITS-Error-Code'))).class).toBe('fatal');
    expectAck(await c.request(frag('/f.bin', sid, 0, Buffer.from('abc'), 10)), 200);
    expect(await listFiles(fx.root)).toEqual(['.bitsgate-tmp/' + (await fs.readdir(path.join(fx.root, '.bitsgate-tmp')))[0]]);
  });

  it('--session-limit (IIS BITSNumberOfSessionsLimit): Create is never refused; the cleanup deletes the NEWEST over the limit', async () => {
    fx = await startFixture({ sessionLimit: 2 });
    const c = await conn();
    const a = await create(c, '/a.bin');
    const b = await create(c, '/b.bin');
    const newest = await create(c, '/c.bin');
    expectAck(await c.request(frag('/c.bin', newest, 0, Buffer.from('x'), 2)), 200);
    expect(fx.server.sessionCount()).toBe(3);
    await fx.server.cleanup();
    expect(fx.server.sessionCount()).toBe(2);
    expectError(await c.request(frag('/c.bin', newest, 1, Buffer.from('y'), 2)), 500, '0x8020001F');
    expect(await listFiles(fx.root)).toEqual([]);
    for (const [sid, name] of [[a, '/a.bin'], [b, '/b.bin']] as const) {
      expectAck(await c.request(frag(name, sid, 0, Buffer.from('ok'), 2)), 200);
    }
    expect(fx.logs.filter((l) => l.msg.startsWith('session deleted: over the per-user session limit')).map((l) => l.obj.sessionId)).toEqual([newest]);
  });

  it('--allow-overwrite replaces an existing destination', async () => {
    fx = await startFixture({ allowOverwrite: true });
    await fs.writeFile(path.join(fx.root, 'f.bin'), 'old contents');
    const c = await conn();
    const sid = await create(c);
    await c.request(frag('/f.bin', sid, 0, Buffer.from('new'), 3));
    expectAck(await c.request(packet('/f.bin', 'Close-Session', sid)), 200);
    expect(await fs.readFile(path.join(fx.root, 'f.bin'), 'utf8')).toBe('new');
  });

  it('--host-id adds BITS-Host-Id and BITS-Host-Id-Fallback-Timeout to the Create-Session Ack', async () => {
    fx = await startFixture({ hostId: 'node7.example', hostIdFallbackTimeout: 600 });
    const r = await exchange(fx.port, bits('/f.bin', [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID]]));
    expectAck(r, 200);
    expect(r.get('BITS-Host-Id')).toBe('node7.example');
    expect(r.get('BITS-Host-Id-Fallback-Timeout')).toBe('600');
  });

  it('--session-timeout: an idle session is deleted with its temp file', async () => {
    fx = await startFixture({ sessionTimeoutMs: 150 });
    const c = await conn();
    const sid = await create(c);
    await c.request(frag('/f.bin', sid, 0, Buffer.from('abc'), 10));
    expect(await listFiles(fx.root)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 400));
    expect(fx.server.sessionCount()).toBe(0);
    expect(await listFiles(fx.root)).toEqual([]);
    expectError(await c.request(frag('/f.bin', sid, 3, Buffer.from('d'), 10)), 500, '0x8020001F');
    expect(fx.logs.some((l) => l.msg === 'session expired' && l.obj.sessionId === sid)).toBe(true);
  });

  it('--reply-mode sha256: the final Ack carries BITS-Reply-URL, GET returns the sha256, Close deletes the reply', async () => {
    fx = await startFixture({ replyMode: 'sha256' });
    const data = Buffer.from('reply me, please');
    const c = await conn();
    const sid = await create(c);
    let r = await c.request(frag('/f.bin', sid, 0, data.subarray(0, 5), data.length));
    expect(r.get('BITS-Reply-URL')).toBeUndefined();
    r = await c.request(frag('/f.bin', sid, 5, data.subarray(5), data.length));
    const replyUrl = r.get('BITS-Reply-URL')!;
    expect(replyUrl).toMatch(/^http:\/\/127\.0\.0\.1\/\.bitsgate-reply\/[0-9a-f-]{36}$/);
    const replyPath = new URL(replyUrl).pathname;
    const got = await c.request(buildRequest('GET', replyPath, []));
    expect(got.status).toBe(200);
    expect(got.body.toString()).toBe(sha256(data) + '\n');
    expectAck(await c.request(packet('/f.bin', 'Close-Session', sid)), 200);
    expect((await c.request(buildRequest('GET', replyPath, []))).status).toBe(404);
    expect(await fs.readFile(path.join(fx.root, 'f.bin'))).toEqual(data);
  });
});
