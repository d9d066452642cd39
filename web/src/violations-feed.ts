/** The violations feed: newest first, each with its code, explanation and session link. */
import type { SeqViolation } from '../../src/dashboard/snapshot-source.js';
import { clear, el, setText } from './dom.js';
import { clean, clock } from './format.js';
import type { Store } from './store.js';

const MAX_ITEMS = 200;

export function sessionHref(id: string): string {
  return `#/session/${encodeURIComponent(id)}`;
}

export class ViolationsFeed {
  private topSeq = -1;
  private frame = 0;
  private full = true;

  constructor(private readonly list: HTMLOListElement, private readonly count: HTMLElement, private readonly store: Store) {
    store.on('reset', () => { this.full = true; this.schedule(); });
    store.on('violations', () => this.schedule());
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    const all = this.store.violations;
    if (this.full) {
      this.full = false;
      clear(this.list);
      this.topSeq = -1;
    }
    const fresh: SeqViolation[] = [];
    for (const v of all) {
      if (v.seq <= this.topSeq) break;
      fresh.push(v);
      if (fresh.length >= MAX_ITEMS) break;
    }
    // `fresh` is newest first: insert in reverse so the newest ends on top.
    for (let i = fresh.length - 1; i >= 0; i--) this.list.prepend(this.item(fresh[i]!));
    if (fresh.length) this.topSeq = fresh[0]!.seq;
    while (this.list.childElementCount > MAX_ITEMS) this.list.lastElementChild!.remove();
    let total = 0;
    for (const n of Object.values(this.store.violationsByCode)) total += n;
    setText(this.count, total.toLocaleString('en-US'));
    if (this.list.childElementCount === 0) {
      this.list.append(el('li', { class: 'empty', text: 'No violations. Invalid closes and other protocol errors show up here.' }));
    } else {
      this.list.querySelector(':scope > li.empty')?.remove();
    }
  }

  private item(v: SeqViolation): HTMLLIElement {
    const link = v.sessionId === undefined ? null
      : el('a', { class: 'session-link', text: `session ${clean(v.sessionId, 60)}`, attrs: { href: sessionHref(v.sessionId) } });
    return el('li', { class: 'violation', data: { seq: String(v.seq), code: v.code, severity: v.severity } }, [
      el('div', { class: 'v-head' }, [
        el('span', { class: `code sev-${v.severity}`, text: v.code }),
        el('time', { class: 'v-time', text: clock(v.time), attrs: { datetime: new Date(v.time).toISOString() } }),
      ]),
      el('p', { class: 'v-message', text: clean(v.message, 400) }),
      el('p', { class: 'v-explain', text: clean(v.explain, 600) }),
      link,
    ]);
  }
}
