/**
 * What `bitsgate upload` shows on stderr while it works: the client's log lines (what it
 * did and why), a line per wait before a resend, and on a TTY a redrawn progress bar and a
 * live countdown while it waits. Off a TTY (a pipe, a file, CI) every wait is one line
 * with the reason and the time of the next attempt, so a log shows when it retried.
 */
import { renderBar } from './progress.js';
import { formatDuration } from './retry-policy.js';
import type { RetryWait, UploadProgress } from './upload-client.js';

export interface UploadDisplay {
  progress(p: UploadProgress): void;
  log(line: string): void;
  wait(w: RetryWait): void;
  /** Clears what is live; call once at the end (also on failure or Ctrl-C). */
  done(): void;
}

interface Output {
  write(chunk: string): unknown;
  columns?: number;
}

const PREFIX = 'bitsgate upload: ';

/** `16:40:05Z`: the time of day in UTC, enough to match a server's log. */
export function clockTime(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(11, 19) + 'Z';
}

/** The one line announcing a wait (non-TTY). */
export function waitLine(w: RetryWait): string {
  return `waiting: ${w.packet}: ${w.reason}; retry ${w.failures} at ${clockTime(w.at)} (in ${formatDuration(w.delayMs)}); ` +
    `giving up at ${clockTime(w.giveUpAt)} without progress`;
}

/** The live line while waiting (TTY), redrawn every second. */
export function liveWaitLine(w: RetryWait, now: number): string {
  return `waiting: ${w.packet}: ${w.reason}; retry ${w.failures} in ${formatDuration(Math.max(0, w.at - now))}, ` +
    `giving up in ${formatDuration(Math.max(0, w.giveUpAt - now))}`;
}

export function createDisplay(out: Output, tty: boolean, now: () => number = Date.now): UploadDisplay {
  return tty ? ttyDisplay(out, now) : plainDisplay(out);
}

function plainDisplay(out: Output): UploadDisplay {
  return {
    progress() {},
    log: (line) => out.write(`${PREFIX}${line}\n`),
    wait: (w) => out.write(`${PREFIX}${waitLine(w)}\n`),
    done() {},
  };
}

function ttyDisplay(out: Output, now: () => number): UploadDisplay {
  let live = '';
  let lastBar = 0;
  let lastProgress: UploadProgress | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const width = () => Math.max(20, (out.columns ?? 80) - 1);
  const draw = (line: string) => {
    live = line.length > width() ? line.slice(0, width() - 1) + '…' : line;
    out.write(`\r${live}\x1b[K`);
  };
  const clear = () => {
    if (live) out.write('\r\x1b[K');
    live = '';
  };
  const stopTicker = () => {
    if (ticker) clearInterval(ticker);
    ticker = undefined;
  };
  const bar = (p: UploadProgress) => draw(renderBar(p, now(), Math.max(10, Math.min(30, (out.columns ?? 80) - 60))));
  return {
    progress(p) {
      stopTicker();
      lastProgress = p;
      const t = now();
      if (t - lastBar < 100 && p.acked < p.total) return;
      lastBar = t;
      bar(p);
    },
    log(line) {
      clear();
      out.write(`${PREFIX}${line}\n`);
      if (lastProgress && !ticker) bar(lastProgress);
    },
    wait(w) {
      stopTicker();
      draw(liveWaitLine(w, now()));
      ticker = setInterval(() => {
        if (now() >= w.at) return stopTicker();
        draw(liveWaitLine(w, now()));
      }, 1000);
      // The countdown never keeps the process alive by itself.
      ticker.unref();
    },
    done() {
      stopTicker();
      if (live) out.write('\n');
      live = '';
    },
  };
}
