/**
 * The demo traffic generator: concurrent BITS clients against one URL (normally the
 * gateway), most well-behaved, the others each committing one `--misbehave` error, so
 * every kind of session and invalid close shows up on the dashboard.
 *
 * Bounded: `clients` workers, each uploading until `durationMs` has passed or it has done
 * `maxUploadsPerClient` uploads; files are small, generated in a temp dir, deleted after.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MISBEHAVE_MODES, uploadFile, type MisbehaveMode } from '../client/index.js';

export interface DemoOptions {
  /** Base URL of the gateway (or a server); uploads go to `<base>demo/<name>.bin`. */
  baseUrl: URL;
  clients: number;
  durationMs: number;
  maxUploadsPerClient?: number;
  /** Largest generated file. Default 256 KiB. */
  maxFileBytes?: number;
  /** Pause between one client's uploads. Default 250 ms. */
  pauseMs?: number;
  onUpload?(line: string): void;
}

export type DemoRole = 'well-behaved' | MisbehaveMode;

export interface DemoReport {
  uploads: number;
  failures: number;
  byRole: Record<string, { uploads: number; failures: number }>;
}

/** Worker i's role: one worker per misbehave mode (when there are enough), the rest behave. */
export function roleOf(index: number, clients: number): DemoRole {
  // Keep most clients well-behaved.
  const misbehaving = Math.min(MISBEHAVE_MODES.length, Math.floor((clients - 1) / 2));
  return index < clients - misbehaving ? 'well-behaved' : MISBEHAVE_MODES[index - (clients - misbehaving)]!;
}

export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-demo-'));
  const report: DemoReport = { uploads: 0, failures: 0, byRole: {} };
  const deadline = Date.now() + options.durationMs;
  const maxUploads = options.maxUploadsPerClient ?? 50;
  const maxBytes = options.maxFileBytes ?? 256 * 1024;
  const runId = randomUUID().slice(0, 8);
  try {
    await Promise.all(
      Array.from({ length: options.clients }, async (_, i) => {
        const role = roleOf(i, options.clients);
        const tally = (report.byRole[role] ??= { uploads: 0, failures: 0 });
        for (let n = 0; n < maxUploads && Date.now() < deadline; n++) {
          // close-early needs at least 2 bytes; otherwise sizes vary from empty to maxBytes.
          const size = role === 'close-early' ? 2 + Math.floor(Math.random() * maxBytes) : Math.floor(Math.random() * maxBytes);
          const name = `${runId}-c${i}-${n}.bin`;
          const file = path.join(dir, name);
          await fs.writeFile(file, randomBytes(size));
          const target = new URL(`demo/${name}`, options.baseUrl);
          try {
            const r = await uploadFile({
              url: target,
              file,
              fragmentSize: 16 * 1024 + Math.floor(Math.random() * 48 * 1024),
              misbehave: role === 'well-behaved' ? undefined : role,
              maxRetries: 2,
              backoffBaseMs: 100,
            });
            options.onUpload?.(`client ${i} ${role}: ${r.acked}/${r.total} bytes, session ${r.sessionId ?? '-'}${r.misbehaved ? `, ${r.misbehaved.detail}` : ''}`);
          } catch (err) {
            tally.failures++;
            report.failures++;
            options.onUpload?.(`client ${i} ${role}: failed: ${(err as Error).message}`);
          } finally {
            await fs.rm(file, { force: true });
          }
          tally.uploads++;
          report.uploads++;
          await new Promise((r) => setTimeout(r, options.pauseMs ?? 250));
        }
      }),
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  return report;
}
