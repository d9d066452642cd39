import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startApp, type App } from '../src/app.js';

export interface RecordingApp {
  /** Temp directory holding the recording, the payload and the embedded server's root. */
  dir: string;
  /** The NDJSON recording the gateway writes. */
  record: string;
  /** A payload file to upload. */
  file: string;
  app: App;
  /** The gateway's base URL. */
  base: string;
  /** Removes `dir` (the app must be closed first). */
  cleanup(): Promise<void>;
}

/**
 * A gateway in front of the embedded server (upload-reply under /reply/), recording every
 * observation to DIR/traffic.ndjson, and a payload file of `payload` bytes to upload.
 */
export async function startRecordingApp(prefix: string, payload: Buffer): Promise<RecordingApp> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const record = join(dir, 'traffic.ndjson');
  const app = await startApp({
    logger: pino({ level: 'silent' }),
    listen: { host: '127.0.0.1', port: 0 },
    dashboard: false,
    embedded: { root: join(dir, 'root'), replyMode: 'sha256', replyPrefix: '/reply/' },
    record,
  });
  const file = join(dir, 'payload.bin');
  await writeFile(file, payload);
  return { dir, record, file, app, base: app.gateway.url, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
