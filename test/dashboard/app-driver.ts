/**
 * Real traffic for the dashboard browser tests: the whole app as `npm start` runs it
 * (embedded BITS server, gateway, tracker, dashboard) and our BITS client uploading
 * through the gateway with a literal BITS_POST on the wire.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startApp, type App } from '../../src/app.js';
import { uploadFile } from '../../src/client/index.js';
import type { Observation } from '../../src/observation.js';
import type { Harness, TrafficDriver, UploadSpec } from './harness.js';

const PROTOCOL = '{7df0354d-249b-430f-820d-3d2a9bef4931}';

export class UploadDriver implements TrafficDriver {
  private n = 0;
  private syntheticExchange = 1_000_000_000;

  constructor(private readonly app: App, private readonly files: string) {}

  private file(size: number): string {
    const p = join(this.files, `src-${++this.n}.bin`);
    writeFileSync(p, randomBytes(size));
    return p;
  }

  private target(): URL {
    return new URL(`/uploads/dash-${process.pid}-${Date.now()}-${this.n}.bin`, this.app.gateway.url);
  }

  async upload(spec: UploadSpec): Promise<string> {
    const file = this.file(spec.size);
    const r = await uploadFile({
      url: this.target(), file, contentName: spec.contentName, noPing: true, maxRetries: 0,
      fragmentSize: spec.fragmentSize ?? Math.max(1, Math.ceil(spec.size / 4)),
    });
    if (!r.sessionId || !r.closed || r.acked !== spec.size) throw new Error(`upload did not complete: ${JSON.stringify(r)}`);
    return r.sessionId;
  }

  async uploadCloseEarly(spec: UploadSpec): Promise<string> {
    const file = this.file(spec.size);
    const r = await uploadFile({
      url: this.target(), file, contentName: spec.contentName, noPing: true, maxRetries: 0, misbehave: 'close-early',
      fragmentSize: spec.fragmentSize ?? Math.max(1, Math.ceil(spec.size / 4)),
    });
    if (!r.sessionId) throw new Error(`close-early upload has no session: ${JSON.stringify(r)}`);
    return r.sessionId;
  }

  /** 10 000 real uploads would take minutes: feed the tracker Create-Session exchanges directly. */
  async bulkSessions(count: number): Promise<void> {
    const t = Date.now();
    for (let i = 0; i < count; i++) {
      const id = `{bulk-${process.pid}-${i}}`;
      const obs: Observation = {
        id: this.syntheticExchange++, connectionId: 900_000 + i, client: { address: '127.0.0.1', port: 40_000 + (i % 20_000) },
        method: 'BITS_POST', url: `/uploads/bulk-${String(i).padStart(5, '0')}.dat`, httpVersion: '1.1',
        requestHeaders: [['Host', '127.0.0.1'], ['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', PROTOCOL], ['Content-Length', '0']],
        startedAt: t, requestBodyBytes: 0, status: 201,
        responseHeaders: [['BITS-Packet-Type', 'Ack'], ['BITS-Protocol', PROTOCOL], ['BITS-Session-Id', id], ['Content-Length', '0']],
        responseBodyBytes: 0, respondedAt: t + 1, endedAt: t + 1, responder: 'upstream',
      };
      this.app.bus.publish(this.app.tracker.observe(obs));
    }
  }

  async close(): Promise<void> {}
}

export async function startAppHarness(opts: { token?: string } = {}): Promise<Harness> {
  const root = mkdtempSync(join(tmpdir(), 'bitsgate-dash-root-'));
  const files = mkdtempSync(join(tmpdir(), 'bitsgate-dash-files-'));
  const app = await startApp({
    embedded: { root },
    listen: { host: '127.0.0.1', port: 0 },
    dashboard: { host: '127.0.0.1', port: 0 },
    dashboardToken: opts.token,
    logger: pino({ level: 'silent' }),
  });
  const driver = new UploadDriver(app, files);
  return {
    dashboard: app.dashboard!, source: app.tracker, bus: app.bus, driver,
    async close() {
      await app.close();
      rmSync(root, { recursive: true, force: true });
      rmSync(files, { recursive: true, force: true });
    },
  };
}
