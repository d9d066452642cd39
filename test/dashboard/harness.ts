/**
 * Drives a running dashboard with upload traffic for the browser tests. The tests only
 * talk to a TrafficDriver and the dashboard handle; two implementations:
 *  - `real` (default): the whole app (startApp: embedded BITS server, gateway, tracker,
 *    dashboard) and real uploads with our BITS client through the gateway (app-driver.ts).
 *  - `synthetic`: a FakeSource emitting the events the tracker would emit; no gateway.
 *    Select it with BITSGATE_DASHBOARD_TRAFFIC=synthetic (isolates UI failures).
 */
import { startDashboard, type DashboardHandle } from '../../src/dashboard/server.js';
import type { EventBus } from '../../src/event-bus.js';
import type { SnapshotSource } from '../../src/dashboard/snapshot-source.js';
import { FakeSource, packet, summary, violation } from './fake-source.js';

export interface UploadSpec {
  contentName: string;
  size: number;
  fragmentSize?: number;
}

export interface TrafficDriver {
  /** A complete upload, closed properly. Resolves with the session id. */
  upload(spec: UploadSpec): Promise<string>;
  /** An upload closed after its first fragment: the gateway must flag `close-incomplete`. */
  uploadCloseEarly(spec: UploadSpec): Promise<string>;
  /** Many short sessions at once (virtualisation); may be synthetic even with real traffic. */
  bulkSessions?(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface Harness {
  dashboard: DashboardHandle;
  source: SnapshotSource;
  bus: EventBus;
  driver: TrafficDriver;
  close(): Promise<void>;
}

const PROTOCOL = '{7df0354d-249b-430f-820d-3d2a9bef4931}';
let counter = 0;

function newId(): string {
  counter++;
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `{${hex(0x5a000000 + counter, 8)}-0000-4000-8000-${hex(Date.now() % 0xffffffffffff, 12)}}`;
}

/** Emits, for each upload, the events the tracker produces for the same exchanges. */
export class SyntheticDriver implements TrafficDriver {
  constructor(readonly fake: FakeSource, private readonly stepMs = 0) {}

  private async step(): Promise<void> {
    if (this.stepMs) await new Promise((r) => setTimeout(r, this.stepMs));
  }

  private begin(spec: UploadSpec): { id: string; url: string } {
    const id = newId();
    const url = `/uploads/${encodeURIComponent(spec.contentName)}`;
    const base = summary(id, { state: 'open', url, contentName: undefined, protocol: undefined });
    this.fake.emit({ type: 'session-created', session: base });
    this.fake.emit({
      type: 'packet', sessionId: id,
      packet: packet('create-session', { url, status: 201, requestHeaders: [['Host', '127.0.0.1'], ['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', PROTOCOL]], responseHeaders: [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', id], ['BITS-Protocol', PROTOCOL]] }),
    });
    return { id, url };
  }

  private async fragments(id: string, url: string, spec: UploadSpec, upTo: number): Promise<ReturnType<typeof summary>> {
    const frag = spec.fragmentSize ?? Math.max(1, Math.ceil(spec.size / 4));
    let s = summary(id, { state: 'open', url, contentName: spec.contentName, protocol: PROTOCOL, totalLength: spec.size });
    this.fake.emit({ type: 'session-updated', session: s });
    for (let start = 0, n = 0; start < upTo; start += frag, n++) {
      await this.step();
      const end = Math.min(spec.size, start + frag) - 1;
      const done = end + 1 === spec.size;
      this.fake.emit({
        type: 'packet', sessionId: id,
        packet: packet('fragment', {
          url, range: { start, end, total: spec.size }, ackedOffset: end + 1, requestBytes: end - start + 1,
          requestHeaders: [['Host', '127.0.0.1'], ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', id],
            ...(n === 0 ? [['Content-Name', spec.contentName] as [string, string]] : []),
            ['Content-Range', `bytes ${start}-${end}/${spec.size}`], ['Content-Length', String(end - start + 1)]],
          responseHeaders: [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', id], ['BITS-Received-Content-Range', String(end + 1)]],
        }),
      });
      s = { ...s, state: done ? 'uploaded' : 'open', ackedBytes: end + 1, relayedBytes: end + 1, fragments: n + 1, lastSeen: Date.now() };
      this.fake.emit({ type: 'session-updated', session: s });
    }
    return s;
  }

  private closeSession(id: string, url: string): void {
    this.fake.emit({
      type: 'packet', sessionId: id,
      packet: packet('close-session', { url, requestHeaders: [['Host', '127.0.0.1'], ['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', id]] }),
    });
  }

  async upload(spec: UploadSpec): Promise<string> {
    const { id, url } = this.begin(spec);
    const s = await this.fragments(id, url, spec, spec.size);
    await this.step();
    this.closeSession(id, url);
    this.fake.emit({ type: 'session-ended', session: { ...s, state: 'closed', lastSeen: Date.now() } });
    return id;
  }

  async uploadCloseEarly(spec: UploadSpec): Promise<string> {
    const { id, url } = this.begin(spec);
    const frag = spec.fragmentSize ?? Math.max(1, Math.ceil(spec.size / 4));
    const s = await this.fragments(id, url, spec, frag);
    await this.step();
    this.closeSession(id, url);
    this.fake.emit({
      type: 'violation',
      violation: violation('close-incomplete', id, {
        message: `Close-Session after ${s.ackedBytes} of ${spec.size} bytes`,
        explain: 'The server deletes the partial upload. The client must send the remaining fragments before closing.',
      }),
    });
    this.fake.emit({ type: 'session-ended', session: { ...s, state: 'closed', violations: ['close-incomplete'], lastSeen: Date.now() } });
    return id;
  }

  async bulkSessions(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const id = newId();
      const total = 1000 + i;
      this.fake.emit({
        type: 'session-created',
        session: summary(id, { contentName: `bulk-${String(i).padStart(5, '0')}.dat`, totalLength: total, ackedBytes: (i * 37) % total, relayedBytes: (i * 37) % total }),
      });
    }
  }

  async close(): Promise<void> {}
}

export type TrafficKind = 'real' | 'synthetic';

export function trafficKind(): TrafficKind {
  return process.env.BITSGATE_DASHBOARD_TRAFFIC === 'synthetic' ? 'synthetic' : 'real';
}

export async function startHarness(opts: { token?: string; traffic?: TrafficKind } = {}): Promise<Harness> {
  if ((opts.traffic ?? trafficKind()) === 'real') {
    const { startAppHarness } = await import('./app-driver.js');
    return startAppHarness(opts);
  }
  return startSyntheticHarness(opts);
}

export async function startSyntheticHarness(opts: { token?: string } = {}): Promise<Harness> {
  const fake = new FakeSource();
  const dashboard = await startDashboard({
    listen: { host: '127.0.0.1', port: 0 }, source: fake, bus: fake.bus, token: opts.token,
  });
  const driver = new SyntheticDriver(fake, 15);
  return {
    dashboard, source: fake, bus: fake.bus, driver,
    async close() {
      await driver.close();
      await dashboard.close();
    },
  };
}
