import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBitsServer, type BitsServer, type BitsServerOptions } from '../../src/server/index.js';

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
