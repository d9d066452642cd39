/**
 * The session drawer: facts, coverage of acknowledged bytes, reply URL, the packet
 * timeline (headers on demand) and a JSON export. Fetched once from /api/sessions/:id,
 * then kept live from the event stream.
 */
import type { SeqViolation } from '../../src/dashboard/snapshot-source.js';
import type { PacketRecord, SessionDetail, SessionSummary } from '../../src/sessions/events.js';
import { coverageChart } from './coverage-chart.js';
import { clear, el } from './dom.js';
import { sequenceDiagram } from './sequence-diagram.js';
import { bytes, clean, clock, percent } from './format.js';
import { isCommitted, type Store } from './store.js';

const MAX_TIMELINE = 2000;

function rangeText(p: PacketRecord): string {
  if (p.range) return `${p.range.start}-${p.range.end}/${p.range.total}`;
  return '';
}

function headerList(title: string, headers: ReadonlyArray<readonly [string, string]> | undefined): HTMLElement {
  const dl = el('dl', { class: 'headers' });
  for (const [k, v] of headers ?? []) dl.append(el('dt', { text: clean(k, 100) }), el('dd', { text: clean(v, 2000) }));
  if (!headers?.length) dl.append(el('dd', { class: 'muted', text: '(none)' }));
  return el('div', { class: 'header-block' }, [el('h4', { text: title }), dl]);
}

