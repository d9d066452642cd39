/** What `bitsgate upload` shows while it waits: a line per wait off a TTY, a live countdown on one. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clockTime, createDisplay, liveWaitLine, waitLine } from '../../src/client/display.js';
import type { RetryWait } from '../../src/client/index.js';

const T0 = Date.UTC(2026, 10, 29, 16, 40, 0);
const wait: RetryWait = {
  packet: 'Fragment',
  reason: 'no answer (ECONNREFUSED, connect failed)',
  failures: 3,
  delayMs: 4000,
  at: T0 + 4000,
  giveUpAt: T0 + 600_000,
};

afterEach(() => {
  vi.useRealTimers();
});

describe('wait lines', () => {
  it('off a TTY: the reason, the retry number, when it happens and when the client gives up', () => {
    expect(clockTime(T0)).toBe('16:40:00Z');
    expect(waitLine(wait)).toBe(
      'waiting: Fragment: no answer (ECONNREFUSED, connect failed); retry 3 at 16:40:04Z (in 4 s); giving up at 16:50:00Z without progress',
    );
    let out = '';
    const d = createDisplay({ write: (c: string) => (out += c) }, false, () => T0);
    d.progress({ acked: 1, total: 2, startedAt: T0 });
    d.log('413: fragment size 4 MiB -> 1 MiB');
    d.wait(wait);
    d.done();
    expect(out).toBe(`bitsgate upload: 413: fragment size 4 MiB -> 1 MiB\nbitsgate upload: ${waitLine(wait)}\n`);
  });

  it('on a TTY: one live line counting down each second, replaced by the bar when the upload moves again', () => {
    vi.useFakeTimers();
    let now = T0;
    let out = '';
    const d = createDisplay({ write: (c: string) => (out += c), columns: 200 }, true, () => now);
    d.wait(wait);
    expect(out).toBe(`\r${liveWaitLine(wait, T0)}\x1b[K`);
    expect(liveWaitLine(wait, T0)).toBe('waiting: Fragment: no answer (ECONNREFUSED, connect failed); retry 3 in 4 s, giving up in 10m');
    out = '';
    now += 1000;
    vi.advanceTimersByTime(1000);
    expect(out).toBe('\rwaiting: Fragment: no answer (ECONNREFUSED, connect failed); retry 3 in 3 s, giving up in 9m59s\x1b[K');
    out = '';
    d.progress({ acked: 512, total: 1024, startedAt: T0 });
    expect(out).toMatch(/^\r\[#+-+\]  50\.0% .*\x1b\[K$/);
    out = '';
    now += 5000;
    vi.advanceTimersByTime(5000);
    expect(out).toBe(''); // the countdown stopped when the upload moved
    d.log('session lost (0x8020001F): restarting from byte 0');
    expect(out).toMatch(/^\r\x1b\[Kbitsgate upload: session lost \(0x8020001F\): restarting from byte 0\n\r\[#+-+\]/);
    out = '';
    d.done();
    expect(out).toBe('\n');
  });
});
