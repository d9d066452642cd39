/**
 * One gateway's membership in a fleet. The gateway hands it every finished observation
 * (it is an ObservationSink); it publishes them to the stream, reads the merged stream of
 * every node (its own included) and feeds the tracker through its FleetView: each entry
 * once (SeenEntries), in fleet order (ReorderWindow). That is the tracker's ONE input path.
 *
 * Redis away (closed connections, or a Redis that holds them but does not answer: a
 * publish batch or a read past its deadline): forwarding is untouched (publish() only
 * queues). Own observations go straight into the view (local tracking) and wait in the
 * bounded backlog; when Redis returns the backlog is sent and the stream is read on from
 * the last ID, so other nodes' entries of that time arrive (catch-up) and our own are
 * dropped as already seen. Then, once caught up, the node REBUILDS: a fresh view (and a
 * fresh tracker, through `rebuild`) replays the stream's history exactly as a restart does,
 * so a session split across nodes during the outage is judged on the merged input.
 *
 * Time: every record this node shares, and the reorder window's "now", are in fleet time,
 * the Redis server's clock (fleet-clock.ts), so two members' clocks disagreeing cannot put
 * a client's Close-Session before the Fragment it sent earlier through the other member.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ConnectionClosed, Observation, ObservationSink } from '../observation.js';
import { answerWithin, connectRedis, whenReady } from './connection.js';
import { CLOCK_REMEASURE_MS, FleetClock } from './fleet-clock.js';
import { Consumer, BLOCK_MS, READ_TIMEOUT_MS } from './consumer.js';
import { FleetView, type ViewSink } from './fleet-view.js';
import { Publisher, PUBLISHER_DEFAULTS } from './publisher.js';
import type { FleetEntry } from './wire.js';

/** A fresh tracker being built by a rebuild; commit() puts it in place. */
export interface RebuildTarget extends ViewSink {
  /** Swaps the rebuilt tracker in; returns the violations it retracted (one text each). */
  commit(): string[];
}

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
  /** A publish batch or a stream read unanswered this long past its due time: Redis hangs (default 1500 ms). */
  commandTimeoutMs?: number;
  /** After Redis returns, how long other nodes get to send their backlogs before the rebuild (default 2000 ms). */
  rebuildSettleMs?: number;
  /** Feeds one observation to the tracker (and publishes its events). */
  apply: (obs: Observation) => void;
  /** Tells the tracker a client connection closed (a resent Close is judged by it). */
  applyClosed: (closed: ConnectionClosed) => void;
  /** Outage begins: the tracker notes where (violations raised from here on may be retracted). */
  onOutage?: () => void;
  /** A fresh tracker for a rebuild after an outage; absent: no rebuild. */
  rebuild?: () => RebuildTarget;
  log: FleetLog;
  /** This machine's clock (tests give a node a skewed one); default Date.now. */
  localClock?: () => number;
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
  commandTimeoutMs: PUBLISHER_DEFAULTS.commandTimeoutMs,
  rebuildSettleMs: 2000,
} as const;

export interface FleetStats {
  node: string;
  stream: string;
  /** Redis reachable (and answering) for publishing and reading now. */
  connected: boolean;
  /** Own observations waiting for Redis. */
  backlog: number;
  backlogLimit: number;
  /** Own observations lost because the backlog was full. */
  lost: number;
  published: number;
  /** Stream entries read (all nodes; one entry packs several records). */
  read: number;
  /** Records (exchanges and connection closes) applied to the tracker's current view, each once. */
  applied: number;
  duplicates: number;
  malformed: number;
  /** Times Redis held a connection without answering (publish or read deadline missed). */
  hangs: number;
  /** Rebuilds from the stream after an outage. */
  rebuilds: number;
  /** Violations retracted by those rebuilds. */
  retracted: number;
}

/** Own records kept for their echo beyond the backlog bound (those in flight). */
const MAX_ECHO_IN_FLIGHT = 65_536;

/** How often the link checks for loss to report and for a rebuild due. */
const HOUSEKEEPING_MS = 100;

