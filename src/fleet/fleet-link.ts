/**
 * One gateway's membership in a fleet. The gateway hands it every finished observation
 * (it is an ObservationSink); it publishes them to the stream, reads the merged stream of
 * every node (its own included) and feeds the tracker through `apply`, in fleet order
 * (ReorderWindow), each entry once (SeenEntries). That is the tracker's ONE input path.
 *
 * Redis away: forwarding is untouched (publish() only queues). Own observations go
 * straight into the same dedupe + reorder path (local tracking) and wait in the bounded
 * backlog; when Redis returns the backlog is sent and the stream is read on from the last
 * ID, so other nodes' entries of that time arrive (catch-up) and our own are dropped as
 * already seen.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ConnectionClosed, Observation, ObservationSink } from '../observation.js';
import { connectRedis, whenReady } from './connection.js';
import { Consumer } from './consumer.js';
import { SeenEntries } from './dedupe.js';
import { Publisher } from './publisher.js';
import { ReorderWindow } from './reorder.js';
import type { FleetEntry } from './wire.js';

export interface FleetOptions {
  /** redis://HOST:PORT[/DB] or rediss://... */
  url: string;
  stream: string;
  node: string;
  /** Own observations buffered while Redis is away; the oldest are dropped (and counted) beyond. */
  backlog: number;
  /** MAXLEN ~ of the stream: the history a restarted node replays. */
  maxLen: number;
  reorderWindowMs: number;
  /** How long start() waits for Redis before the gateway starts tracking locally. */
  connectTimeoutMs: number;
  /** Feeds one observation to the tracker (and publishes its events). */
  apply: (obs: Observation) => void;
  /** Tells the tracker a client connection closed (a resent Close is judged by it). */
  applyClosed: (closed: ConnectionClosed) => void;
  log: FleetLog;
}

export interface FleetLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const FLEET_DEFAULTS = {
  stream: 'bitsgate:observations',
  backlog: 100_000,
  maxLen: 1_000_000,
  reorderWindowMs: 250,
  connectTimeoutMs: 5000,
} as const;

/** Open client connections remembered for id mapping (a node that died never closes its own). */
const MAX_OPEN_CONNECTIONS = 100_000;

export interface FleetStats {
  node: string;
  stream: string;
  /** Redis reachable for publishing now. */
  connected: boolean;
  /** Own observations waiting for Redis. */
  backlog: number;
  backlogLimit: number;
  /** Own observations lost because the backlog was full. */
  lost: number;
  published: number;
  /** Stream entries read (all nodes). */
  read: number;
  /** Entries (exchanges and connection closes) applied to the tracker, each once. */
  applied: number;
  duplicates: number;
  malformed: number;
}

