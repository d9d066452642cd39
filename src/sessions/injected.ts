/**
 * Faults the gateway injected (Observation.injected, `--inject`). The rule for verdicts: what
 * the gateway injected is never held against the client or the server.
 * - An exchange the gateway answered or reset before forwarding never reached the server: it
 *   leaves the session as it was (lifecycle.ts INJECTED_ANSWER) and raises nothing.
 * - A forwarded exchange (drop-ack, reset-after, delay, bandwidth) went through the server:
 *   its answer, when there was one, moves the session as usual; the lifecycle table already
 *   reads a Close or Fragment resent after a lost answer as a legal retry.
 * The client's reaction (its next packet) is judged like any other packet.
 */
import type { InjectedFault, Observation } from '../observation.js';
import type { BitsEvent } from './events.js';

/** The server never saw this exchange: the gateway answered it itself, or reset before forwarding. */
export function neverForwarded(obs: Observation): boolean {
  return obs.injected !== undefined && (obs.responder === 'gateway' || obs.upstreamConnectionId === undefined);
}

/** The `fault-injected` event of an injected exchange (seq stamped by the tracker). */
export function faultInjectedEvent(obs: Observation, sessionId: string | undefined): BitsEvent {
  const mark = obs.injected!;
  const event: BitsEvent = {
    seq: 0, type: 'fault-injected', time: obs.endedAt, exchange: obs.id, injectionId: mark.id, rule: mark.rule, action: mark.action,
  };
  if (sessionId !== undefined) event.sessionId = sessionId;
  return event;
}

const ACTIONS: ReadonlySet<string> = new Set<InjectedFault['action']>(['answer', 'drop-ack', 'reset-after', 'delay', 'bandwidth', 'forget-session']);

/** Reads the `injected` mark back from a recording, a fleet stream or a bitsgate HAR (untrusted JSON). */
export function parseInjectedMark(v: unknown): InjectedFault | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string' || typeof o.rule !== 'string' || typeof o.action !== 'string' || !ACTIONS.has(o.action)) return undefined;
  return { id: o.id, rule: o.rule, action: o.action as InjectedFault['action'] };
}
