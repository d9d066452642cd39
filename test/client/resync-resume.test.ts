/**
 * The client trusts only the server's offset: it resynchronises on 416, retries transient
 * failures and resumes after a dropped connection without corrupting the file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uploadFile, UploadError } from '../../src/client/index.js';
import { sha256, startFixture, type Fixture } from '../server/helpers.js';
import { startRelay, startScriptedServer, type Relay, type Scripted, type SeenRequest } from './test-peers.js';

const SID = '{11111111-2222-4333-8444-555555555555}';
let dir: string;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-cli-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await fs.rm(dir, { recursive: true, force: true });
});

function ack(extra: [string, string][] = []): { status: number; headers: [string, string][] } {
  return { status: 200, headers: [['BITS-Packet-Type', 'Ack'], ...extra] };
}

function rangeOf(req: SeenRequest): [number, number, number] {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(req.get('Content-Range')!)!;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** A scripted BITS server that accepts everything and lets `fragment` override answers. */
async function scripted(fragment: (req: SeenRequest, n: number) => { status: number; headers: [string, string][] } | undefined): Promise<Scripted> {
  let fragments = 0;
  const s = await startScriptedServer((req) => {
    const type = req.get('BITS-Packet-Type');
    if (type === 'Create-Session') return ack([['BITS-Protocol', '{7df0354d-249b-430f-820d-3d2a9bef4931}'], ['BITS-Session-Id', SID]]);
    if (type === 'Fragment') {
      const over = fragment(req, fragments++);
      if (over) return over;
      return ack([['BITS-Session-Id', SID], ['BITS-Received-Content-Range', String(rangeOf(req)[1] + 1)]]);
    }
    return ack(type === 'Ping' ? [] : [['BITS-Session-Id', SID]]);
  });
  cleanups.push(() => s.close());
  return s;
}