export class FleetLink implements ObservationSink {
  private readonly boot = randomBytes(6).toString('hex');
  private seq = 0;
  private nextExchangeId = 0;
  private nextConnectionId = 0;
  /** node/boot/connection id -> the id the tracker knows the connection by, while it is open. */
  private readonly connections = new Map<string, number>();
  private readonly seen = new SeenEntries();
  private readonly window: ReorderWindow;
  private readonly writer: Redis;
  private readonly reader: Redis;
  private readonly publisher: Publisher;
  private readonly consumer: Consumer;
  private applied = 0;
  private duplicates = 0;
  private malformed = 0;
  private lostReported = 0;
  private down = false;
  private closing = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: FleetOptions) {
    this.window = new ReorderWindow(opts.reorderWindowMs);
    this.writer = connectRedis(opts.url, `bitsgate-${opts.node}-pub`);
    this.reader = connectRedis(opts.url, `bitsgate-${opts.node}-sub`);
    for (const r of [this.writer, this.reader]) r.on('error', () => {}); // state changes are reported below
    this.publisher = new Publisher(this.writer, {
      stream: opts.stream,
      maxLen: opts.maxLen,
      backlogLimit: opts.backlog,
      onUnsent: (batch) => this.trackLocally(batch),
    });
    this.consumer = new Consumer(this.reader, {
      stream: opts.stream,
      onEntry: (e) => this.deliver(e),
      onMalformed: (id, reason) => {
        this.malformed++;
        if (this.malformed <= 10) opts.log.warn({ id, reason }, 'fleet: skipping a stream entry');
      },
    });
    this.writer.on('close', () => this.setDown(true));
    this.writer.on('ready', () => this.setDown(false));
  }

  /**
   * Connects, replays the stream's retained history into the tracker (so sessions in flight
   * are known before this node reports), then follows the stream. Redis unreachable: starts
   * anyway, tracking locally, and catches up when Redis comes.
   */
  async start(): Promise<void> {
    const [w, r] = await Promise.all([
      whenReady(this.writer, this.opts.connectTimeoutMs),
      whenReady(this.reader, this.opts.connectTimeoutMs),
    ]);
    if (w && r) {
      await this.consumer.replayHistory();
      this.apply(this.window.release(Date.now(), true));
      this.opts.log.info({ node: this.opts.node, stream: this.opts.stream, replayed: this.applied }, 'fleet: joined, history replayed');
    } else {
      this.setDown(true);
    }
    this.consumer.follow();
    this.timer = setInterval(() => this.tick(), Math.max(10, Math.floor(this.opts.reorderWindowMs / 5)));
    this.timer.unref();
  }

  onObservation(obs: Observation): void {
    this.share({ kind: 'observation', observation: { ...obs, node: this.opts.node } });
  }

  onConnectionClosed(closed: ConnectionClosed): void {
    this.share({ kind: 'connection-closed', closed: { ...closed } });
  }

  private share(record: FleetEntry['record']): void {
    const entry: FleetEntry = { node: this.opts.node, boot: this.boot, seq: ++this.seq, record };
    this.publisher.publish(entry);
    if (!this.publisher.connected) this.trackLocally([entry]);
  }

  stats(): FleetStats {
    return {
      node: this.opts.node,
      stream: this.opts.stream,
      connected: this.publisher.connected,
      backlog: this.publisher.backlog.size,
      backlogLimit: this.publisher.backlog.limit,
      lost: this.publisher.backlog.dropped,
      published: this.publisher.published,
      read: this.consumer.read,
      applied: this.applied,
      duplicates: this.duplicates,
      malformed: this.malformed,
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    await this.publisher.close(1000);
    await this.consumer.stop();
    this.writer.disconnect();
    this.apply(this.window.release(Date.now(), true));
  }

  private trackLocally(entries: FleetEntry[]): void {
    for (const e of entries) this.deliver(e);
  }

  private deliver(entry: FleetEntry): void {
    if (this.seen.firstTime(`${entry.node}/${entry.boot}`, entry.seq)) this.window.add(entry);
    else this.duplicates++;
  }

  private tick(): void {
    this.apply(this.window.release(Date.now()));
    const lost = this.publisher.backlog.dropped;
    if (lost > this.lostReported) {
      this.opts.log.warn({ lost, newlyLost: lost - this.lostReported, backlogLimit: this.publisher.backlog.limit }, 'fleet: backlog full, oldest observations not shared with the fleet');
      this.lostReported = lost;
    }
  }

  private apply(entries: FleetEntry[]): void {
    for (const e of entries) {
      // Exchange and connection ids are per process: two nodes reuse the same numbers, so
      // the tracker gets ids of its own (a connection keeps one id until it closes).
      const key = `${e.node}/${e.boot}/${e.record.kind === 'observation' ? e.record.observation.connectionId : e.record.closed.connectionId}`;
      let connectionId = this.connections.get(key);
      if (connectionId === undefined) {
        connectionId = ++this.nextConnectionId;
        this.connections.set(key, connectionId);
        if (this.connections.size > MAX_OPEN_CONNECTIONS) this.connections.delete(this.connections.keys().next().value!);
      }
      if (e.record.kind === 'observation') {
        this.opts.apply({ ...e.record.observation, id: ++this.nextExchangeId, connectionId });
      } else {
        this.connections.delete(key);
        this.opts.applyClosed({ ...e.record.closed, connectionId });
      }
      this.applied++;
    }
  }

  private setDown(down: boolean): void {
    if (down === this.down || this.closing) return;
    this.down = down;
    if (down) {
      this.opts.log.warn({ backlogLimit: this.publisher.backlog.limit }, 'fleet: Redis unreachable, tracking locally and buffering');
    } else {
      this.opts.log.info({ backlog: this.publisher.backlog.size, lost: this.publisher.backlog.dropped }, 'fleet: Redis reachable, catching up');
    }
  }
}
