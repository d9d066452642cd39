import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Observation } from '../../src/observation.js';
import { SessionTracker, type BitsEvent } from '../../src/sessions/index.js';
import { codes, Wire } from './factory.js';

interface UploadSpec { total: number; chunk: number; reply: boolean; ping: boolean }

const uploadSpec = fc.record({
  // No total of 0: a Create -> Close with no Fragment is close-no-data (a warning, §5), not clean.
  total: fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 2 ** 32, max: 2 ** 40 })),
  chunk: fc.integer({ min: 1, max: 2048 }),
  reply: fc.boolean(),
  ping: fc.boolean(),
});

/** The steps of one well-formed upload, generated lazily so the shared clock orders them. */
function* steps(w: Wire, i: number, spec: UploadSpec): Generator<Observation> {
  const url = `/up/file-${i}.bin`;
  const sid = `{session-${i}}`;
  const reply = spec.reply && spec.total > 0 ? `/replies/${i}?t=${spec.total}` : undefined;
  if (spec.ping) yield w.ping(url);
  yield w.create(url, sid);
  // At most ~40 fragments per upload keeps the test fast; huge totals still cross 4 GiB.
  const chunk = Math.max(spec.chunk, Math.ceil(spec.total / 40));
  for (let s = 0; s < spec.total; s += chunk) {
    const e = Math.min(spec.total, s + chunk) - 1;
    yield w.fragment(url, sid, s, e, spec.total, e === spec.total - 1 && reply ? { replyUrl: reply } : {});
  }
  if (reply) yield w.get(reply);
  yield w.close(url, sid);
}

describe('tracker properties', () => {
  it('any interleaving of well-formed uploads: no error-severity violation, every session closed with acked == total', () => {
    fc.assert(
      fc.property(fc.array(uploadSpec, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { minLength: 200, maxLength: 200 }), fc.boolean(),
        (specs, picks, useBegin) => {
          const w = new Wire();
          const t = new SessionTracker();
          const gens = specs.map((s, i) => steps(w, i, s));
          const live = gens.map((_, i) => i);
          const events: BitsEvent[] = [];
          let p = 0;
          while (live.length > 0) {
            const k = picks[p++ % picks.length]! % live.length;
            const next = gens[live[k]!]!.next();
            if (next.done) { live.splice(k, 1); continue; }
            if (useBegin) events.push(...t.begin(next.value));
            events.push(...t.observe(next.value));
          }
          const errors = events.flatMap((e) => (e.type === 'violation' && e.violation.severity === 'error' ? [e.violation] : []));
          expect(errors).toEqual([]);
          expect(codes(events)).toEqual([]);
          specs.forEach((spec, i) => {
            const s = t.session(`{session-${i}}`)!;
            expect(s.state).toBe('closed');
            expect(s.ackedBytes).toBe(spec.total);
            expect(s.totalLength ?? 0).toBe(spec.total);
            expect(s.replyFetched).toBe(spec.reply && spec.total > 0);
          });
        }),
      { numRuns: 150 },
    );
  });

  it('truncating a valid upload and closing flags close-incomplete exactly when acked < total', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 20_000 }), fc.nat(), (total, chunkHint, cut) => {
        const chunk = Math.max(chunkHint, Math.ceil(total / 50));
        const w = new Wire();
        const t = new SessionTracker();
        const fragments: Observation[] = [];
        for (let s = 0; s < total; s += chunk) fragments.push(w.fragment('/f', 'sid', s, Math.min(total, s + chunk) - 1, total));
        // At least one fragment, so the total is known to the tracker.
        const keep = 1 + (cut % fragments.length);
        const events = [w.create('/f', 'sid'), ...fragments.slice(0, keep), w.close('/f', 'sid')].flatMap((o) => t.observe(o));
        const acked = Math.min(total, keep * chunk);
        const found = codes(events);
        expect(found.includes('close-incomplete')).toBe(acked < total);
        expect(found.filter((c) => c !== 'close-incomplete')).toEqual([]);
        const s = t.session('sid')!;
        expect(s.ackedBytes).toBe(acked);
        expect(s.state).toBe('closed');
      }),
      { numRuns: 300 },
    );
  });

  it('random observations never make the tracker throw and keep state counts consistent', () => {
    const kinds = fc.constantFrom('create', 'fragment', 'close', 'cancel', 'get', 'ping');
    fc.assert(
      fc.property(fc.array(fc.tuple(kinds, fc.integer({ min: 0, max: 3 }), fc.nat({ max: 50 }), fc.nat({ max: 50 }), fc.constantFrom(200, 201, 400, 401, 404, 416, 500, 503)), { maxLength: 60 }),
        (ops) => {
          const w = new Wire();
          const t = new SessionTracker({ maxSessions: 3, timelineLimit: 5 });
          let lastSeq = 0;
          for (const [kind, n, a, b, status] of ops) {
            const sid = `s${n}`;
            const [s, e] = a <= b ? [a, b] : [b, a];
            const obs = kind === 'create' ? w.create('/f', sid, { status })
              : kind === 'fragment' ? w.fragment('/f', sid, s, e, 51, { status, received: status === 200 ? e + 1 : null })
              : kind === 'close' ? w.close(n === 3 ? '/g' : '/f', sid, { status })
              : kind === 'cancel' ? w.cancel('/f', sid, { status })
              : kind === 'get' ? w.get('/r', { status }) : w.ping('/f');
            for (const ev of t.observe(obs)) { expect(ev.seq).toBe(lastSeq + 1); lastSeq = ev.seq; }
          }
          const held = t.sessions();
          expect(held.length).toBeLessThanOrEqual(3);
          const counts = t.stats().sessionsByState;
          const sum = Object.entries(counts).filter(([k]) => k !== 'evicted').reduce((x, [, v]) => x + v, 0);
          expect(sum).toBe(held.length);
          for (const v of Object.values(counts)) expect(v).toBeGreaterThanOrEqual(0);
        }),
      { numRuns: 300 },
    );
  });
});
