/**
 * Progress display of `bitsgate upload`: a redrawn bar on a TTY (bytes, rate, ETA), or
 * nothing until the one-line summary when stderr is a pipe or a file.
 */
import type { UploadProgress, UploadResult } from './upload-client.js';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(n)} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** One line of the bar, `width` columns for the bar itself. */
export function renderBar(p: UploadProgress, now: number, width = 30): string {
  const fraction = p.total === 0 ? 1 : p.acked / p.total;
  const filled = Math.round(fraction * width);
  const seconds = Math.max(0.001, (now - p.startedAt) / 1000);
  const rate = p.acked / seconds;
  const eta = rate > 0 ? (p.total - p.acked) / rate : Infinity;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}% ` +
    `${formatBytes(p.acked)}/${formatBytes(p.total)} ${formatBytes(rate)}/s ETA ${formatDuration(eta)}`;
}

export function summaryLine(url: string, r: UploadResult): string {
  const seconds = Math.max(0.001, r.elapsedMs / 1000);
  const parts = [
    `${r.cancelled ? 'cancelled after' : r.closed ? 'uploaded' : 'not closed:'} ${formatBytes(r.acked)} of ${formatBytes(r.total)} to ${url} ` +
      `in ${seconds.toFixed(2)} s (${formatBytes(r.acked / seconds)}/s)`,
    `session ${r.sessionId ?? '-'}`,
    `${r.requests} requests`,
  ];
  if (r.retries) parts.push(`${r.retries} retries`);
  if (r.resyncs) parts.push(`${r.resyncs} resyncs`);
  if (r.replyUrl) parts.push(`reply ${r.replyUrl}`);
  return parts.join(', ');
}

/** Redraws at most every 100 ms so a fast loopback upload does not flood the terminal. */
export function ttyProgress(stream: NodeJS.WriteStream): { update(p: UploadProgress): void; done(): void } {
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100 && p.acked < p.total) return;
      last = now;
      drawn = true;
      stream.write(`\r${renderBar(p, now, Math.max(10, Math.min(30, (stream.columns ?? 80) - 60)))}\x1b[K`);
    },
    done() {
      if (drawn) stream.write('\n');
    },
  };
}
