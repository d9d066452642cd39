/**
 * The live sessions table. Virtualised: only the rows in view exist in the DOM (a pool of
 * recycled row elements positioned over a spacer), so 10 000 sessions cost the same to
 * draw as 30. Filtering and sorting run on the data, at most a few times per second.
 */
import { VIOLATION_CODES, type SessionState, type SessionSummary } from '../../src/sessions/events.js';
import { el, setText } from './dom.js';
import { age, bytes, clean, percent, rate } from './format.js';
import { isCommitted, type Store } from './store.js';

const ROW_HEIGHT = 38;
const OVERSCAN = 6;
const RESORT_INTERVAL_MS = 200;

type SortKey = 'state' | 'file' | 'client' | 'progress' | 'rate' | 'age' | 'violations';

const COLUMNS: Array<{ key: SortKey; label: string; cls: string }> = [
  { key: 'state', label: 'State', cls: 'c-state' },
  { key: 'file', label: 'File', cls: 'c-file' },
  { key: 'client', label: 'Client', cls: 'c-client' },
  { key: 'progress', label: 'Progress', cls: 'c-progress' },
  { key: 'rate', label: 'Rate', cls: 'c-rate' },
  { key: 'age', label: 'Age', cls: 'c-age' },
  { key: 'violations', label: 'Violations', cls: 'c-viol' },
];

const STATES: SessionState[] = ['open', 'uploaded', 'closing', 'closed', 'cancelled', 'failed', 'expired', 'evicted'];

export function sessionRate(s: SessionSummary): number {
  const seconds = Math.max(1, (s.lastSeen - s.firstSeen) / 1000);
  return s.relayedBytes / seconds;
}

function fileLabel(s: SessionSummary): string {
  if (s.contentName) return s.contentName;
  const last = s.url.split('?')[0]!.split('/').filter(Boolean).pop();
  return last ?? s.url;
}

interface RowRefs {
  root: HTMLDivElement;
  state: HTMLSpanElement;
  file: HTMLSpanElement;
  url: HTMLSpanElement;
  client: HTMLSpanElement;
  bar: HTMLSpanElement;
  pct: HTMLSpanElement;
  size: HTMLSpanElement;
  rate: HTMLSpanElement;
  age: HTMLSpanElement;
  viol: HTMLSpanElement;
}

export class SessionsTable {
  private readonly body: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly empty: HTMLDivElement;
  private readonly shown: HTMLSpanElement;
  private readonly headers = new Map<SortKey, HTMLButtonElement>();
  private readonly pool: RowRefs[] = [];
  private rows: SessionSummary[] = [];
  private sortKey: SortKey = 'age';
  private sortDesc = false;
  private filterState = '';
  private filterCode = '';
  private filterText = '';
  private dataDirty = true;
  private lastResort = 0;
  private frame = 0;
  private selected: string | undefined;

  constructor(root: HTMLElement, toolbar: HTMLElement, private readonly store: Store, private readonly open: (id: string) => void) {
    this.buildToolbar(toolbar);
    const head = el('div', { class: 'thead', attrs: { role: 'row' } });
    for (const c of COLUMNS) {
      const b = el('button', { class: `th ${c.cls}`, text: c.label, attrs: { type: 'button' } });
      b.addEventListener('click', () => this.sortBy(c.key));
      this.headers.set(c.key, b);
      head.append(b);
    }
    this.body = el('div', { class: 'tbody', attrs: { role: 'rowgroup', tabindex: '-1' } });
    this.spacer = el('div', { class: 'spacer' });
    this.empty = el('div', { class: 'empty', text: 'No sessions yet: waiting for BITS traffic through the gateway.' });
    this.body.append(this.spacer, this.empty);
    root.append(head, this.body);
    this.shown = toolbar.querySelector('.shown') as HTMLSpanElement;
    this.body.addEventListener('scroll', () => this.schedule(), { passive: true });
    window.addEventListener('resize', () => this.schedule());
    this.body.addEventListener('click', (ev) => {
      const row = (ev.target as HTMLElement).closest<HTMLElement>('.row');
      if (row?.dataset.sessionId !== undefined) this.open(row.dataset.sessionId);
    });
    this.body.addEventListener('keydown', (ev) => {
      const row = (ev.target as HTMLElement).closest<HTMLElement>('.row');
      if (ev.key === 'Enter' && row?.dataset.sessionId !== undefined) this.open(row.dataset.sessionId);
    });
    this.updateSortIndicators();
    // Ages move even when no event arrives.
    window.setInterval(() => this.schedule(), 1000);
  }

