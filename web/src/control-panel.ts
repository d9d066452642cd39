/**
 * `--control`: the "Injections" panel and the session detail's fault buttons. Shown only when
 * the server's snapshot says control is enabled. Writes carry the control token as
 * `Authorization: Bearer`; the token is asked for once and kept in sessionStorage (this tab
 * only), never in a cookie. Rules and messages come from the server (and rules may name
 * sessions from traffic): all text goes in through textContent (dom.ts).
 */
import type { InjectionView, RuleErrorBody } from '../../src/dashboard/messages.js';
import { clear, el, setText } from './dom.js';
import { clean } from './format.js';
import { isGuid, SESSION_FAULTS } from './session-faults.js';

const TOKEN_KEY = 'bitsgate-control-token';
function readToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    /* storage disabled: the token lives until the page reloads */
  }
}

export class ControlPanel {
  private enabled = false;
  private token: string | null = readToken();
  private readonly list = el('ul', { class: 'injection-list', attrs: { id: 'injection-list' } });
  private readonly message = el('p', { class: 'control-message', attrs: { id: 'control-message', role: 'status' } });
  private readonly ruleInput = el('input', {
    attrs: { id: 'injection-rule', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'fragment#2: status=503', 'aria-label': 'New injection rule' },
  });
  private readonly panelTokenForm: HTMLFormElement;
  /** The open session view's own prompt and message line (the drawer covers the panel). */
  private session: { form: HTMLFormElement; message: HTMLElement } | undefined;
  /** A write waiting for the token the user is asked for. */
  private pending: { method: string; path: string; body?: string; done?: () => void } | undefined;

  constructor(private readonly root: HTMLElement) {
    const addForm = el('form', { class: 'control-add', attrs: { id: 'injection-add-form' } }, [
      this.ruleInput, el('button', { class: 'btn small', text: 'Add rule', attrs: { type: 'submit', id: 'injection-add' } }),
    ]);
    addForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const rule = this.ruleInput.value.trim();
      if (rule) this.addRule(rule, () => { this.ruleInput.value = ''; });
    });
    clear(root);
    this.panelTokenForm = this.tokenForm('control-token');
    root.append(el('h2', { text: 'Injections' }), this.panelTokenForm, this.list, addForm, this.message);
    this.renderToken();
  }

  /** A prompt for the control token; once given it is kept in sessionStorage and every prompt hides. */
  private tokenForm(id?: string): HTMLFormElement {
    const input = el('input', {
      attrs: { type: 'password', autocomplete: 'off', placeholder: 'control token (printed at start)', 'aria-label': 'Control token', ...(id && { id }) },
    });
    const form = el('form', { class: 'control-token' }, [
      input, el('button', { class: 'btn small', text: 'Use token', attrs: { type: 'submit', ...(id && { id: `${id}-save` }) } }),
    ]);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      this.token = t;
      storeToken(t);
      input.value = '';
      this.renderToken();
      const next = this.pending;
      this.pending = undefined;
      if (next) void this.write(next.method, next.path, next.body, next.done);
    });
    return form;
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** From each snapshot: `control` present means the gateway runs with --control. */
  setState(control: { injections: InjectionView[] } | undefined): void {
    this.enabled = control !== undefined;
    this.root.hidden = !this.enabled;
    for (const n of document.querySelectorAll<HTMLElement>('.session-control')) n.hidden = !this.enabled;
    if (control) this.render(control.injections);
  }

  render(injections: InjectionView[]): void {
    clear(this.list);
    if (injections.length === 0) this.list.append(el('li', { class: 'muted', text: 'No rules: traffic is forwarded untouched.' }));
    for (const inj of injections) {
      const remove = el('button', { class: 'btn small', text: 'Remove', attrs: { type: 'button', 'aria-label': `Remove rule ${clean(inj.rule, 200)}` } });
      remove.addEventListener('click', () => void this.write('DELETE', `/api/injections/${encodeURIComponent(inj.id)}`));
      this.list.append(el('li', { class: inj.spent ? 'injection spent' : 'injection', data: { injectionId: inj.id } }, [
        el('code', { class: 'injection-rule', text: clean(inj.rule, 500) }),
        el('span', { class: 'muted injection-meta', text: `${clean(inj.origin, 20)} · fired ${inj.fired}${inj.spent ? ' · spent' : ''}` }),
        remove,
      ]));
    }
  }

  /** The fault buttons of one session's detail view (hidden while control is off). */
  sessionActions(sessionId: string): HTMLElement | null {
    if (!isGuid(sessionId)) return null;
    const wrap = el('div', { class: 'session-control' }, [el('h3', { text: 'Live control' })]);
    for (const f of SESSION_FAULTS) {
      const b = el('button', { class: 'btn', text: f.label, attrs: { type: 'button' }, data: { fault: f.action } });
      b.addEventListener('click', () => this.addRule(f.rule(sessionId)));
      wrap.append(b);
    }
    // The drawer covers the panel: it asks for the token and reports results itself.
    this.session = { form: this.tokenForm(), message: el('p', { class: 'control-message', attrs: { role: 'status' } }) };
    wrap.append(this.session.form, this.session.message);
    wrap.hidden = !this.enabled;
    this.renderToken();
    return wrap;
  }

  private addRule(rule: string, done?: () => void): void {
    void this.write('POST', '/api/injections', JSON.stringify({ rule }), done);
  }

  private renderToken(): void {
    this.panelTokenForm.hidden = this.token !== null;
    if (this.session) this.session.form.hidden = this.token !== null;
  }

  private say(text: string, kind: 'ok' | 'error'): void {
    for (const m of [this.message, this.session?.message]) {
      if (!m) continue;
      m.dataset.kind = kind;
      setText(m, text);
    }
  }

  private async write(method: string, path: string, body?: string, done?: () => void): Promise<void> {
    if (this.token === null) {
      this.pending = { method, path, body, done };
      this.renderToken();
      this.say('Enter the control token to change traffic.', 'error');
      return;
    }
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        credentials: 'omit', // the Bearer token is the only credential a write may carry
        headers: { Authorization: `Bearer ${this.token}`, ...(body !== undefined && { 'Content-Type': 'application/json' }) },
        ...(body !== undefined && { body }),
      });
    } catch {
      this.say('The gateway did not answer.', 'error');
      return;
    }
    if (res.status === 401) {
      this.token = null;
      storeToken(null);
      this.pending = { method, path, body, done };
      this.renderToken();
      this.say('Wrong or missing control token: enter the one bitsgate printed at start.', 'error');
      return;
    }
    if (res.ok) {
      // The new list arrives on the event stream, for every open dashboard alike.
      this.say(method === 'DELETE' ? 'Rule removed.' : 'Rule added.', 'ok');
      done?.();
      return;
    }
    let err: Partial<RuleErrorBody> = {};
    try {
      err = (await res.json()) as Partial<RuleErrorBody>;
    } catch {
      /* no JSON body */
    }
    // A rule error's message names its column already.
    this.say(`${res.status}: ${clean(err.error ?? res.statusText, 300)}`, 'error');
  }
}
