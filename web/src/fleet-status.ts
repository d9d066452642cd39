/**
 * The fleet pill (bitsgate --fleet): which node this dashboard belongs to, and while Redis
 * is unreachable that the gateway tracks locally, its backlog and any loss. Polled from
 * /api/stats (`fleet`), absent outside a fleet. Text only, set through textContent.
 */
import { setText } from './dom.js';
import { type FleetStats, fleetText } from './fleet-text.js';

export function startFleetStatus(pill: HTMLElement, intervalMs = 5000): void {
  const poll = () => {
    fetch('/api/stats', { credentials: 'same-origin' }).then((r) => (r.ok ? r.json() : undefined)).then((stats: unknown) => {
      const f = (stats as { fleet?: FleetStats } | undefined)?.fleet;
      if (!f) return;
      pill.hidden = false;
      pill.dataset.state = f.connected ? 'up' : 'down';
      setText(pill, fleetText(f));
    }, () => {});
  };
  poll();
  window.setInterval(poll, intervalMs);
}