  /** Data changed: re-filter and re-sort soon. */
  invalidate(): void {
    this.dataDirty = true;
    this.schedule();
  }

  select(id: string | undefined): void {
    this.selected = id;
    this.schedule();
  }

  private buildToolbar(toolbar: HTMLElement): void {
    const state = el('select', { attrs: { 'aria-label': 'Filter by state', id: 'filter-state' } }, [
      el('option', { text: 'All states', attrs: { value: '' } }),
      el('option', { text: 'Active', attrs: { value: 'active' } }),
      ...STATES.map((s) => el('option', { text: s, attrs: { value: s } })),
    ]);
    const code = el('select', { attrs: { 'aria-label': 'Filter by violation', id: 'filter-code' } }, [
      el('option', { text: 'Any violation status', attrs: { value: '' } }),
      el('option', { text: 'With violations', attrs: { value: '*' } }),
      el('option', { text: 'Without violations', attrs: { value: '-' } }),
      ...VIOLATION_CODES.map((c) => el('option', { text: c, attrs: { value: c } })),
    ]);
    const text = el('input', {
      attrs: { type: 'search', placeholder: 'Filter: file, URL, client, session id', 'aria-label': 'Free text filter', id: 'filter-text' },
    });
    state.addEventListener('change', () => { this.filterState = state.value; this.invalidate(); });
    code.addEventListener('change', () => { this.filterCode = code.value; this.invalidate(); });
    text.addEventListener('input', () => { this.filterText = text.value.trim().toLowerCase(); this.invalidate(); });
    toolbar.append(el('h2', { text: 'Sessions' }), state, code, text, el('span', { class: 'shown' }));
  }

  private sortBy(key: SortKey): void {
    if (this.sortKey === key) this.sortDesc = !this.sortDesc;
    else {
      this.sortKey = key;
      this.sortDesc = key === 'violations' || key === 'rate' || key === 'progress';
    }
    this.updateSortIndicators();
    this.invalidate();
  }

