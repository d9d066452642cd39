/**
 * The live set of injection rules and the one place that decides whether a request gets a
 * fault. Pure: time and randomness are injected, no I/O. The gateway consults it (through the
 * InjectionPolicy interface) only when a policy is configured.
 *
 * State kept per registry, all bounded:
 * - request counts per (session or connection, packet type) for `#N` selectors;
 * - the offset each session's last Ack acknowledged, for `range=server`;
 * - the sessions a `forget-session` rule has forgotten.
 */
import type { Observation } from '../observation.js';
import { type BitsRequest, decodeExchange, ERROR_CODES, sessionIdKey } from '../protocol/index.js';
import { compileUrlGlob, normalizeAddress, requestPath, ruleSessionKeys } from './match.js';
import type { InjectionAction, InjectionRule } from './rule.js';

export type InjectionOrigin = 'cli' | 'config' | 'control' | 'check-client';

export interface ActiveInjection { id: string; rule: InjectionRule; origin: InjectionOrigin; fired: number; spent: boolean; addedAt: number }

/** What the gateway asks before forwarding a request (only when a policy is configured). */
export interface InjectionRequest {
  exchangeId: number;
  connectionId: number;
  clientAddress: string;
  url: string;
  /** From the one decoder; null when it is not a BITS packet. */
  packet: BitsRequest | null;
  now: number;
}

export interface InjectionDecision { injectionId: string; rule: InjectionRule; action: InjectionAction }

/** Anything the gateway can consult: the registry, or check-client's case runner. */
export interface InjectionPolicy {
  decide(request: InjectionRequest): InjectionDecision | undefined;
  /** True while no rule could fire: the gateway then neither decodes the request nor calls decide(). */
  idle?(): boolean;
  /** Told about every finished observation (the gateway's sink path), e.g. to learn a session's acknowledged range for `range=server`. */
  observe?(obs: Observation): void;
}

/** Bounds on the per-session memory (oldest entries dropped first). */
const MAX_TRACKED = 10_000;

interface Compiled { entry: ActiveInjection; url?: RegExp; client?: string; sessions?: readonly string[] }

export class InjectionRegistry implements InjectionPolicy {
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly rules: Compiled[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly counts = new Map<string, number>();
  private readonly acked = new Map<string, number>();
  private readonly forgotten = new Map<string, string>();
  private nextId = 1;

  constructor(options: { random?: () => number; now?: () => number } = {}) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  add(rule: InjectionRule, origin: InjectionOrigin): ActiveInjection {
    const entry: ActiveInjection = { id: `inj-${this.nextId++}`, rule, origin, fired: 0, spent: false, addedAt: this.now() };
    const c: Compiled = { entry };
    if (rule.url !== undefined) c.url = compileUrlGlob(rule.url);
    if (rule.client !== undefined) c.client = normalizeAddress(rule.client);
    if (rule.session !== undefined) c.sessions = ruleSessionKeys(rule.session);
    this.rules.push(c);
    this.changed();
    return entry;
  }

  remove(id: string): boolean {
    const i = this.rules.findIndex((c) => c.entry.id === id);
    if (i < 0) return false;
    this.rules.splice(i, 1);
    // Removing a forget-session rule lets its sessions through again.
    for (const [key, owner] of this.forgotten) if (owner === id) this.forgotten.delete(key);
    this.changed();
    return true;
  }

  list(): ActiveInjection[] {
    return this.rules.map((c) => ({ ...c.entry }));
  }

  /** No rules (forgotten sessions belong to rules, so none either): decide() would answer undefined and count nothing. */
  idle(): boolean {
    return this.rules.length === 0;
  }

  decide(request: InjectionRequest): InjectionDecision | undefined {
    const packet = request.packet;
    const sid = packet?.sessionId !== undefined ? sessionIdKey(packet.sessionId) : undefined;

    if (sid !== undefined && this.forgotten.size > 0) {
      const owner = this.forgotten.get(sid);
      const c = owner !== undefined ? this.rules.find((r) => r.entry.id === owner) : undefined;
      if (c) return { injectionId: c.entry.id, rule: c.entry.rule, action: this.resolve(c.entry.rule.action, sid) };
    }
    if (this.rules.length === 0) return undefined;

    const type = packet !== null && packet.type !== 'unknown' && packet.type !== 'ack' ? packet.type : undefined;
    let nth = 0;
    if (type !== undefined) {
      const key = `${sid !== undefined ? 's:' + sid : 'c:' + request.connectionId} ${type}`;
      nth = (this.counts.get(key) ?? 0) + 1;
      bounded(this.counts, key, nth);
    }

    let path: string | undefined;
    let client: string | undefined;
    for (const c of this.rules) {
      const { entry } = c;
      const rule = entry.rule;
      if (entry.spent) continue;
      if (rule.packet !== 'any' && rule.packet !== type) continue;
      if (rule.nth !== undefined && rule.nth !== nth) continue;
      if (c.url) {
        path ??= requestPath(request.url);
        if (!c.url.test(path)) continue;
      }
      if (c.client !== undefined && c.client !== (client ??= normalizeAddress(request.clientAddress))) continue;
      if (c.sessions !== undefined && (sid === undefined || !c.sessions.includes(sid))) continue;
      // Forgetting needs a session to forget; without one the rule does not apply.
      if (rule.action.kind === 'forget-session' && sid === undefined) continue;
      if (rule.probability !== undefined && rule.probability < 1 && !(this.random() < rule.probability)) continue;

      entry.fired++;
      if (rule.times !== undefined && entry.fired >= rule.times) entry.spent = true;
      if (rule.action.kind === 'forget-session') bounded(this.forgotten, sid!, entry.id);
      this.changed();
      return { injectionId: entry.id, rule, action: this.resolve(rule.action, sid) };
    }
    return undefined;
  }

  observe(obs: Observation): void {
    if (obs.injected !== undefined || obs.status === undefined || obs.responseHeaders === undefined) return;
    const { request, ack } = decodeExchange(obs);
    if (ack?.receivedOffset === undefined) return;
    // The request's id first: the later requests decide() sees carry it, whatever the Ack echoed.
    const sid = request?.sessionId ?? ack.sessionId;
    if (sid !== undefined) bounded(this.acked, sessionIdKey(sid), ack.receivedOffset);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `range=server` (or a 416 with no range) becomes the range the session's last Ack acknowledged. */
  private resolve(action: InjectionAction, sid: string | undefined): InjectionAction {
    if (action.kind === 'forget-session') return { kind: 'answer', status: 500, code: ERROR_CODES.BG_E_SESSION_NOT_FOUND };
    if (action.kind !== 'answer') return action;
    if (action.range === 'server' || (action.range === undefined && action.status === 416)) {
      const offset = sid !== undefined ? this.acked.get(sid) ?? 0 : 0;
      return { ...action, range: { start: 0, end: offset - 1 } };
    }
    return action;
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}

function bounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_TRACKED) map.delete(map.keys().next().value!);
}
