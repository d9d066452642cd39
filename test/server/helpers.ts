import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBitsServer, type BitsServer, type BitsServerOptions } from '../../src/server/index.js';
import { bits, type RawConnection, type RawResponse } from './raw-http.js';

export const GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';

export interface Fixture {
  dir: string;
  root: string;
  server: BitsServer;
  port: number;
  logs: { msg: string; obj: Record<string, unknown> }[];
  close(): Promise<void>;
}

/** A server on port 0 with a fresh temp root (DIR/root) and a capturing logger. */
export async function startFixture(options: Partial<BitsServerOptions> = {}): Promise<Fixture> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-srv-'));
  const root = path.join(dir, 'root');
  const logs: Fixture['logs'] = [];
  const capture = (obj: object, msg?: string) => logs.push({ msg: msg ?? '', obj: obj as Record<string, unknown> });
  const server = await startBitsServer({
    root,
    listen: { host: '127.0.0.1', port: 0 },
    logger: { info: capture, warn: capture, error: capture },
    ...options,
  });
  return {
    dir,
    root,
    server,
    port: server.address.port,
    logs,
    async close() {
      await server.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every file under `dir`, relative, sorted (the hidden work dir included). */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string) {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(path.relative(dir, p));
    }
  }
  await walk(dir).catch(() => {});
  return out.sort();
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Packets of a session as raw BITS_POST requests (see raw-http.ts). */
export function createPacket(target: string): Buffer {
  return bits(target, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']]);
}

export function fragmentPacket(target: string, sid: string, start: number, body: Buffer, total: number): Buffer {
  return bits(target, [
    ['BITS-Packet-Type', 'Fragment'],
    ['BITS-Session-Id', sid],
    ['Content-Range', `bytes ${start}-${start + body.length - 1}/${total}`],
  ], body);
}

export function sessionPacket(target: string, type: 'Close-Session' | 'Cancel-Session', sid: string): Buffer {
  return bits(target, [['BITS-Packet-Type', type], ['BITS-Session-Id', sid], ['Content-Length', '0']]);
}

/** Create-Session on `c`; returns the session id (fails the test on anything but 200). */
export async function createSession(c: RawConnection, target: string): Promise<string> {
  const r = await c.request(createPacket(target));
  if (r.status !== 200) throw new Error(`Create-Session ${target}: ${r.status} ${r.get('BITS-Error-Code')}`);
  return r.get('BITS-Session-Id')!;
}

/** Status, error code and context of an Ack, for one-line exact assertions. */
export function ackOf(r: RawResponse): { status: number; code?: string; context?: string } {
  const out: { status: number; code?: string; context?: string } = { status: r.status };
  if (r.get('BITS-Error-Code') !== undefined) out.code = r.get('BITS-Error-Code');
  if (r.get('BITS-Error-Context') !== undefined) out.context = r.get('BITS-Error-Context');
  return out;
}
