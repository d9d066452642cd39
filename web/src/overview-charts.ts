/**
 * The overview strip: throughput, sessions by state and violations by code over the last
 * minutes, live. Fed by store events into fixed time buckets (time-buckets.ts) and drawn
 * at most once a second, so 10 000 sessions or a burst of events cost a counter update
 * each, never a redraw each.
 */
import type { SessionState } from '../../src/sessions/events.js';
import { el } from './dom.js';
import { bytes, rate } from './format.js';
import type { Store } from './store.js';
import { svgEl, svgRoot, svgText, svgTitle } from './svg.js';
import { TimeBuckets, type Bucket } from './time-buckets.js';

export const BUCKET_MS = 5_000;
export const BUCKETS = 60; // 5 minutes
const W = 360, H = 96, PAD = 4, LABEL = 14;
const STATES: SessionState[] = ['open', 'uploaded', 'closed', 'failed', 'cancelled', 'expired', 'evicted'];
const CODE_COLOURS = 8;

export class OverviewCharts {
  readonly buckets = new TimeBuckets(BUCKET_MS, BUCKETS);
  private readonly charts: Record<'throughput' | 'states' | 'violations', HTMLElement>;
  private readonly codeColour = new Map<string, number>();
  private dirty = true;

  constructor(private readonly root: HTMLElement, private readonly store: Store) {
    const chart = (key: string, title: string) => el('figure', { class: `ov-chart ov-${key}`, attrs: { tabindex: '0' } }, [el('figcaption', { text: title })]);
    this.charts = { throughput: chart('throughput', 'Throughput'), states: chart('states', 'Sessions by state'), violations: chart('violations', 'Violations by code') };
    root.append(this.charts.throughput, this.charts.states, this.charts.violations);
    store.onEvent((e) => {
      if (e.type === 'packet') this.buckets.addBytes(e.time, e.packet.requestBytes + e.packet.responseBytes);
      else if (e.type === 'violation') this.buckets.addViolation(e.time, e.violation.code);
      else return;
      this.dirty = true;
    });
    store.on('reset', () => {
      // The snapshot carries the recent violations: rebuild from it (a resync must not count twice).
      this.buckets.clearViolations();
      for (const v of this.store.violations) this.buckets.addViolation(v.time, v.code);
      this.dirty = true;
    });
    store.on('sessions', () => { this.dirty = true; });
    window.setInterval(() => this.tick(), 1000);
    this.tick();
  }

  private tick(): void {
    const now = this.store.now();
    this.buckets.sampleStates(now, this.countStates());
    if (document.hidden || this.root.hidden) return;
    if (!this.dirty && Math.floor(now / BUCKET_MS) === this.lastBucket) return;
    this.dirty = false;
    this.lastBucket = Math.floor(now / BUCKET_MS);
    this.render(this.buckets.buckets(now));
  }

  private lastBucket = 0;

  private countStates(): Partial<Record<SessionState, number>> {
    const c: Partial<Record<SessionState, number>> = {};
    for (const s of this.store.sessions.values()) c[s.state] = (c[s.state] ?? 0) + 1;
    return c;
  }

  /** Redraws the three charts now (tests and the 1 s tick). */
  render(list: Bucket[]): void {
    const barW = (W - 2 * PAD) / list.length;
    const x = (i: number) => PAD + i * barW;

    // Throughput: bytes per second per bucket.
    const maxBytes = Math.max(1, ...list.map((b) => b.bytes));
    const tp = svgRoot(W, H, 'ov-svg', 'Throughput over the last 5 minutes');
    list.forEach((b, i) => {
      if (b.bytes === 0) return;
      const h = (b.bytes / maxBytes) * (H - LABEL - PAD);
      tp.append(svgEl('rect', { class: 'tp-bar', x: x(i), y: H - LABEL - h, width: Math.max(1, barW - 1), height: h, 'data-bytes': String(b.bytes) }, [
        svgTitle(`${rate(b.bytes / (BUCKET_MS / 1000))} (${bytes(b.bytes)} in ${BUCKET_MS / 1000} s)`),
      ]));
    });
    const last = list.at(-1)!;
    tp.append(svgText(`now ${rate(last.bytes / (BUCKET_MS / 1000))} · peak ${rate(maxBytes / (BUCKET_MS / 1000))}`, { x: PAD, y: H - 2, class: 'tick' }));
    this.put('throughput', tp);

    // Sessions by state: stacked bars of the last sample in each bucket.
    const maxSessions = Math.max(1, ...list.map((b) => (b.states ? STATES.reduce((n, s) => n + (b.states![s] ?? 0), 0) : 0)));
    const st = svgRoot(W, H, 'ov-svg', 'Sessions by state over the last 5 minutes');
    list.forEach((b, i) => {
      if (!b.states) return;
      let y = H - LABEL;
      for (const s of STATES) {
        const n = b.states[s] ?? 0;
        if (!n) continue;
        const h = (n / maxSessions) * (H - LABEL - PAD);
        y -= h;
        st.append(svgEl('rect', { class: `seg state-${s}`, x: x(i), y, width: Math.max(1, barW - 1), height: h, 'data-state': s, 'data-count': String(n) }, [svgTitle(`${n} ${s}`)]));
      }
    });
    const nowStates = last.states ?? {};
    st.append(svgText(STATES.filter((s) => nowStates[s]).map((s) => `${s} ${nowStates[s]}`).join(' · ') || 'no sessions', { x: PAD, y: H - 2, class: 'tick' }));
    this.put('states', st);

    // Violations by code: stacked bars per bucket, one colour per code.
    const maxV = Math.max(1, ...list.map((b) => [...b.violations.values()].reduce((a, n) => a + n, 0)));
    const vi = svgRoot(W, H, 'ov-svg', 'Violations by code over the last 5 minutes');
    const totals = new Map<string, number>();
    list.forEach((b, i) => {
      let y = H - LABEL;
      for (const [code, n] of [...b.violations].sort(([a], [c]) => a.localeCompare(c))) {
        totals.set(code, (totals.get(code) ?? 0) + n);
        const h = (n / maxV) * (H - LABEL - PAD);
        y -= h;
        vi.append(svgEl('rect', { class: `seg code-c${this.colourOf(code)}`, x: x(i), y, width: Math.max(1, barW - 1), height: h, 'data-code': code, 'data-count': String(n) }, [svgTitle(`${n} ${code}`)]));
      }
    });
    vi.append(svgText(totals.size ? `${[...totals.values()].reduce((a, n) => a + n, 0)} in 5 min` : 'none in 5 min', { x: PAD, y: H - 2, class: 'tick' }));
    this.put('violations', vi, [...totals].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([code, n]) =>
      el('li', { class: `code-c${this.colourOf(code)}`, data: { code } }, [el('span', { class: 'swatch' }), el('span', { text: `${code} ${n}` })])));
  }

  private colourOf(code: string): number {
    let c = this.codeColour.get(code);
    if (c === undefined) this.codeColour.set(code, (c = this.codeColour.size % CODE_COLOURS));
    return c;
  }

  private put(key: keyof OverviewCharts['charts'], svg: SVGSVGElement, legend?: HTMLElement[]): void {
    const fig = this.charts[key];
    fig.querySelector('svg')?.remove();
    fig.querySelector('ul')?.remove();
    fig.append(svg);
    if (legend) fig.append(el('ul', { class: 'ov-legend' }, legend));
  }
}
