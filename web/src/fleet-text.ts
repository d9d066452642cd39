/** The fleet pill's text (pure, so tests need no DOM). */
import { int } from './format.js';

export interface FleetStats {
  node: string;
  connected: boolean;
  backlog: number;
  backlogLimit: number;
  lost: number;
}

export function fleetText(f: FleetStats): string {
  const lost = f.lost > 0 ? `, ${int(f.lost)} not shared (backlog full)` : '';
  return f.connected
    ? `fleet: ${f.node}${lost}`
    : `fleet: Redis unreachable, tracking locally; backlog ${int(f.backlog)} of ${int(f.backlogLimit)}${lost}`;
}