describe('client protocol behaviour (scripted server)', () => {
  it('writes the literal BITS_POST method, Content-Range on every fragment and Content-Name on the first only', async () => {
    const data = randomBytes(2500);
    const file = path.join(dir, 'named.bin');
    await fs.writeFile(file, data);
    const s = await scripted(() => undefined);
    await uploadFile({ url: `http://127.0.0.1:${s.port}/up/named.bin`, file, fragmentSize: 1000 });
    expect(s.requests.map((r) => `${r.method} ${r.target} ${r.get('BITS-Packet-Type')}`)).toEqual([
      'BITS_POST /up/named.bin Ping',
      'BITS_POST /up/named.bin Create-Session',
      'BITS_POST /up/named.bin Fragment',
      'BITS_POST /up/named.bin Fragment',
      'BITS_POST /up/named.bin Fragment',
      'BITS_POST /up/named.bin Close-Session',
    ]);
    const frags = s.requests.filter((r) => r.get('BITS-Packet-Type') === 'Fragment');
    expect(frags.map((r) => r.get('Content-Range'))).toEqual(['bytes 0-999/2500', 'bytes 1000-1999/2500', 'bytes 2000-2499/2500']);
    expect(frags.map((r) => r.get('Content-Name'))).toEqual(['named.bin', undefined, undefined]);
    expect(frags.map((r) => r.get('BITS-Session-Id'))).toEqual([SID, SID, SID]);
    expect(Buffer.concat(frags.map((r) => r.body))).toEqual(data);
    expect(s.requests[1]!.get('BITS-Supported-Protocols')).toBe('{7df0354d-249b-430f-820d-3d2a9bef4931}');
  });

  it('resynchronises on 416 from BITS-Received-Content-Range', async () => {
    const data = randomBytes(3000);
    const file = path.join(dir, 'resync.bin');
    await fs.writeFile(file, data);
    // The server claims it already holds 1700 bytes when the first fragment arrives.
    const s = await scripted((_req, n) =>
      n === 0 ? { status: 416, headers: [['BITS-Packet-Type', 'Ack'], ['BITS-Received-Content-Range', '1700'], ['BITS-Error-Code', '0x80070057']] } : undefined,
    );
    const r = await uploadFile({ url: `http://127.0.0.1:${s.port}/f.bin`, file, fragmentSize: 1000 });
    expect(r).toMatchObject({ resyncs: 1, retries: 0, acked: 3000, closed: true });
    const frags = s.requests.filter((q) => q.get('BITS-Packet-Type') === 'Fragment');
    expect(frags.map((q) => q.get('Content-Range'))).toEqual(['bytes 0-999/3000', 'bytes 1700-2699/3000', 'bytes 2700-2999/3000']);
    expect(frags[1]!.body).toEqual(data.subarray(1700, 2700));
  });

  it('retries a transient 503 and continues from the offset of the next Ack', async () => {
    const file = path.join(dir, 'retry.bin');
    await fs.writeFile(file, randomBytes(2000));
    const s = await scripted((_req, n) =>
      n === 1 ? { status: 503, headers: [['BITS-Packet-Type', 'Ack'], ['BITS-Error-Code', '0x80004005'], ['BITS-Error-Context', '0x5']] } : undefined,
    );
    const r = await uploadFile({ url: `http://127.0.0.1:${s.port}/f.bin`, file, fragmentSize: 1000, backoffBaseMs: 1 });
    expect(r).toMatchObject({ retries: 1, closed: true });
    expect(s.requests.filter((q) => q.get('BITS-Packet-Type') === 'Fragment').map((q) => q.get('Content-Range')))
      .toEqual(['bytes 0-999/2000', 'bytes 1000-1999/2000', 'bytes 1000-1999/2000']);
  });

  it.each([
    [403, 'Create-Session answered 403 (0x80070005 E_ACCESSDENIED): the server refuses uploads to this path'],
    [501, 'Create-Session answered 501 (0x80070005 E_ACCESSDENIED): uploads are not enabled for this URL on the server'],
  ])('stops on a fatal %i without retrying', async (status, message) => {
    const file = path.join(dir, 'fatal.bin');
    await fs.writeFile(file, 'x');
    const s = await startScriptedServer((req) =>
      req.get('BITS-Packet-Type') === 'Create-Session'
        ? { status, headers: [['BITS-Packet-Type', 'Ack'], ['BITS-Error-Code', '0x80070005'], ['BITS-Error-Context', '0x5']] }
        : ack(),
    );
    cleanups.push(() => s.close());
    const err = await uploadFile({ url: `http://127.0.0.1:${s.port}/f.bin`, file, backoffBaseMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect((err as UploadError).message).toBe(message);
    expect(s.requests).toHaveLength(2);
  });
});

describe('resume after a dropped connection (relay → bitsgate serve)', () => {
  let fx: Fixture;
  let relay: Relay;
  beforeEach(async () => {
    fx = await startFixture();
    cleanups.push(() => fx.close());
  });

  it('resumes when the connection drops in the middle of a fragment body', async () => {
    const data = randomBytes(1024 * 1024);
    const file = path.join(dir, 'drop-mid.bin');
    await fs.writeFile(file, data);
    let cut = false;
    relay = await startRelay(fx.port, ({ dir: d, upTotal }) => {
      if (!cut && d === 'up' && upTotal > 400_000) return (cut = true);
      return false;
    });
    cleanups.push(() => relay.close());
    const r = await uploadFile({ url: `http://127.0.0.1:${relay.port}/drop-mid.bin`, file, fragmentSize: 256 * 1024, backoffBaseMs: 1 });
    expect(cut).toBe(true);
    expect(r.retries).toBe(1);
    expect(r.closed).toBe(true);
    expect(sha256(await fs.readFile(path.join(fx.root, 'drop-mid.bin')))).toBe(sha256(data));
  });

  it('resumes when the Ack of a fragment is lost (the server already holds those bytes)', async () => {
    const data = randomBytes(300_000);
    const file = path.join(dir, 'drop-ack.bin');
    await fs.writeFile(file, data);
    let responses = 0;
    let cut = false;
    relay = await startRelay(fx.port, ({ dir: d, chunk }) => {
      if (d !== 'down' || cut) return false;
      if (chunk.subarray(0, 9).toString() === 'HTTP/1.1 ') responses++;
      // 1 Ping, 2 Create-Session, 3 the first Fragment's Ack: drop that one.
      if (responses === 3) return (cut = true);
      return false;
    });
    cleanups.push(() => relay.close());
    const r = await uploadFile({ url: `http://127.0.0.1:${relay.port}/drop-ack.bin`, file, fragmentSize: 100_000, backoffBaseMs: 1 });
    expect(cut).toBe(true);
    expect(r).toMatchObject({ retries: 1, closed: true, acked: 300_000 });
    expect(sha256(await fs.readFile(path.join(fx.root, 'drop-ack.bin')))).toBe(sha256(data));
  });
});

describe('Content-Name', () => {
  it('percent-encodes characters a header cannot carry', async () => {
    const file = path.join(dir, 'résumé 100%.bin');
    await fs.writeFile(file, 'x');
    const s = await scripted(() => undefined);
    await uploadFile({ url: `http://127.0.0.1:${s.port}/f.bin`, file });
    expect(s.requests.find((r) => r.get('BITS-Packet-Type') === 'Fragment')!.get('Content-Name')).toBe('r%C3%A9sum%C3%A9 100%25.bin');
  });
});