  private updateSortIndicators(): void {
    for (const [key, b] of this.headers) {
      const on = key === this.sortKey;
      b.dataset.sort = on ? (this.sortDesc ? 'desc' : 'asc') : '';
      b.setAttribute('aria-sort', on ? (this.sortDesc ? 'descending' : 'ascending') : 'none');
    }
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private matches(s: SessionSummary): boolean {
    if (this.filterState === 'active') {
      if (!(s.state === 'open' || s.state === 'uploaded' || s.state === 'closing')) return false;
    } else if (this.filterState && s.state !== this.filterState) return false;
    if (this.filterCode === '*' && s.violations.length === 0) return false;
    if (this.filterCode === '-' && s.violations.length > 0) return false;
    if (this.filterCode && this.filterCode !== '*' && this.filterCode !== '-' &&
        !s.violations.includes(this.filterCode as SessionSummary['violations'][number])) return false;
    if (this.filterText) {
      const hay = `${s.id}\n${s.contentName ?? ''}\n${s.url}\n${s.client}`.toLowerCase();
      if (!hay.includes(this.filterText)) return false;
    }
    return true;
  }

  private compare(a: SessionSummary, b: SessionSummary): number {
    switch (this.sortKey) {
      case 'state': return a.state.localeCompare(b.state);
      case 'file': return fileLabel(a).localeCompare(fileLabel(b));
      case 'client': return a.client.localeCompare(b.client);
      case 'progress': return (percent(a.ackedBytes, a.totalLength) ?? -1) - (percent(b.ackedBytes, b.totalLength) ?? -1);
      case 'rate': return sessionRate(a) - sessionRate(b);
      case 'age': return b.firstSeen - a.firstSeen;
      case 'violations': return a.violations.length - b.violations.length;
    }
  }

  private refreshRows(): void {
    const rows: SessionSummary[] = [];
    for (const s of this.store.sessions.values()) if (this.matches(s)) rows.push(s);
    const dir = this.sortDesc ? -1 : 1;
    rows.sort((a, b) => dir * this.compare(a, b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.rows = rows;
  }

  private render(): void {
    const now = performance.now();
    if (this.dataDirty && now - this.lastResort >= RESORT_INTERVAL_MS) {
      this.dataDirty = false;
      this.lastResort = now;
      this.refreshRows();
    } else if (this.dataDirty) {
      this.schedule(); // re-sort a little later; draw current order with fresh values now
      for (let i = 0; i < this.rows.length; i++) this.rows[i] = this.store.sessions.get(this.rows[i]!.id) ?? this.rows[i]!;
    }
    const total = this.store.sessions.size;
    const capped = this.store.sessionsTotal > total ? ` (most recent of ${this.store.sessionsTotal.toLocaleString('en-US')} tracked)` : '';
    setText(this.shown, (this.rows.length === total ? `${total.toLocaleString('en-US')} session${total === 1 ? '' : 's'}`
      : `${this.rows.length.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} sessions`) + capped);
    this.empty.hidden = this.rows.length > 0;
    if (total > 0 && this.rows.length === 0) setText(this.empty, 'No session matches the filters.');
    else setText(this.empty, 'No sessions yet: waiting for BITS traffic through the gateway.');
    this.spacer.style.height = `${this.rows.length * ROW_HEIGHT}px`;

    const first = Math.max(0, Math.floor(this.body.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const visible = Math.ceil((this.body.clientHeight || 600) / ROW_HEIGHT) + 2 * OVERSCAN;
    const last = Math.min(this.rows.length, first + visible);
    const needed = last - first;
    while (this.pool.length < needed) this.pool.push(this.makeRow());
    const nowMs = this.store.now();
    for (let i = 0; i < this.pool.length; i++) {
      const refs = this.pool[i]!;
      const s = i < needed ? this.rows[first + i] : undefined;
      if (!s) {
        refs.root.hidden = true;
        continue;
      }
      refs.root.hidden = false;
      refs.root.style.transform = `translateY(${(first + i) * ROW_HEIGHT}px)`;
      this.fill(refs, s, nowMs);
    }
  }

  private makeRow(): RowRefs {
    const state = el('span', { class: 'badge' });
    const file = el('span', { class: 'file-name' });
    const url = el('span', { class: 'file-url' });
    const client = el('span', { class: 'mono' });
    const bar = el('span', { class: 'bar-fill' });
    const pct = el('span', { class: 'bar-text' });
    const size = el('span', { class: 'bar-size' });
    const rateEl = el('span', { class: 'num' });
    const ageEl = el('span', { class: 'num' });
    const viol = el('span', { class: 'viol-count' });
    const root = el('div', { class: 'row', attrs: { role: 'row', tabindex: '0' } }, [
      el('span', { class: 'td c-state' }, [state]),
      el('span', { class: 'td c-file' }, [file, url]),
      el('span', { class: 'td c-client' }, [client]),
      el('span', { class: 'td c-progress' }, [el('span', { class: 'bar' }, [bar]), pct, size]),
      el('span', { class: 'td c-rate' }, [rateEl]),
      el('span', { class: 'td c-age' }, [ageEl]),
      el('span', { class: 'td c-viol' }, [viol]),
    ]);
    this.body.append(root);
    return { root, state, file, url, client, bar, pct, size, rate: rateEl, age: ageEl, viol };
  }

  private fill(r: RowRefs, s: SessionSummary, now: number): void {
    r.root.dataset.sessionId = s.id;
    r.root.dataset.state = s.state;
    r.root.classList.toggle('selected', s.id === this.selected);
    r.root.classList.toggle('has-violations', s.violations.length > 0);
    setText(r.state, s.state);
    r.state.dataset.state = s.state;
    // A close that deleted a partial upload is not a success: mark the badge.
    r.state.classList.toggle('incomplete', s.state === 'closed' && !isCommitted(s));
    r.state.title = s.state === 'closed' && !isCommitted(s) ? 'closed before all bytes arrived: the partial upload was deleted' : '';
    setText(r.file, clean(fileLabel(s), 120));
    r.file.title = clean(s.contentName ?? s.url, 1000);
    setText(r.url, clean(s.id, 80));
    setText(r.client, clean(s.client, 60));
    const p = percent(s.ackedBytes, s.totalLength);
    r.bar.style.width = `${p ?? 0}%`;
    r.bar.dataset.done = p === 100 ? 'yes' : 'no';
    setText(r.pct, p === null ? '' : `${Math.floor(p)}%`);
    r.pct.title = `${s.ackedBytes.toLocaleString('en-US')} of ${s.totalLength === null ? '?' : s.totalLength.toLocaleString('en-US')} bytes acknowledged`;
    setText(r.size, `${bytes(s.ackedBytes)} / ${s.totalLength === null ? '?' : bytes(s.totalLength)}`);
    r.pct.dataset.percent = p === null ? '' : String(Math.floor(p));
    setText(r.rate, rate(sessionRate(s)));
    setText(r.age, age(now - s.firstSeen));
    setText(r.viol, s.violations.length ? String(s.violations.length) : '');
    r.viol.title = s.violations.join(', ');
  }
}
