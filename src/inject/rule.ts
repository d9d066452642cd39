/**
 * A fault-injection rule: which requests it applies to and what the gateway does instead of
 * (or on top of) relaying them. Pure data; parsed by rule-syntax.ts, matched by registry.ts,
 * applied by src/gateway/fault-injector.ts.
 */
import type { PacketType } from '../protocol/index.js';

/** Which requests a rule applies to: a BITS packet type (never 'ack'), or any request. */
export type PacketSelector = Exclude<PacketType, 'ack'> | 'any';

export type InjectionAction =
  /** Answer without forwarding. `range` is the byte range the server says it holds (BITS-Received-Content-Range = end + 1). */
  | { kind: 'answer'; status: number; code?: number; context?: number; range?: 'server' | { start: number; end: number } }
  /** Forward, let the upstream answer, then close the client connection unanswered (the lost Ack). */
  | { kind: 'drop-ack' }
  /** Reset the client connection after N bytes / N% of the request body were relayed. */
  | { kind: 'reset-after'; bytes?: number; percent?: number }
  /** Wait before forwarding. */
  | { kind: 'delay'; ms: number }
  /** Relay the request body towards the upstream at most this fast. */
  | { kind: 'bandwidth'; bytesPerSecond: number }
  /** From now on answer 500 + 0x8020001F for that session id, never forwarding (this request included). */
  | { kind: 'forget-session' };

export interface InjectionRule {
  /** Canonical text: parseInjectionRule(rule.text) gives the same rule back. */
  text: string;
  packet: PacketSelector;
  /** `fragment#3`: only the 3rd request of this packet type in its session (1-based; per client connection for packets with no session id). */
  nth?: number;
  action: InjectionAction;
  /** Glob on the request path: `*` within a segment, `**` across segments. */
  url?: string;
  /** Client IP address. */
  client?: string;
  /** Session id (GUID, braces optional, case-insensitive). */
  session?: string;
  /** Fires at most this many times, then the rule is spent. */
  times?: number;
  /** 0 < p <= 1. */
  probability?: number;
}

/** Selector words of the grammar and the packet types they name. */
export const SELECTOR_WORDS: Readonly<Record<string, PacketSelector>> = {
  ping: 'ping',
  create: 'create-session',
  fragment: 'fragment',
  close: 'close-session',
  cancel: 'cancel-session',
  any: 'any',
};

export function selectorWord(packet: PacketSelector): string {
  for (const [word, p] of Object.entries(SELECTOR_WORDS)) if (p === packet) return word;
  return packet;
}
