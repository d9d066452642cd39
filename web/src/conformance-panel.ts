/**
 * The Conformance panel (`bitsgate check-client`): one row per case of the suite with its
 * state, what was expected and what the judge saw. Hidden until the gateway sends a
 * `conformance` message; redrawn whole from each (a handful of rows). Everything from the
 * gateway, which quotes traffic (URLs, session ids), goes in as text.
 */
import type { ConformanceMessage } from '../../src/dashboard/messages.js';
import { clear, el, setText } from './dom.js';
import { clean } from './format.js';

const STATE_LABEL: Readonly<Record<string, string>> = {
  waiting: 'waiting', running: 'running', pass: 'pass', fail: 'FAIL', incomplete: 'incomplete',
};

export class ConformancePanel {
  constructor(private readonly root: HTMLElement, private readonly body: HTMLElement, private readonly summary: HTMLElement) {}

  render(msg: ConformanceMessage): void {
    this.root.hidden = false;
    clear(this.body);
    let pass = 0;
    let fail = 0;
    for (const c of msg.cases) {
      if (c.state === 'pass') pass++;
      if (c.state === 'fail') fail++;
      const state = el('span', { class: 'conf-state', text: STATE_LABEL[c.state] ?? clean(c.state), data: { state: c.state } });
      const seen = [c.reason ?? (c.state === 'waiting' ? 'waiting for a new session' : ''), c.url ? `on ${c.url}` : ''].filter(Boolean).join(' · ');
      this.body.append(el('tr', { data: { case: c.id } }, [
        el('td', { class: 'mono', text: clean(c.id) }),
        el('td', {}, [state]),
        el('td', { text: clean(c.fault) }),
        el('td', { text: `${clean(c.expected, 400)} (${clean(c.reference)})` }),
        el('td', { class: 'conf-seen', text: clean(seen, 600) }),
      ]));
    }
    setText(this.summary, `${pass} passed, ${fail} failed of ${msg.cases.length}${msg.done ? ' · done' : ''}`);
  }
}
