import { createWriteStream, promises as fsp, type WriteStream } from 'node:fs';
import type { ConnectionClosed, Observation, ObservationSink } from '../observation.js';
import { RECORDING_FORMAT } from '../sessions/replay.js';

/**
 * `--record FILE`: every observation appended as one NDJSON line, bodies never included
 * (an Observation carries none), and a `connection-closed` line when a client connection ends. A new or empty file starts with a meta line so readers
 * (`analyze`) know the format. Appending keeps earlier runs; `tail -f` works.
 *
 * Backpressure: the gateway must never wait for the disk. Lines queue in the stream's
 * buffer up to `maxBufferedBytes`; past that, observations are dropped and counted, and a
 * `{"type":"dropped"}` line records the gap once the disk caught up, so a reader knows the
 * recording is incomplete rather than silently wrong.
 */

export const RECORDING_META = { type: 'meta', format: RECORDING_FORMAT, version: 1 } as const;

export interface RecorderOptions {
  /** Most bytes waiting for the disk before observations are dropped. Default 16 MiB. */
  maxBufferedBytes?: number;
  /** Called on a write error (the recorder then stops recording). */
  onError?: (err: Error) => void;
}

export class Recorder implements ObservationSink {
  private dropped = 0;
  private failed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly stream: WriteStream,
    private readonly maxBufferedBytes: number,
    private readonly onError: (err: Error) => void,
  ) {
    stream.on('error', (err) => {
      this.failed = true;
      this.onError(err);
    });
    stream.on('drain', () => this.writeDropped());
  }

  /** Opens FILE for appending (created if missing) and writes the meta line if it is empty. */
  static async open(path: string, options: RecorderOptions = {}): Promise<Recorder> {
    const stream = createWriteStream(path, { flags: 'a' });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    // Size after opening: the file exists now, and an empty one (new or truncated) gets the meta line.
    const { size } = await fsp.stat(path);
    const recorder = new Recorder(stream, options.maxBufferedBytes ?? 16 * 1024 * 1024, options.onError ?? (() => {}));
    if (size === 0) stream.write(JSON.stringify(RECORDING_META) + '\n');
    return recorder;
  }

  /** Lines (observations, connection-closed) dropped because the disk could not keep up. */
  get droppedCount(): number {
    return this.dropped;
  }

  onObservation(obs: Observation): void {
    if (!this.mayWrite()) return;
    // `decoded` is derived (analyze decodes again): the recording format stays the wire facts.
    const { decoded: _derived, ...facts } = obs;
    this.stream.write(JSON.stringify({ type: 'observation', ...facts }) + '\n');
  }

  /** `{"type":"connection-closed"}`: analyze needs it to judge a Close resent after a lost Ack as live did. */
  onConnectionClosed(closed: ConnectionClosed): void {
    if (!this.mayWrite()) return;
    this.stream.write(JSON.stringify({ type: 'connection-closed', connectionId: closed.connectionId, at: closed.at }) + '\n');
  }

  /** False once closing or failed, or (counted as dropped) while the disk is behind by more than the limit. */
  private mayWrite(): boolean {
    if (this.failed || this.closing) return false;
    if (this.stream.writableLength > this.maxBufferedBytes) {
      this.dropped++;
      return false;
    }
    return true;
  }

  private writeDropped(): void {
    if (this.dropped === 0 || this.failed) return;
    this.stream.write(JSON.stringify({ type: 'dropped', count: this.dropped, at: Date.now() }) + '\n');
    this.dropped = 0;
  }

  /** Flushes everything queued and closes the file. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.writeDropped();
      if (this.stream.destroyed) return resolve();
      this.stream.end(() => resolve());
      this.stream.once('error', () => resolve());
    });
    return this.closing;
  }
}