export class FleetLink implements ObservationSink {
  private readonly boot = randomBytes(6).toString('hex');
  private seq = 0;
  /** Own records shared and not yet read back from the stream, by seq. */
  private readonly echo = new Map<number, FleetEntry>();
  private view: FleetView;
  private readonly writer: Redis;
  private readonly reader: Redis;
  private readonly publisher: Publisher;
  private readonly consumer: Consumer;
  private readonly sink: ViewSink;
  /** Connections dropped for not answering, until they are ready again. */
  private readonly hungConnections = new Set<Redis>();
  private earlierDuplicates = 0;
  private malformed = 0;
  private hangs = 0;
  private rebuilds = 0;
  private retracted = 0;
  private lostReported = 0;
  private down = false;
  private closing = false;
  private started = false;
  /** An outage happened and the view has not been rebuilt since. */
  private rebuildDue = false;
  private rebuilding = false;
  private upSince = 0;
  /** When the last entry out of fleet order was read. */
  private lateAt = 0;
  private housekeeping: NodeJS.Timeout | undefined;
  private releaseTimer: NodeJS.Timeout | undefined;
  private releaseAt = Infinity;
  /** Local time -> fleet (Redis) time. */
  private readonly clock: FleetClock;
  private clockMeasuring = false;
  private clockFailing = false;
  private clockMeasuredAt = -Infinity;

  constructor(private readonly opts: FleetOptions) {
    this.clock = new FleetClock(opts.localClock);
    this.sink = { apply: (o) => opts.apply(o), applyClosed: (c) => opts.applyClosed(c) };
    this.view = new FleetView(opts.reorderWindowMs, this.sink);
    const timeoutMs = opts.commandTimeoutMs ?? FLEET_DEFAULTS.commandTimeoutMs;
    this.writer = connectRedis(opts.url, `bitsgate-${opts.node}-pub`);
    this.reader = connectRedis(opts.url, `bitsgate-${opts.node}-sub`);
    for (const r of [this.writer, this.reader]) {
      r.on('error', () => {}); // state changes are reported below
      r.on('close', () => this.updateDown());
      r.on('ready', () => {
        this.hungConnections.delete(r);
        this.updateDown();
      });
    }
    this.publisher = new Publisher(this.writer, {
      stream: opts.stream,
      maxLen: opts.maxLen,
      backlogLimit: opts.backlog,
      commandTimeoutMs: timeoutMs,
      onUnsent: (batch) => this.trackLocally(batch),
      onHung: () => this.hung(this.writer, 'publish'),
    });
    this.consumer = new Consumer(this.reader, {
      stream: opts.stream,
      readTimeoutMs: timeoutMs,
      onEntry: (e) => this.deliverRead(e),
      onMalformed: (id, reason) => {
        this.malformed++;
        if (this.malformed <= 10) opts.log.warn({ id, reason }, 'fleet: skipping a stream entry');
      },
      onHung: () => this.hung(this.reader, 'read'),
      own: { node: opts.node, boot: this.boot, take: (first, count) => this.takeEcho(first, count) },
    });
  }

