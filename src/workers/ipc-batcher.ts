/**
 * The worker's one observation sink: what the gateway observes goes to the primary over
 * IPC, in batches. A message costs a JSON encode and a pipe write (field-notes-2 §4), so
 * items are queued and sent once per event-loop turn (setImmediate, after every socket
 * callback of the turn), at most `batchItems` per message. Every batch carries the
 * worker's clock (`at`), and an idle worker sends an empty one every `heartbeatMs`: the
 * primary merges the workers by end time and needs to know how far each has got.
 *
 * Bounded and never blocking forwarding: when `send` returns false (the channel's buffer
 * is full), nothing more is sent until its callback; items wait here, at most `maxQueued`,
 * beyond which the oldest are dropped and counted (`lost`, told to the primary).
 */
import type { ConnectionClosed, Observation, ObservationSink } from '../observation.js';
import { WORKER_DEFAULTS, type ToPrimary, type WorkerItem } from './messages.js';

/** process.send's shape: returns false when the message had to be buffered. */
export type SendFn = (message: ToPrimary, callback: (err: Error | null) => void) => boolean;

export interface IpcBatcherOptions {
  /** `node` on every observation: which worker relayed it. */
  node: string;
  send: SendFn;
  heartbeatMs?: number;
  batchItems?: number;
  maxQueued?: number;
  now?: () => number;
}

export class IpcBatcher implements ObservationSink {
  private queue: WorkerItem[] = [];
  private scheduled = false;
  private blocked = false;
  private lost = 0;
  private lastSent = 0;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly batchItems: number;
  private readonly maxQueued: number;
  private readonly flushTask = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(private readonly opts: IpcBatcherOptions) {
    this.now = opts.now ?? Date.now;
    this.batchItems = opts.batchItems ?? WORKER_DEFAULTS.batchItems;
    this.maxQueued = opts.maxQueued ?? WORKER_DEFAULTS.maxQueued;
    const heartbeat = opts.heartbeatMs ?? WORKER_DEFAULTS.heartbeatMs;
    this.timer = setInterval(() => {
      if (this.now() - this.lastSent >= heartbeat) this.flush(true);
    }, heartbeat);
    this.timer.unref();
  }

  onObservation(obs: Observation): void {
    // `decoded` is derived and never leaves the process (the primary decodes once itself).
    const { decoded: _derived, ...facts } = obs;
    facts.node = this.opts.node;
    this.enqueue({ kind: 'observation', observation: facts });
  }

  onConnectionClosed(closed: ConnectionClosed): void {
    this.enqueue({ kind: 'connection-closed', closed: { connectionId: closed.connectionId, at: closed.at } });
  }

  /** Items waiting (tests). */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Sends what is queued (in messages of at most `batchItems`), or an empty heartbeat when
   * `heartbeat` and nothing is queued. Does nothing while the channel is blocked.
   */
  flush(heartbeat = false, force = false): void {
    if (this.closed || (this.blocked && !force)) return;
    if (this.queue.length === 0 && !heartbeat) return;
    do {
      const items = this.queue.length <= this.batchItems ? this.queue : this.queue.slice(0, this.batchItems);
      this.queue = items === this.queue ? [] : this.queue.slice(this.batchItems);
      // Read the clock after the items were taken: everything queued later ends at or after it.
      const message: ToPrimary = { type: 'batch', at: this.now(), items, lost: this.lost };
      this.lost = 0;
      this.lastSent = message.at;
      let sync = true;
      const accepted = this.opts.send(message, () => {
        if (sync) return;
        this.blocked = false;
        if (this.queue.length > 0) this.schedule();
      });
      sync = false;
      if (!accepted && !force) {
        this.blocked = true;
        return;
      }
    } while (this.queue.length > 0);
  }

  /** Sends everything queued (the channel buffers it even when blocked) and stops the heartbeat. */
  close(): void {
    this.flush(false, true);
    this.closed = true;
    clearInterval(this.timer);
  }

  private enqueue(item: WorkerItem): void {
    if (this.closed) return;
    this.queue.push(item);
    if (this.queue.length > this.maxQueued) {
      this.queue.shift();
      this.lost++;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushTask);
  }
}
