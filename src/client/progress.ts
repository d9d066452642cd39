/**
 * Progress of `bitsgate upload`: the bar a TTY redraws (bytes, rate, ETA) and the one-line
 * summary at the end. display.ts decides when to draw.
 */
import type { UploadProgress, UploadResult } from './upload-client.js';

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `n` bytes in the largest binary unit that keeps it >= 1. */
function scaleBytes(n: number): { v: number; unit: number } {
  let v = n;
  let unit = 0;
  while (v >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  return { v, unit };
}

/** For a progress bar: a fixed number of decimals, so the line does not jump. */
function formatBytes(n: number): string {
  const { v, unit } = scaleBytes(n);
  return unit === 0 ? `${Math.round(n)} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${BYTE_UNITS[unit]}`;
}

/** For a log line: `4 MiB`, `768 KiB`, `1.5 MiB`, `1000 B`, exact where it can be. */
export function sizeText(n: number): string {
  const { v, unit } = scaleBytes(n);
  return `${Number.isInteger(v) ? v : Number(v.toFixed(2))} ${BYTE_UNITS[unit]}`;
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
  if (r.restarts) parts.push(`${r.restarts} session restart${r.restarts === 1 ? '' : 's'}`);
  if (r.replyUrl) parts.push(`reply ${r.replyUrl}`);
  return parts.join(', ');
}
