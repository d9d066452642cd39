/**
 * Issue 15.1: the tracker is bounded in bytes, not only in sessions. A client that sends
 * Create-Session packets each carrying one 60 KB header must not grow the tracker past its
 * byte budget, and one exchange may retain only a capped amount of raw headers.
 */
import { describe, expect, it } from 'vitest';
import type { BitsEvent } from '../../src/sessions/events.js';
import {
  capMessage, MAX_RETAINED_HEADER_BYTES, MAX_RETAINED_HEADER_VALUE, MAX_RETAINED_URL, MAX_VIOLATION_MESSAGE, retainedHeaderBytes,
} from '../../src/sessions/retention.js';
import { SessionTracker } from '../../src/sessions/tracker.js';
import { GUID, Wire } from './factory.js';

const URL_ = '/up/f.bin';
const BIG = 'a'.repeat(60_000);
const sid = (i: number) => `{${String(i).padStart(8, '0')}-0000-4000-8000-000000000000}`;

describe('the tracker byte budget (maxSessionMemory)', () => {
  it('keeps the accounted bytes within the budget under 60 KB Create-Session headers, evicting the least recent by bytes', () => {
    const budget = 1024 * 1024;
    const w = new Wire();
    const t = new SessionTracker({ maxSessionMemory: budget });
    const evicted: string[] = [];
    for (let i = 0; i < 2000; i++) {
      for (const e of t.observe(w.create(URL_, sid(i), { extra: [['X-Pad', BIG]] }))) {
        if (e.type === 'session-evicted') evicted.push(e.session.id);
      }
      expect(t.retainedBytes).toBeLessThanOrEqual(budget);
    }
    const held = t.sessions().map((s) => s.id);
    // Each session costs under 10 KiB accounted (its Create-Session headers are capped), so
    // the budget holds more than 100 of them but far fewer than 2 000: evicted by bytes.
    expect(held.length).toBeGreaterThan(100);
    expect(held.length).toBeLessThan(2000);
    expect(evicted).toHaveLength(2000 - held.length);
    // Least recently active first: exactly the oldest ids went, the newest stay.
    expect(evicted).toEqual(Array.from({ length: evicted.length }, (_, i) => sid(i)));
    expect(held[0]).toBe(sid(1999));
    expect(t.stats().sessionsByState.evicted).toBe(evicted.length);
    expect(t.stats().sessionsByState.open).toBe(held.length);
  });

  it('releases the bytes of evicted and replaced sessions (accounting returns to zero)', () => {
    const w = new Wire();
    const t = new SessionTracker({ maxSessions: 10 });
    for (let i = 0; i < 100; i++) {
      t.observe(w.create(URL_, sid(i), { extra: [['X-Pad', BIG]] }));
      t.observe(w.fragment(URL_, sid(i), 0, 9, 10, { extra: [['X-Pad', BIG]] }));
    }
    expect(t.sessions()).toHaveLength(10);
    const ten = t.retainedBytes;
    // The same 10 sessions again from a fresh tracker: the same accounted bytes, nothing left over from the 90 evicted.
    const w2 = new Wire();
    const fresh = new SessionTracker({ maxSessions: 10 });
    for (let i = 90; i < 100; i++) {
      fresh.observe(w2.create(URL_, sid(i), { extra: [['X-Pad', BIG]] }));
      fresh.observe(w2.fragment(URL_, sid(i), 0, 9, 10, { extra: [['X-Pad', BIG]] }));
    }
    expect(ten).toBeGreaterThan(10 * 1024);
    // The only difference: the ring of recent exchanges still references the 90 evicted sessions'
    // Fragment entries, stripped of their headers (240 + 16 + 9 bytes each), until it rotates them out.
    expect(ten - fresh.retainedBytes).toBe(90 * (240 + 16 + URL_.length));
  });

  it('refuses a budget that is not a positive integer', () => {
    expect(() => new SessionTracker({ maxSessionMemory: 0 })).toThrow(/maxSessionMemory/);
    expect(() => new SessionTracker({ maxSessionMemory: 1.5 })).toThrow(/maxSessionMemory/);
    expect(() => new SessionTracker({ maxSessionMemory: Number.NaN })).toThrow(/maxSessionMemory/);
  });
});

describe('what one exchange retains', () => {
  it('truncates each retained header value and caps the header bytes of an exchange; decoded fields stay', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const many: [string, string][] = Array.from({ length: 40 }, (_, i) => [`X-H${i}`, 'b'.repeat(500)]);
    const ev = t.observe(w.create(URL_, sid(1), { extra: [['X-Pad', BIG], ...many] }));
    const rec = t.session(sid(1))!.timeline[0]!;
    const pad = rec.requestHeaders.find(([n]) => n === 'X-Pad')!;
    expect(pad[1]).toBe('a'.repeat(MAX_RETAINED_HEADER_VALUE));
    expect(rec.headersTruncated).toBe(true);
    expect(retainedHeaderBytes(rec)).toBeLessThanOrEqual(MAX_RETAINED_HEADER_BYTES);
    // The BITS headers come first in the list and survive; the Ack is kept whole.
    expect(rec.requestHeaders.slice(0, 4)).toEqual([['Host', 'files.example.com'], ['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']]);
    expect(rec.responseHeaders).toContainEqual(['BITS-Session-Id', sid(1)]);
    expect(rec.requestHeaders.length).toBeLessThan(45);
    expect(rec).toMatchObject({ kind: 'create-session', status: 201 });
    expect(t.session(sid(1))).toMatchObject({ state: 'open', protocol: GUID });
    // The packet event carries the same capped record.
    const packet = ev.find((e): e is Extract<BitsEvent, { type: 'packet' }> => e.type === 'packet')!;
    expect(packet.packet).toBe(rec);
  });

  it('keeps a small header list as it is (no copy, no flag)', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const obs = w.create(URL_, sid(1));
    t.observe(obs);
    const rec = t.session(sid(1))!.timeline[0]!;
    expect(rec.requestHeaders).toBe(obs.requestHeaders);
    expect(rec.headersTruncated).toBeUndefined();
  });

  it('caps the URL a timeline entry keeps', () => {
    const w = new Wire();
    const t = new SessionTracker();
    const long = '/up/' + 'u'.repeat(20_000);
    t.observe(w.create(long, sid(1)));
    t.observe(w.fragment(long, sid(1), 0, 9, 10));
    const tl = t.session(sid(1))!.timeline;
    expect(tl.map((r) => r.url.length)).toEqual([MAX_RETAINED_URL, MAX_RETAINED_URL]);
    expect(tl[1]).toMatchObject({ kind: 'fragment', ackedOffset: 10, range: { start: 0, end: 9, total: 10 } });
    expect(t.session(sid(1))!.state).toBe('uploaded');
  });

  it('caps violation messages, which may quote a header', () => {
    expect(capMessage('short')).toBe('short');
    const long = capMessage('x'.repeat(60_000));
    expect(long).toBe('x'.repeat(MAX_VIOLATION_MESSAGE - 1) + '…');
  });
});
