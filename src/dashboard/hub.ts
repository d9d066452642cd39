/**
 * The dashboard hub: fans core events out to connected browsers.
 *
 * Theory of operation. The hub subscribes to the event bus and keeps the last events in a
 * ring (for `?since=` resume). Each client has its own queue (ClientQueue, which coalesces
 * superseded session updates). Events are queued synchronously and written on the next
 * turn of the event loop in batches, one JSON string per event shared by all clients.
 * A client is written to only while its transport's `bufferedAmount` is below the
 * high-water mark; the completion callback of a write resumes it. A client whose queue
 * passes `maxQueuedEvents` (or `maxQueuedBytes`) has its queue dropped and gets `resync` +
 * a fresh snapshot once it drains, so a stalled browser costs at most: one queue of
 * references, the high-water mark of socket buffer, and one snapshot. The ring, the queues
 * and the snapshot are bounded in bytes as well as in count (sizes from event-size.ts): an
 * event may carry a 60 KB Host header, so 10 000 of them are no small number. Heartbeats ping every client and
 * terminate the ones that did not answer the previous ping.
 *
 * The hub knows nothing of HTTP or ws: a transport is anything with send/ping/terminate,
 * which lets the tests drive stalled and dead clients directly.
 */
import { randomBytes } from 'node:crypto';
import type { EventBus } from '../event-bus.js';
import type { BitsEvent } from '../sessions/events.js';
import { ClientQueue } from './client-queue.js';
import { EventRing } from './event-ring.js';
import { eventBytes, summaryBytes } from './event-size.js';
import type { LiveControl } from './control-api.js';
import type { ConformanceMessage, HeartbeatMessage, InjectionsMessage, ResyncMessage, SnapshotMessage, SnapshotReason } from './messages.js';
import { DASHBOARD_PROTOCOL } from './messages.js';
import type { SnapshotSource } from './snapshot-source.js';

export interface ClientTransport {
  /** Queues one text frame; `done` runs once it has been handed to the OS (or failed). */
  send(data: string, done: (err?: Error) => void): void;
  /** Bytes accepted by send() and not yet written to the OS. */
  readonly bufferedAmount: number;
  ping(): void;
  terminate(): void;
}

export interface HubOptions {
  /** Events kept for `?since=` resume. */
  ringCapacity?: number;
  /** Estimated bytes of events kept for `?since=` resume. */
  ringMaxBytes?: number;
  /** Events one client may have waiting before it is told to resync. */
  maxQueuedEvents?: number;
  /** Estimated bytes of events one client may have waiting before it is told to resync. */
  maxQueuedBytes?: number;
  /** Stop writing to a client while this many bytes wait in its socket buffer. */
  highWaterBytes?: number;
  /** Events per `events` message. */
  maxBatchEvents?: number;
  /** Ping / idle heartbeat interval; a client that misses one ping is terminated. 0 disables. */
  heartbeatMs?: number;
  /** Sessions in one snapshot (most recently active first): bounds the snapshot's size. */
  snapshotSessionLimit?: number;
  /** Estimated bytes of the sessions in one snapshot (most recently active first). */
  snapshotMaxBytes?: number;
  now?: () => number;
}

export const HUB_DEFAULTS = {
  ringCapacity: 10_000,
  ringMaxBytes: 32 * 1024 * 1024,
  maxQueuedEvents: 5_000,
  maxQueuedBytes: 8 * 1024 * 1024,
  highWaterBytes: 1024 * 1024,
  maxBatchEvents: 500,
  heartbeatMs: 15_000,
  snapshotSessionLimit: 50_000,
  snapshotMaxBytes: 32 * 1024 * 1024,
} as const;

export interface HubCounters {
  clients: number;
  resyncs: number;
  coalesced: number;
  terminated: number;
  eventsSent: number;
}

/** One connected browser (or other consumer) as the hub sees it. */
export class HubClient {
  readonly queue = new ClientQueue();
  /** Seq of the last event (or snapshot) this client has been sent. */
  lastSent = 0;
  pendingSnapshot: SnapshotReason | null = null;
  pendingResyncNotice = false;
  /** `--control`: the injection list changed since this client was last sent it. */
  pendingControl = false;
  alive = true;
  closed = false;
  waitingDrain = false;
  lastSendAt = 0;
  /** Panels (setPanel) this client has not been sent in their latest state. */
  readonly panelsDue = new Set<string>();

  constructor(readonly transport: ClientTransport) {}
}

export class DashboardHub {
  private ring: EventRing;
  private readonly clients = new Set<HubClient>();
  private readonly opts: Required<Omit<HubOptions, 'now'>>;
  private readonly now: () => number;
  private readonly unsubscribe: () => void;
  private readonly json = new WeakMap<BitsEvent, string>();
  private readonly dirty = new Set<HubClient>();
  /** Latest message of each panel (e.g. `conformance`), as JSON: small, replaced whole. */
  private readonly panels = new Map<string, string>();
  private flushScheduled = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private control: LiveControl | undefined;
  private stopControl: (() => void) | undefined;
  /** The current `injections` message, built once per change for every client. */
  private controlJson: string | undefined;
  private readonly counters = { resyncs: 0, coalescedFromClosed: 0, terminated: 0, eventsSent: 0 };
  /** This hub's seq space (see SnapshotMessage.instance). */
  readonly instance = randomBytes(6).toString('hex');