export class SessionDetailView {
  private id: string | undefined;
  private detail: SessionDetail | undefined;
  private timelineBody: HTMLTableSectionElement | undefined;
  private stopPackets: (() => void) | undefined;
  private loadToken = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly store: Store,
    private readonly onClose: () => void,
    /** `--control`: the session's fault buttons (control-panel.ts), or null. */
    private readonly actions: (sessionId: string) => HTMLElement | null = () => null,
  ) {
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.id !== undefined) this.onClose();
    });
    store.on('sessions', () => this.refreshSummary());
    store.on('reset', () => this.refreshSummary());
    // A violation usually arrives right after the packet that caused it: mark it on the diagram.
    store.on('violations', () => {
      // Violations of other sessions arrive all the time: redraw only when ours changed.
      if (this.detail && this.sessionViolations().length !== this.drawnViolations) this.redrawSequence();
    });
  }

  get openId(): string | undefined {
    return this.id;
  }

  async show(id: string): Promise<void> {
    this.hide();
    this.id = id;
    this.root.hidden = false;
    const token = ++this.loadToken;
    this.renderShell(this.store.sessions.get(id), 'Loading…');
    let detail: SessionDetail | undefined;
    try {
      const res = await fetch(`/api/sessions/${encodeURIComponent(id)}`, { credentials: 'same-origin' });
      if (res.ok) detail = (await res.json()) as SessionDetail;
    } catch {
      /* shown below */
    }
    if (token !== this.loadToken) return;
    if (!detail) {
      this.renderShell(this.store.sessions.get(id), 'This session is not (or no longer) tracked by the gateway.');
      return;
    }
    this.detail = detail;
    this.renderShell(this.store.sessions.get(id) ?? detail, undefined);
    this.stopPackets = this.store.onPacket((sid, p) => {
      if (sid !== this.id || !this.detail || !this.timelineBody) return;
      if (this.detail.timeline.some((t) => t.exchange === p.exchange)) return;
      this.detail.timeline.push(p);
      if (this.detail.timeline.length > MAX_TIMELINE) this.detail.timeline.shift();
      this.timelineBody.append(...this.timelineRow(p));
      this.rendered = undefined;
      this.refreshSummary();
      this.redrawSequence();
    });
  }

  hide(): void {
    this.stopPackets?.();
    this.stopPackets = undefined;
    this.id = undefined;
    this.detail = undefined;
    this.timelineBody = undefined;
    this.rendered = undefined;
    this.root.hidden = true;
    clear(this.root);
  }

  private summary(): SessionSummary | undefined {
    return this.id === undefined ? undefined : this.store.sessions.get(this.id) ?? this.detail;
  }

  private rendered: SessionSummary | undefined;

  private refreshSummary(): void {
    const s = this.summary();
    // The store replaces a session's object on every update: same object, nothing to redraw.
    if (!s || !this.detail || s === this.rendered) return;
    this.rendered = s;
    const facts = this.root.querySelector('.facts');
    const cov = this.root.querySelector('.coverage-wrap');
    const head = this.root.querySelector('.drawer-head');
    const viol = this.root.querySelector('.session-violations');
    if (viol) viol.replaceWith(this.violations(s.id));
    if (facts) facts.replaceWith(this.facts(s));
    if (cov) cov.replaceWith(this.coverage(s));
    if (head) head.replaceWith(this.head(s));
  }

  private renderShell(s: SessionSummary | undefined, notice: string | undefined): void {
    clear(this.root);
    const panel = el('div', { class: 'drawer-panel', attrs: { role: 'dialog', 'aria-label': 'Session detail' } });
    const backdrop = el('div', { class: 'drawer-backdrop' });
    backdrop.addEventListener('click', () => this.onClose());
    this.root.append(backdrop, panel);
    if (!s) {
      panel.append(this.head(undefined), el('p', { class: 'notice', text: notice ?? '' }));
      return;
    }
    panel.append(this.head(s));
    if (notice) panel.append(el('p', { class: 'notice', text: notice }));
    panel.append(this.facts(s), this.actions(s.id) ?? '', this.coverage(s), this.violations(s.id));
    if (this.detail) panel.append(this.sequence(), this.timeline(this.detail.timeline));
  }

  private head(s: SessionSummary | undefined): HTMLElement {
    const close = el('button', { class: 'btn icon', text: '×', title: 'Close (Esc)', attrs: { type: 'button', 'aria-label': 'Close' } });
    close.addEventListener('click', () => this.onClose());
    const exp = el('button', { class: 'btn', text: 'Export JSON', attrs: { type: 'button', id: 'export-json' } });
    exp.addEventListener('click', () => this.exportJson());
    exp.disabled = !this.detail;
    const har = el('button', { class: 'btn', text: 'Export HAR', title: 'HAR 1.2 for Fiddler, Chrome DevTools, mitmproxy (no bodies)', attrs: { type: 'button', id: 'export-har' } });
    har.addEventListener('click', () => void this.exportHar());
    har.disabled = !this.detail;
    return el('div', { class: 'drawer-head' }, [
      el('div', { class: 'drawer-title' }, [
        s ? el('span', { class: isCommitted(s) || s.state !== 'closed' ? 'badge' : 'badge incomplete', text: s.state, data: { state: s.state } }) : null,
        el('h2', { text: clean(s ? s.contentName ?? s.url : this.id ?? '', 160) }),
      ]),
      el('div', { class: 'drawer-actions' }, [exp, har, close]),
    ]);
  }

  private facts(s: SessionSummary): HTMLElement {
    const rows: Array<[string, string]> = [
      ['Session id', s.id],
      ['URL', s.url],
      ['Host', s.host ?? '—'],
      ['Client', s.client],
      ['Total', s.totalLength === null ? 'unknown' : `${bytes(s.totalLength)} (${s.totalLength.toLocaleString('en-US')} B)`],
      ['Acknowledged', `${bytes(s.ackedBytes)} (${s.ackedBytes.toLocaleString('en-US')} B)`],
      ['Relayed', bytes(s.relayedBytes)],
      ['Fragments', String(s.fragments)],
      ['Retransmitted', bytes(s.retransmittedBytes)],
      ['Protocol', s.protocol ?? '—'],
      ['BITS-Host-Id', s.hostId ?? '—'],
      ['First seen', new Date(s.firstSeen).toISOString()],
      ['Last seen', new Date(s.lastSeen).toISOString()],
      ['Error codes', s.errorCodes.length ? s.errorCodes.join(', ') : '—'],
      ['Violations', s.violations.length ? s.violations.join(', ') : 'none'],
    ];
    if (s.replyUrl !== undefined) rows.push(['Reply URL', `${s.replyUrl}  (${s.replyFetched ? 'fetched' : 'not fetched'})`]);
    if (s.adopted) rows.push(['Note', 'first seen mid-upload: some fields are unknown']);
    const dl = el('dl', { class: 'facts' });
    for (const [k, v] of rows) {
      dl.append(el('dt', { text: k }), el('dd', { text: clean(v, 1000), data: { fact: k } }));
    }
    return dl;
  }

  /** The explanations of this session's violations (from the feed the browser holds). */
  private violations(id: string): HTMLElement {
    const mine = this.store.violations.filter((v) => v.sessionId === id).slice(0, 50).reverse();
    const wrap = el('div', { class: 'session-violations' });
    if (mine.length === 0) return wrap;
    wrap.append(el('h3', { text: 'Violations' }));
    for (const v of mine) {
      wrap.append(el('div', { class: 'violation', data: { code: v.code, severity: v.severity } }, [
        el('div', { class: 'v-head' }, [el('span', { class: `code sev-${v.severity}`, text: v.code }), el('time', { class: 'v-time', text: clock(v.time) })]),
        el('p', { class: 'v-message', text: clean(v.message, 400) }),
        el('p', { class: 'v-explain', text: clean(v.explain, 600) }),
      ]));
    }
    return wrap;
  }

  private coverage(s: SessionSummary): HTMLElement {
    const p = percent(s.ackedBytes, s.totalLength);
    const bar = el('div', { class: 'coverage', attrs: { role: 'img', 'aria-label': `acknowledged ${p === null ? 'unknown' : Math.floor(p) + '%'}` } });
    const total = s.totalLength;
    if (total && this.detail) {
      // Ranges the client sent, under the acknowledged prefix: gaps and overlaps become visible.
      for (const pk of this.detail.timeline) {
        if (!pk.range || pk.range.total !== total) continue;
        const seg = el('span', { class: 'cov-sent' });
        seg.style.left = `${(pk.range.start / total) * 100}%`;
        seg.style.width = `${Math.max(0.3, ((pk.range.end - pk.range.start + 1) / total) * 100)}%`;
        bar.append(seg);
      }
    }
    const acked = el('span', { class: 'cov-acked' });
    acked.style.width = `${p ?? 0}%`;
    bar.append(acked);
    const label = p === null ? `${bytes(s.ackedBytes)} acknowledged, total unknown`
      : `${Math.floor(p)}% acknowledged: ${bytes(s.ackedBytes)} of ${bytes(s.totalLength)}`;
    const chart = this.detail && this.detail.timeline.some((pk) => pk.kind === 'fragment')
      ? el('div', { class: 'cov-chart-wrap' }, [coverageChart(this.detail.timeline, s.totalLength).root]) : null;
    return el('div', { class: 'coverage-wrap' }, [
      el('h3', { text: 'Coverage' }), bar,
      el('div', { class: 'cov-legend' }, [
        el('span', { class: 'legend acked', text: 'acknowledged' }), el('span', { class: 'legend sent', text: 'sent' }),
        el('span', { class: 'cov-label', text: label }),
      ]),
      chart,
      s.replyUrl === undefined ? null : el('p', { class: 'reply' }, [
        el('span', { text: 'Reply URL: ' }), el('code', { text: clean(s.replyUrl, 500) }),
        el('span', { class: `badge ${s.replyFetched ? 'ok' : 'warn'}`, text: s.replyFetched ? 'fetched' : 'not fetched' }),
      ]),
    ]);
  }

  private sequenceFrame = 0;

  /** Redraws the sequence diagram once per frame at most, however many packets arrive. */
  private redrawSequence(): void {
    if (this.sequenceFrame || !this.detail) return;
    this.sequenceFrame = requestAnimationFrame(() => {
      this.sequenceFrame = 0;
      const old = this.root.querySelector('.seq-wrap');
      if (old && this.detail) old.replaceWith(this.sequence());
    });
  }

  private drawnViolations = 0;

  /** This session's violations, and any other that names one of its exchanges. */
  private sessionViolations(): SeqViolation[] {
    const id = this.id;
    const mine = this.store.violations.filter((v) => v.sessionId === id);
    const exchanges = new Set(this.detail!.timeline.map((p) => p.exchange));
    for (const v of this.store.violations) if (v.sessionId !== id && v.exchanges.some((x) => exchanges.has(x))) mine.push(v);
    return mine;
  }

  private sequence(): HTMLElement {
    const mine = this.sessionViolations();
    this.drawnViolations = mine.length;
    return sequenceDiagram(this.detail!.timeline, mine).root;
  }

  private timeline(packets: PacketRecord[]): HTMLElement {
    const thead = el('thead', {}, [el('tr', {}, ['Time', 'Packet', 'Status', 'Range', 'Req bytes', 'Ack / resp', 'ms', ''].map((h) => el('th', { text: h })))]);
    const body = el('tbody');
    for (const p of packets) body.append(...this.timelineRow(p));
    this.timelineBody = body;
    return el('div', { class: 'timeline-wrap' }, [
      el('h3', { text: 'Packet timeline' }),
      el('table', { class: 'timeline' }, [thead, body]),
    ]);
  }

  private timelineRow(p: PacketRecord): HTMLTableRowElement[] {
    const toggle = el('button', { class: 'btn small', text: 'headers', attrs: { type: 'button', 'aria-expanded': 'false' } });
    const statusClass = p.status === undefined ? 'none' : p.status < 300 ? 'ok' : p.status < 500 ? 'warn' : 'bad';
    const row = el('tr', { class: p.injected ? 'pkt injected' : 'pkt', data: { exchange: String(p.exchange), kind: p.kind } }, [
      el('td', { class: 'mono', text: clock(p.startedAt) }),
      el('td', {}, [el('span', { class: `kind kind-${p.kind}`, text: p.kind === 'http' ? `${clean(p.method, 20)}` : p.kind })]),
      el('td', {}, [
        el('span', { class: `status ${statusClass}`, text: p.status === undefined ? (p.error ? clean(p.error, 40) : 'no response') : String(p.status) }),
        // The gateway made this fault happen (--inject): never the client's or the server's doing.
        p.injected ? el('span', { class: 'badge injected', text: 'injected', title: 'fault injected by the gateway (--inject)' }) : null,
      ]),
      el('td', { class: 'mono', text: rangeText(p) }),
      el('td', { class: 'num', text: bytes(p.requestBytes) }),
      el('td', { class: 'mono', text: p.ackedOffset !== undefined ? `acked ${p.ackedOffset}` : p.errorCode ? clean(p.errorCode, 80) : bytes(p.responseBytes) }),
      el('td', { class: 'num', text: String(Math.round(p.ms)) }),
      el('td', {}, [toggle]),
    ]);
    const detail = el('tr', { class: 'pkt-headers', attrs: { hidden: '' } }, [
      el('td', { attrs: { colspan: '8' } }, [
        el('div', { class: 'header-pair' }, [
          headerList(`Request: ${clean(p.method, 20)} ${clean(p.url, 300)}`, p.requestHeaders),
          headerList(p.status === undefined ? 'Response: none' : `Response: ${p.status}`, p.responseHeaders),
        ]),
      ]),
    ]);
    toggle.addEventListener('click', () => {
      detail.hidden = !detail.hidden;
      toggle.setAttribute('aria-expanded', String(!detail.hidden));
    });
    return [row, detail];
  }

  /** The server builds the HAR (one converter for the CLI and the dashboard); we only save it. */
  private async exportHar(): Promise<void> {
    if (this.id === undefined) return;
    let text: string;
    try {
      const res = await fetch(`/api/sessions/${encodeURIComponent(this.id)}/har`, { credentials: 'same-origin' });
      if (!res.ok) return;
      text = await res.text();
    } catch {
      return;
    }
    this.download(new Blob([text], { type: 'application/json' }), 'har');
  }

  private download(blob: Blob, ext: string): void {
    const a = el('a', { attrs: { href: URL.createObjectURL(blob), download: `bits-session-${(this.id ?? '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80)}.${ext}` } });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  private async exportJson(): Promise<void> {
    if (this.id === undefined) return;
    let data: unknown = this.detail;
    try {
      const res = await fetch(`/api/sessions/${encodeURIComponent(this.id)}`, { credentials: 'same-origin' });
      if (res.ok) data = await res.json();
    } catch {
      /* export what we have */
    }
    this.download(new Blob([JSON.stringify(data, null, 2) + '\n'], { type: 'application/json' }), 'json');
  }
}

