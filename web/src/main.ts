/** Entry point of the dashboard UI: wires the store, the link and the views. */
import type { ServerMessage } from '../../src/dashboard/messages.js';
import { ControlPanel } from './control-panel.js';
import { startFleetStatus } from './fleet-status.js';
import { ConformancePanel } from './conformance-panel.js';
import { Connection, type LinkState } from './connection.js';
import { byId, el, setText } from './dom.js';
import { int, rate } from './format.js';
import { OverviewCharts } from './overview-charts.js';
import { SessionDetailView } from './session-detail.js';
import { SessionsTable } from './sessions-table.js';
import { Store } from './store.js';
import { ViolationsFeed } from './violations-feed.js';

const store = new Store();

// Header counters.
const counterEls = new Map<string, HTMLElement>();
const countersRoot = byId('counters');
for (const [key, label] of [
  ['active', 'Active'], ['completed', 'Completed'], ['failed', 'Failed'], ['invalidCloses', 'Invalid closes'], ['rate', 'Throughput'],
] as const) {
  const value = el('span', { class: 'counter-value', text: '0', data: { counter: key } });
  counterEls.set(key, value);
  countersRoot.append(el('div', { class: `counter counter-${key}` }, [value, el('span', { class: 'counter-label', text: label })]));
}
let countersFrame = 0;
function renderCounters(): void {
  if (countersFrame) return;
  countersFrame = requestAnimationFrame(() => {
    countersFrame = 0;
    const c = store.counts();
    setText(counterEls.get('active')!, int(c.active));
    setText(counterEls.get('completed')!, int(c.completed));
    setText(counterEls.get('failed')!, int(c.failed));
    setText(counterEls.get('invalidCloses')!, int(c.invalidCloses));
    setText(counterEls.get('rate')!, rate(store.bytesPerSecond()) === '—' ? '0 B/s' : rate(store.bytesPerSecond()));
    counterEls.get('invalidCloses')!.parentElement!.classList.toggle('alert', c.invalidCloses > 0);
  });
}
store.on('reset', renderCounters);
store.on('counters', renderCounters);
window.setInterval(renderCounters, 1000);

// Overview charts (throughput, sessions by state, violations by code), hideable.
const overview = byId('overview');
new OverviewCharts(byId('overview-charts'), store);
const chartsBtn = byId<HTMLButtonElement>('toggle-charts');
chartsBtn.addEventListener('click', () => {
  const charts = byId('overview-charts');
  charts.hidden = !charts.hidden;
  chartsBtn.setAttribute('aria-expanded', String(!charts.hidden));
  setText(chartsBtn, charts.hidden ? 'Show charts' : 'Hide charts');
  overview.classList.toggle('collapsed', charts.hidden);
});

// Views.
const table = new SessionsTable(byId('sessions-table'), byId('toolbar'), store, (id) => {
  location.hash = `#/session/${encodeURIComponent(id)}`;
});
store.on('reset', () => table.invalidate());
store.on('sessions', () => table.invalidate());
new ViolationsFeed(byId<HTMLOListElement>('violations-feed'), byId('violation-count'), store);
// --control only: hidden until a snapshot says the gateway accepts live injection rules.
const control = new ControlPanel(byId('injections'));
const detail = new SessionDetailView(byId('drawer'), store, () => {
  history.replaceState(null, '', location.pathname + location.search);
  route();
}, (id) => control.sessionActions(id));

function route(): void {
  const m = /^#\/session\/(.+)$/.exec(location.hash);
  let id: string | undefined;
  if (m) {
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      id = undefined;
    }
  }
  table.select(id);
  if (id === undefined) detail.hide();
  else if (id !== detail.openId) void detail.show(id);
}
window.addEventListener('hashchange', route);
route();

// The Conformance panel: shown only while a suite (bitsgate check-client) feeds it.
const conformance = new ConformancePanel(byId('conformance'), byId('conformance-rows'), byId('conformance-summary'));

// Link state: the pill, the banner and the pause button.
const pill = byId('conn-pill');
const banner = byId('banner');
const pauseBtn = byId<HTMLButtonElement>('pause');
startFleetStatus(byId('fleet-pill'));
let retryAt = 0;
let bannerTimer = 0;

function showBanner(text: string, kind: string): void {
  banner.hidden = false;
  banner.dataset.kind = kind;
  setText(banner, text);
}

function onState(state: LinkState, d: { attempt: number; retryInMs?: number }): void {
  pill.dataset.state = state;
  setText(pill, state === 'live' ? 'live' : state === 'paused' ? 'paused' : state === 'connecting' ? 'connecting' : 'reconnecting');
  window.clearInterval(bannerTimer);
  if (state === 'live') {
    banner.hidden = true;
  } else if (state === 'paused') {
    showBanner('Live stream paused. The gateway keeps inspecting; press Resume to catch up.', 'paused');
  } else if (state === 'reconnecting') {
    retryAt = Date.now() + (d.retryInMs ?? 0);
    let unauthorized = false;
    const tick = () => {
      const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      showBanner(unauthorized
        ? 'Not authorized: open the dashboard URL that bitsgate printed at start (it carries ?token=).'
        : `Connection to the gateway lost. Reconnecting${d.retryInMs ? ` in ${s}s` : ''} (attempt ${d.attempt})…`, 'lost');
    };
    tick();
    bannerTimer = window.setInterval(tick, 500);
    // A browser cannot see why a WebSocket handshake failed; the API can tell a lost token.
    if (d.attempt >= 2) {
      fetch('/api/stats', { credentials: 'same-origin' }).then((r) => {
        unauthorized = r.status === 401;
        tick();
      }, () => {});
    }
  }
}

const connection = new Connection({
  onMessage(msg: ServerMessage) {
    switch (msg.type) {
      case 'snapshot':
        store.applySnapshot(msg);
        control.setState(msg.control);
        break;
      case 'injections':
        if (control.isEnabled) control.render(msg.injections);
        break;
      case 'events':
        store.applyEvents(msg.events);
        break;
      case 'resync':
        showBanner('This browser fell behind the event stream; reloading the current state.', 'info');
        window.setTimeout(() => { if (pill.dataset.state === 'live') banner.hidden = true; }, 3000);
        break;
      case 'heartbeat':
        break;
      case 'conformance':
        conformance.render(msg);
        break;
    }
  },
  onState,
  resumePoint: () => ({ seq: store.lastSeq, instance: store.instance }),
});

pauseBtn.addEventListener('click', () => {
  if (connection.isPaused) {
    connection.resume();
    setText(pauseBtn, 'Pause');
    pauseBtn.setAttribute('aria-pressed', 'false');
  } else {
    connection.pause();
    setText(pauseBtn, 'Resume');
    pauseBtn.setAttribute('aria-pressed', 'true');
  }
});

connection.start();