  constructor(
    private readonly source: SnapshotSource,
    bus: EventBus,
    options: HubOptions = {},
  ) {
    this.opts = {
      ringCapacity: options.ringCapacity ?? HUB_DEFAULTS.ringCapacity,
      ringMaxBytes: options.ringMaxBytes ?? HUB_DEFAULTS.ringMaxBytes,
      maxQueuedEvents: options.maxQueuedEvents ?? HUB_DEFAULTS.maxQueuedEvents,
      maxQueuedBytes: options.maxQueuedBytes ?? HUB_DEFAULTS.maxQueuedBytes,
      highWaterBytes: options.highWaterBytes ?? HUB_DEFAULTS.highWaterBytes,
      maxBatchEvents: options.maxBatchEvents ?? HUB_DEFAULTS.maxBatchEvents,
      heartbeatMs: options.heartbeatMs ?? HUB_DEFAULTS.heartbeatMs,
      snapshotSessionLimit: options.snapshotSessionLimit ?? HUB_DEFAULTS.snapshotSessionLimit,
      snapshotMaxBytes: options.snapshotMaxBytes ?? HUB_DEFAULTS.snapshotMaxBytes,
    };
    this.now = options.now ?? Date.now;
    this.ring = new EventRing(this.opts.ringCapacity, source.seq, this.opts.ringMaxBytes);
    this.unsubscribe = bus.subscribe((event) => this.onEvent(event));
    if (this.opts.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.tick(), this.opts.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Seq of the newest event the hub has seen (what a snapshot taken now reflects). */
  get seq(): number {
    return this.ring.lastSeq;
  }

  counts(): HubCounters {
    let coalesced = this.counters.coalescedFromClosed;
    for (const c of this.clients) coalesced += c.queue.coalesced;
    return {
      clients: this.clients.size,
      resyncs: this.counters.resyncs,
      coalesced,
      terminated: this.counters.terminated,
      eventsSent: this.counters.eventsSent,
    };
  }

  /**
   * Registers a client. Without `since` (or when the ring no longer holds everything after
   * it, or `instance` names another server process) the client first gets a snapshot;
   * otherwise the events it missed.
   */
  connect(transport: ClientTransport, since?: number, instance?: string): HubClient {
    const client = new HubClient(transport);
    client.lastSendAt = this.now();
    this.clients.add(client);
    for (const name of this.panels.keys()) client.panelsDue.add(name);
    const sameInstance = instance === undefined || instance === this.instance;
    const missed = since === undefined || !sameInstance ? undefined : this.ring.since(since);
    if (missed === undefined) {
      client.pendingSnapshot = since === undefined ? 'connect' : 'since-unavailable';
    } else {
      client.lastSent = since!;
      for (const { event, bytes } of missed) this.enqueue(client, event, bytes);
    }
    this.markDirty(client);
    return client;
  }

  disconnect(client: HubClient): void {
    if (client.closed) return;
    client.closed = true;
    this.counters.coalescedFromClosed += client.queue.coalesced;
    client.queue.clear();
    this.clients.delete(client);
    this.dirty.delete(client);
  }

  pong(client: HubClient): void {
    client.alive = true;
  }

  /** Runs one heartbeat round now (the timer calls it; tests may too). */
  tick(): void {
    const now = this.now();
    for (const c of [...this.clients]) {
      if (!c.alive) {
        this.counters.terminated++;
        this.disconnect(c);
        c.transport.terminate();
        continue;
      }
      c.alive = false;
      try {
        c.transport.ping();
      } catch {
        /* a closing socket; its close handler disconnects it */
      }
      if (c.queue.length === 0 && !c.pendingSnapshot && now - c.lastSendAt >= this.opts.heartbeatMs / 2 &&
          c.transport.bufferedAmount < this.opts.highWaterBytes) {
        const msg: HeartbeatMessage = { type: 'heartbeat', seq: this.ring.lastSeq, serverTime: now };
        this.send(c, JSON.stringify(msg));
      }
      this.markDirty(c);
    }
  }

  /**
   * Sets the state of a side panel (a message that is not an event: no seq, not replayed).
   * Every client gets it once it has its snapshot, and again after each resync; only the
   * latest state is kept, so a slow browser never queues more than one per panel.
   */
  setPanel(name: string, message: ConformanceMessage): void {
    this.panels.set(name, JSON.stringify(message));
    for (const c of this.clients) {
      c.panelsDue.add(name);
      this.markDirty(c);
    }
  }

  /**
   * `--control`: snapshots carry the injection list, and every change sends the new list
   * to every client (only the latest one: a client behind gets one message, not each step).
   */
  attachControl(control: LiveControl): void {
    this.control = control;
    this.stopControl = control.onChange(() => {
      this.controlJson = undefined;
      for (const c of this.clients) {
        c.pendingControl = true;
        this.markDirty(c);
      }
    });
  }

  /**
   * The source's state was replaced (a fleet node rebuilt its tracker): events kept for
   * resume describe the old state, so they go, and every client gets a fresh snapshot
   * (reason `rebuilt`) in place of whatever it had queued.
   */
  reset(): void {
    this.ring = new EventRing(this.opts.ringCapacity, this.source.seq, this.opts.ringMaxBytes);
    for (const c of this.clients) {
      c.queue.clear();
      c.pendingSnapshot = 'rebuilt';
      this.markDirty(c);
    }
  }

  close(): void {
    this.stopControl?.();
    this.unsubscribe();
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const c of [...this.clients]) this.disconnect(c);
  }

  /** Builds the snapshot message a client gets on connect or resync. */
  snapshot(reason: SnapshotReason): SnapshotMessage {
    const all = this.source.sessions();
    let limit = Math.min(all.length, this.opts.snapshotSessionLimit);
    let bytes = 0;
    for (let i = 0; i < limit; i++) {
      bytes += summaryBytes(all[i]!);
      if (bytes > this.opts.snapshotMaxBytes) limit = i;
    }
    return {
      type: 'snapshot',
      protocol: DASHBOARD_PROTOCOL,
      reason,
      instance: this.instance,
      seq: this.ring.lastSeq,
      sessions: all.length > limit ? all.slice(0, limit) : all,
      sessionsTotal: all.length,
      violations: this.source.recentViolations(),
      stats: this.source.stats(),
      serverTime: this.now(),
      ...(this.control && { control: { injections: this.control.list() } }),
    };
  }

  private onEvent(event: BitsEvent): void {
    // Sized once here: the ring and every client's queue keep this number beside the event.
    const bytes = eventBytes(event);
    this.ring.push(event, bytes);
    for (const c of this.clients) {
      // A pending snapshot is taken when it is sent, so it will already contain this event.
      if (c.pendingSnapshot) continue;
      this.enqueue(c, event, bytes);
      this.markDirty(c);
    }
  }

  private enqueue(c: HubClient, event: BitsEvent, bytes: number): void {
    c.queue.push(event, bytes);
    if (c.queue.length > this.opts.maxQueuedEvents || c.queue.bytes > this.opts.maxQueuedBytes) {
      c.queue.clear();
      c.pendingSnapshot = 'resync';
      c.pendingResyncNotice = true;
      this.counters.resyncs++;
    }
  }

  private markDirty(c: HubClient): void {
    this.dirty.add(c);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const batch = [...this.dirty];
      this.dirty.clear();
      for (const client of batch) this.flush(client);
    });
  }

  private flush(c: HubClient): void {
    if (c.closed) return;
    const { highWaterBytes, maxBatchEvents } = this.opts;
    while (c.transport.bufferedAmount < highWaterBytes) {
      if (c.pendingSnapshot) {
        if (c.pendingResyncNotice) {
          const notice: ResyncMessage = { type: 'resync', reason: 'too-far-behind', lastDelivered: c.lastSent };
          this.send(c, JSON.stringify(notice));
          c.pendingResyncNotice = false;
        }
        const snap = this.snapshot(c.pendingSnapshot);
        c.pendingSnapshot = null;
        c.pendingControl = false; // the snapshot carries the list
        c.lastSent = snap.seq;
        this.send(c, JSON.stringify(snap));
        for (const name of this.panels.keys()) c.panelsDue.add(name);
        continue;
      }
      if (c.panelsDue.size > 0) {
        for (const name of c.panelsDue) this.send(c, this.panels.get(name)!);
        c.panelsDue.clear();
        continue;
      }
      if (c.pendingControl && this.control) {
        c.pendingControl = false;
        if (this.controlJson === undefined) {
          const msg: InjectionsMessage = { type: 'injections', injections: this.control.list() };
          this.controlJson = JSON.stringify(msg);
        }
        this.send(c, this.controlJson);
        continue;
      }
      const events = c.queue.take(maxBatchEvents);
      if (events.length === 0) break;
      const parts: string[] = [];
      for (const e of events) {
        if (e.seq <= c.lastSent) continue; // already covered by a snapshot or a resume point
        parts.push(this.eventJson(e));
        c.lastSent = e.seq;
      }
      if (parts.length === 0) continue;
      this.counters.eventsSent += parts.length;
      this.send(c, '{"type":"events","events":[' + parts.join(',') + ']}');
    }
    // Still work to do: the next write completion of this client resumes it.
    c.waitingDrain = c.queue.length > 0 || c.pendingSnapshot !== null || c.pendingControl || c.panelsDue.size > 0;
  }

  private send(c: HubClient, data: string): void {
    c.lastSendAt = this.now();
    try {
      c.transport.send(data, (err) => {
        if (err || c.closed) return;
        if (c.waitingDrain) {
          c.waitingDrain = false;
          this.markDirty(c);
        }
      });
    } catch {
      this.disconnect(c);
    }
  }

  private eventJson(e: BitsEvent): string {
    let s = this.json.get(e);
    if (s === undefined) {
      s = JSON.stringify(e);
      this.json.set(e, s);
    }
    return s;
  }
}
