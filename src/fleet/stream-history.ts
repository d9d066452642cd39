import type { RecordingLine } from '../sessions/replay.js';
import { connectRedis, whenReady } from './connection.js';
import { Consumer } from './consumer.js';
import { SeenEntries } from './dedupe.js';
import { ReorderWindow } from './reorder.js';

export interface StreamHistory {
  lines: RecordingLine[];
  entries: number;
  duplicates: number;
  malformed: Array<{ id: string; reason: string }>;
}

/**
 * `bitsgate analyze redis://...`: the stream's retained history as recording lines, each
 * observation once, in fleet order (the order a live node applies), so a fleet's stream
 * is analyzed exactly like a recording. Holds the history in memory (MAXLEN bounds it).
 */
export async function readStreamHistory(url: string, stream: string, timeoutMs = 5000): Promise<StreamHistory> {
  const redis = connectRedis(url, 'bitsgate-analyze');
  redis.on('error', () => {});
  try {
    if (!(await whenReady(redis, timeoutMs))) throw new Error(`cannot connect to ${new URL(url).host}`);
    const seen = new SeenEntries(Number.MAX_SAFE_INTEGER);
    const window = new ReorderWindow(0);
    const out: StreamHistory = { lines: [], entries: 0, duplicates: 0, malformed: [] };
    let failure: Error | undefined;
    const consumer = new Consumer(redis, {
      stream,
      onEntry: (e) => {
        if (seen.firstTime(`${e.node}/${e.boot}`, e.seq)) window.add(e);
        else out.duplicates++;
      },
      onMalformed: (id, reason) => out.malformed.push({ id, reason }),
      onError: (err) => { failure = err; },
    });
    if (!(await consumer.replayHistory())) throw failure ?? new Error('reading the stream failed');
    out.entries = consumer.read;
    out.lines = window.release(0, true).map((e) => e.record);
    return out;
  } finally {
    redis.disconnect();
  }
}