  /** The longest a hung Redis goes unnoticed: a read blocks BLOCK_MS, then its deadline runs. */
  static hangDetectionBoundMs(commandTimeoutMs: number = FLEET_DEFAULTS.commandTimeoutMs): number {
    return BLOCK_MS + commandTimeoutMs;
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
      await this.measureClock();
      await this.consumer.replayHistory();
      this.view.release(this.clock.now(), true);
      this.opts.log.info({ node: this.opts.node, stream: this.opts.stream, replayed: this.view.applied }, 'fleet: joined, history replayed');
    }
    this.started = true;
    this.updateDown();
    this.consumer.follow();
    this.housekeeping = setInterval(() => this.tick(), HOUSEKEEPING_MS);
    this.housekeeping.unref();
  }

  onObservation(obs: Observation): void {
    // `--workers`: the worker's name (`NODE#w2`) stays in this node's own view; the stream
    // line names the machine whatever the record says (recordLine writes the entry's node).
    const node = obs.node?.startsWith(`${this.opts.node}#`) ? obs.node : this.opts.node;
    const shared: Observation = { ...obs, node };
    const offset = this.clock.offsetFor(obs.startedAt, obs.endedAt);
    if (offset !== 0) {
      shared.startedAt += offset;
      shared.endedAt += offset;
      if (shared.respondedAt !== undefined) shared.respondedAt += offset;
    }
    this.share({ kind: 'observation', observation: shared });
  }

  onConnectionClosed(closed: ConnectionClosed): void {
    this.share({ kind: 'connection-closed', closed: { ...closed, at: closed.at + this.clock.offsetFor(closed.at, closed.at) } });
  }

  /** Fleet time: this node's clock corrected by its last measured offset to Redis's. */
  fleetNow(): number {
    return this.clock.now();
  }

  /** Measures the offset to Redis's clock (TIME), once at a time, with the command deadline. */
  private async measureClock(): Promise<void> {
    if (this.clockMeasuring) return;
    this.clockMeasuring = true;
    const timeoutMs = this.opts.commandTimeoutMs ?? FLEET_DEFAULTS.commandTimeoutMs;
    try {
      const result = await this.clock.measure(() => answerWithin(this.writer.time(), timeoutMs));
      this.clockMeasuredAt = Date.now();
      if (result === 'changed') this.opts.log.info({ node: this.opts.node, offsetMs: this.clock.offset }, 'fleet: clock offset to Redis measured');
      // Said once per failing streak: records stay dated by the last offset (the local clock if none yet).
      else if (result === 'failed' && !this.clockFailing) {
        this.opts.log.warn({ node: this.opts.node, offsetMs: this.clock.offset, measured: this.clock.measured }, 'fleet: cannot read the Redis clock (TIME); records keep the last offset');
      }
      this.clockFailing = result === 'failed';
    } finally {
      this.clockMeasuring = false;
    }
  }

  private share(record: FleetEntry['record']): void {
    const entry: FleetEntry = { node: this.opts.node, boot: this.boot, seq: ++this.seq, record };
    this.publisher.publish(entry);
    this.echo.set(entry.seq, entry);
    if (this.echo.size > this.publisher.backlog.limit + MAX_ECHO_IN_FLIGHT) this.echo.delete(this.echo.keys().next().value!);
    if (this.down) this.trackLocally([entry]);
  }

  /** Own records coming back from the stream, as they were shared (see ConsumerOptions.own). */
  private takeEcho(first: number, count: number): FleetEntry[] | undefined {
    const out: FleetEntry[] = [];
    for (let s = first; s < first + count; s++) {
      const e = this.echo.get(s);
      if (!e) return undefined;
      out.push(e);
    }
    for (let s = first; s < first + count; s++) this.echo.delete(s);
    return out;
  }

  stats(): FleetStats {
    return {
      node: this.opts.node,
      stream: this.opts.stream,
      connected: !this.down,
      backlog: this.publisher.backlog.size,
      backlogLimit: this.publisher.backlog.limit,
      lost: this.publisher.backlog.dropped,
      published: this.publisher.published,
      read: this.consumer.read,
      applied: this.view.applied,
      duplicates: this.earlierDuplicates + this.view.duplicates,
      malformed: this.malformed,
      hangs: this.hangs,
      rebuilds: this.rebuilds,
      retracted: this.retracted,
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.housekeeping) clearInterval(this.housekeeping);
    clearTimeout(this.releaseTimer);
    await this.publisher.close(1000);
    await this.consumer.stop();
    this.writer.disconnect();
    this.view.release(this.clock.now(), true);
  }

  private trackLocally(entries: FleetEntry[]): void {
    for (const e of entries) this.deliver(e);
  }

  private deliver(entry: FleetEntry): 'ok' | 'late' | 'duplicate' {
    const r = this.view.deliver(entry);
    if (r !== 'duplicate') this.arm();
    return r;
  }

  /**
   * An entry read from the stream. One that ended before entries already applied (another
   * node's backlog, sent after an outage, that reached us after our rebuild, or one that
   * missed the window) was applied out of fleet order: a rebuild is due once things settle.
   */
  private deliverRead(entry: FleetEntry): void {
    if (this.deliver(entry) !== 'late' || this.rebuilding) return;
    this.lateAt = Date.now();
    if (!this.rebuildDue) {
      this.rebuildDue = true;
      this.opts.onOutage?.();
    }
  }

  /** Sets the release timer for the oldest entry's due time (no polling: latency = the window). */
  private arm(): void {
    const due = this.view.window.nextDue();
    if (due === undefined || due >= this.releaseAt) return;
    clearTimeout(this.releaseTimer);
    this.releaseAt = due;
    this.releaseTimer = setTimeout(() => {
      this.releaseAt = Infinity;
      this.view.release(this.clock.now());
      this.arm();
    }, Math.max(0, due - this.clock.now()));
  }

  private tick(): void {
    const lost = this.publisher.backlog.dropped;
    if (lost > this.lostReported) {
      this.opts.log.warn({ lost, newlyLost: lost - this.lostReported, backlogLimit: this.publisher.backlog.limit }, 'fleet: backlog full, oldest observations not shared with the fleet');
      this.lostReported = lost;
    }
    if (this.rebuildDue && !this.rebuilding && !this.down && this.caughtUp()) void this.rebuild();
    if (!this.down && Date.now() - this.clockMeasuredAt >= CLOCK_REMEASURE_MS) void this.measureClock();
  }

  /** Own backlog sent and the stream read to its tip, a settle time after Redis returned. */
  private caughtUp(): boolean {
    return this.publisher.backlog.size === 0 && this.publisher.pending === 0 && this.consumer.atTip &&
      Date.now() - Math.max(this.upSince, this.lateAt) >= (this.opts.rebuildSettleMs ?? FLEET_DEFAULTS.rebuildSettleMs);
  }

  /**
   * Replays the retained history into a fresh view and tracker (the restart path), then
   * swaps them in. The live read is paused meanwhile and resumes from where the replay
   * ended, so nothing is applied twice or skipped.
   */
  private async rebuild(): Promise<void> {
    const makeTarget = this.opts.rebuild;
    if (!makeTarget) {
      this.rebuildDue = false;
      return;
    }
    this.rebuilding = true;
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    try {
      await this.consumer.pause(resumed);
      const target = makeTarget();
      const fresh = new FleetView(this.opts.reorderWindowMs, target);
      const saved = { lastId: this.consumer.lastId, read: this.consumer.read };
      this.consumer.lastId = '0-0';
      this.consumer.onEntry = (e) => fresh.deliver(e);
      const ok = await this.consumer.replayHistory();
      this.consumer.onEntry = (e) => this.deliverRead(e);
      this.consumer.read = saved.read;
      if (!ok || this.down) {
        this.consumer.lastId = saved.lastId; // Redis went away again: keep the old view, rebuild later
        return;
      }
      // Entries inside the window stay there, waiting for their due time as live ones do.
      fresh.release(this.clock.now());
      this.earlierDuplicates += this.view.duplicates;
      this.view = fresh;
      const retracted = target.commit();
      fresh.sink = this.sink;
      this.rebuilds++;
      this.retracted += retracted.length;
      this.rebuildDue = false;
      this.opts.log.info(
        { observations: fresh.observations, retracted },
        `rebuilt from the stream after an outage: ${fresh.observations} observations, violations retracted: ${retracted.length === 0 ? 'none' : retracted.join(', ')}`,
      );
      this.releaseAt = Infinity;
      clearTimeout(this.releaseTimer);
      this.arm();
    } finally {
      this.rebuilding = false;
      resume();
    }
  }

  /**
   * Redis holds the connection but does not answer: destroy the socket (a polite close
   * would wait for a FIN the stopped server never sends), so pending commands fail, and
   * let ioredis reconnect: a hung server accepts the TCP connection (the kernel does) but
   * never answers the handshake, so the connection is not ready again until Redis answers.
   */
  private hung(redis: Redis, what: 'publish' | 'read'): void {
    if (this.closing || redis.status !== 'ready') return;
    this.hangs++;
    this.hungConnections.add(redis);
    this.opts.log.warn({ what, deadlineMs: this.opts.commandTimeoutMs ?? FLEET_DEFAULTS.commandTimeoutMs }, 'fleet: Redis does not answer, treating it as away');
    this.updateDown();
    const socket = (redis as unknown as { stream?: { destroy(): void } }).stream;
    if (socket) socket.destroy();
    else redis.disconnect(true);
  }

  private updateDown(): void {
    if (this.closing || !this.started) return;
    const down = this.writer.status !== 'ready' || this.reader.status !== 'ready' || this.hungConnections.size > 0;
    if (down === this.down) return;
    this.down = down;
    if (down) {
      this.rebuildDue = true;
      this.opts.onOutage?.();
      this.opts.log.warn({ backlogLimit: this.publisher.backlog.limit }, 'fleet: Redis unreachable, tracking locally and buffering');
    } else {
      this.upSince = Date.now();
      this.opts.log.info({ backlog: this.publisher.backlog.size, lost: this.publisher.backlog.dropped }, 'fleet: Redis reachable, catching up');
    }
  }
}
