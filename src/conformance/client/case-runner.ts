/**
 * Runs the client conformance suite inside the gateway, as its InjectionPolicy. Pure: no I/O,
 * time comes from the observations and from `tick(now)`.
 *
 * Theory of operation. Every new session (a Create-Session the server acknowledged with an
 * id) gets the next case not yet run, unless it is the restart of a case whose session the
 * gateway made the server "forget" (0x8020001F): a Create-Session from the same client
 * connection, or from the same client address for the same URL, joins that case. The case's
 * fault becomes an injection rule scoped to that one session (`session=ID`) in an
 * InjectionRegistry, which counts packets (`fragment#2`), remembers the acknowledged offset
 * (`range=server`) and the forgotten sessions. Every finished exchange of a case's sessions
 * (and the GET of its reply URL) is kept for the judge (judge.ts), and so are the tracker's
 * violations on them. A case is re-judged on every change: a fail is final at once; a pass
 * only once the client has been quiet for `settleMs` (a wrong move may still come); a
 * missing recovery becomes a fail after `caseTimeoutMs` of quiet, an incomplete at stop().
 */
import { InjectionRegistry, type InjectionDecision, type InjectionPolicy, type InjectionRequest } from '../../inject/registry.js';
import { parseInjectionRule } from '../../inject/rule-syntax.js';
import type { Observation } from '../../observation.js';
import { decodeExchange, sessionIdKey } from '../../protocol/index.js';
import type { Violation } from '../../sessions/events.js';
import { CLIENT_CASES, type ClientCase, type ClientCaseId } from './cases.js';
import { pathOf } from './client-view.js';
import { judgeCase, type Verdict } from './judge.js';

export interface CaseRunnerOptions {
  /** The cases to run, in suite order (default: all). */
  cases?: readonly ClientCaseId[];
  /** Upload-reply URLs start with this path (the `reply` case runs on one). Default `/reply/`. */
  replyPrefix?: string;
  /** Quiet time after which a passing case is final. Default 3 s. */
  settleMs?: number;
  /** Quiet time after which an expected move that did not come is a fail. Default 2 min. */
  caseTimeoutMs?: number;
}

export const CASE_RUNNER_DEFAULTS = { replyPrefix: '/reply/', settleMs: 3_000, caseTimeoutMs: 120_000 } as const;

export type CaseState = 'waiting' | 'running' | Verdict;

/** One case as the table, the JSON and the dashboard show it. */
export interface CaseStatus {
  id: ClientCaseId;
  fault: string;
  rule?: string;
  expected: string;
  reference: string;
  state: CaseState;
  /** The judge's one line, once there is a verdict (or the last pending reason). */
  reason?: string;
  /** Session ids as the client sent them: the assigned one, then restarts. */
  sessions: string[];
  url?: string;
  client?: string;
  faultFired: boolean;
  startedAt?: number;
  endedAt?: number;
}

interface RunningCase {
  status: CaseStatus;
  spec: ClientCase;
  keys: string[];
  exchanges: Observation[];
  violations: Violation[];
  lastActivity: number;
  /** For the restart link of `session-lost`: where the forgotten session came from. */
  origin?: { connectionId: number; client: string; path: string };
  lost: boolean;
}

/** Finished decisions remembered until their observation arrives (bounded). */
const MAX_PENDING_DECISIONS = 10_000;

export class ClientCaseRunner implements InjectionPolicy {
  private readonly registry = new InjectionRegistry();
  private readonly cases: RunningCase[];
  private readonly bySession = new Map<string, RunningCase>();
  private readonly decisions = new Map<number, InjectionDecision>();
  private readonly resultListeners = new Set<(s: CaseStatus) => void>();
  private readonly changeListeners = new Set<() => void>();
  private readonly noteListeners = new Set<(line: string) => void>();
  private readonly replyPrefix: string;
  private readonly settleMs: number;
  private readonly caseTimeoutMs: number;
  private stopped = false;

  constructor(options: CaseRunnerOptions = {}) {
    const wanted = options.cases ?? CLIENT_CASES.map((c) => c.id);
    this.cases = CLIENT_CASES.filter((c) => wanted.includes(c.id)).map((spec) => ({
      spec,
      status: {
        id: spec.id, fault: spec.fault, ...(spec.rule !== undefined && { rule: spec.rule }), expected: spec.expected,
        reference: spec.reference, state: 'waiting', sessions: [], faultFired: false,
      },
      keys: [],
      exchanges: [],
      violations: [],
      lastActivity: 0,
      lost: false,
    }));
    this.replyPrefix = options.replyPrefix ?? CASE_RUNNER_DEFAULTS.replyPrefix;
    this.settleMs = options.settleMs ?? CASE_RUNNER_DEFAULTS.settleMs;
    this.caseTimeoutMs = options.caseTimeoutMs ?? CASE_RUNNER_DEFAULTS.caseTimeoutMs;
  }

  /** Until a case's rule is in place the gateway need not ask (nor decode for asking). */
  idle(): boolean {
    return this.registry.idle();
  }

  decide(request: InjectionRequest): InjectionDecision | undefined {
    const d = this.registry.decide(request);
    if (d) {
      this.decisions.set(request.exchangeId, d);
      if (this.decisions.size > MAX_PENDING_DECISIONS) this.decisions.delete(this.decisions.keys().next().value!);
    }
    return d;
  }

  observe(raw: Observation): void {
    this.registry.observe(raw);
    const decision = this.decisions.get(raw.id);
    this.decisions.delete(raw.id);
    // Decoded before any copy below, so the copy shares the decoding every other reader of `raw` gets.
    const { request, ack } = decodeExchange(raw);
    // The gateway marks injected exchanges; the mark of our own decision stands in if it did not.
    const obs: Observation = raw.injected === undefined && decision
      ? { ...raw, injected: { id: decision.injectionId, rule: decision.rule.text, action: decision.rule.action.kind } }
      : raw;
    let target: RunningCase | undefined;
    if (request === null) {
      target = this.replyFetchOwner(obs);
    } else if (request.type === 'create-session') {
      if (obs.status !== undefined && obs.status >= 200 && obs.status < 300 && ack?.sessionId !== undefined) {
        target = this.newSession(obs, ack.sessionId);
      }
    } else if (request.sessionId !== undefined) {
      target = this.bySession.get(sessionIdKey(request.sessionId));
    }
    if (!target || !isOpen(target)) return;
    target.exchanges.push(obs);
    target.lastActivity = Math.max(target.lastActivity, obs.endedAt);
    if (obs.injected !== undefined && target.keys[0] === sessionKeyOf(obs)) {
      target.status.faultFired = true;
      if (obs.injected.action === 'forget-session') target.lost = true;
    }
    this.rejudge(target, obs.endedAt);
    this.changed();
  }

  /** A tracker violation: kept with the case whose session it names. */
  violation(v: Violation): void {
    if (v.sessionId === undefined) return;
    const c = this.bySession.get(sessionIdKey(v.sessionId));
    if (!c || !isOpen(c)) return;
    c.violations.push(v);
    this.rejudge(c, v.time);
  }

  /** Settles the cases that have been quiet long enough. Call it every second or so. */
  tick(now: number): void {
    for (const c of this.cases) if (c.status.state === 'running') this.rejudge(c, now);
  }

  /** The suite ends (Ctrl-C, or every case done): every case gets its verdict. */
  stop(now: number): void {
    this.stopped = true;
    for (const c of this.cases) {
      if (c.status.state === 'waiting') {
        const hint = c.spec.needs === 'reply' ? `: ${c.spec.needsHint}` : ': run the client once more';
        this.finish(c, 'incomplete', `no session was assigned this case${hint}`, now);
      } else if (c.status.state === 'running') {
        const j = judgeCase(this.evidence(c, 'stopped'));
        this.finish(c, j.verdict === 'pending' ? 'incomplete' : j.verdict, j.reason, now);
      }
    }
  }

  statuses(): CaseStatus[] {
    return this.cases.map((c) => ({ ...c.status, sessions: [...c.status.sessions] }));
  }

  /** Every case has its verdict. */
  get done(): boolean {
    return this.cases.every((c) => !isOpen(c));
  }

  /** Called once per case, when its verdict is final. */
  onResult(listener: (status: CaseStatus) => void): () => void {
    this.resultListeners.add(listener);
    return () => this.resultListeners.delete(listener);
  }

  /** Called after anything a live view shows changed. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Lines for the person running the suite (a session that got no case, and why). */
  onNote(listener: (line: string) => void): () => void {
    this.noteListeners.add(listener);
    return () => this.noteListeners.delete(listener);
  }

  private newSession(obs: Observation, sessionId: string): RunningCase | undefined {
    const key = sessionIdKey(sessionId);
    const known = this.bySession.get(key);
    if (known) return known;
    const path = pathOf(obs.url).split('?')[0]!;
    const restartOf = this.cases.find((c) => c.status.state === 'running' && c.lost && c.origin !== undefined &&
      (c.origin.connectionId === obs.connectionId || (c.origin.client === obs.client.address && c.origin.path === path)));
    if (restartOf) {
      this.bind(restartOf, key, sessionId);
      return restartOf;
    }
    if (this.stopped) return undefined;
    const isReply = path.startsWith(this.replyPrefix);
    const next = this.cases.find((c) => c.status.state === 'waiting' && (c.spec.needs !== 'reply' || isReply));
    if (!next) {
      const left = this.cases.filter((c) => c.status.state === 'waiting');
      if (left.length > 0) {
        this.note(`session ${sessionId} (${path.slice(0, 200)}) runs without a case: the cases left (${left.map((c) => c.spec.id).join(', ')}) need an upload to a URL under ${this.replyPrefix}`);
      }
      return undefined;
    }
    next.status.state = 'running';
    next.status.startedAt = obs.endedAt;
    next.status.url = path.slice(0, 2048);
    next.status.client = obs.client.address;
    next.origin = { connectionId: obs.connectionId, client: obs.client.address, path };
    this.bind(next, key, sessionId);
    if (next.spec.rule !== undefined) this.registry.add(parseInjectionRule(`${next.spec.rule} session=${sessionId}`), 'check-client');
    return next;
  }

  private bind(c: RunningCase, key: string, sessionId: string): void {
    c.keys.push(key);
    c.status.sessions.push(sessionId);
    this.bySession.set(key, c);
  }

  /** A non-BITS request (the reply GET) belongs to the running case whose final Ack named its URL. */
  private replyFetchOwner(obs: Observation): RunningCase | undefined {
    const path = pathOf(obs.url);
    for (const c of this.cases) {
      if (c.status.state !== 'running') continue;
      for (const e of c.exchanges) {
        const reply = decodeExchange(e).ack?.replyUrl;
        if (reply !== undefined && pathOf(reply) === path) return c;
      }
    }
    return undefined;
  }

  private rejudge(c: RunningCase, now: number): void {
    if (c.status.state !== 'running') return;
    const quiet = now - c.lastActivity;
    const j = judgeCase(this.evidence(c, quiet >= this.caseTimeoutMs ? 'timeout' : false));
    c.status.reason = j.reason;
    if (j.verdict === 'fail') this.finish(c, 'fail', j.reason, now);
    else if (j.verdict !== 'pending' && quiet >= this.settleMs) this.finish(c, j.verdict, j.reason, now);
  }

  private evidence(c: RunningCase, settled: false | 'timeout' | 'stopped') {
    const exchanges = [...c.exchanges].sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
    return { case: c.spec, sessions: c.status.sessions, exchanges, violations: c.violations, settled };
  }

  private finish(c: RunningCase, verdict: Verdict, reason: string, now: number): void {
    c.status.state = verdict;
    c.status.reason = reason;
    c.status.endedAt = now;
    const snapshot = { ...c.status, sessions: [...c.status.sessions] };
    for (const l of this.resultListeners) l(snapshot);
    this.changed();
  }

  private note(line: string): void {
    for (const l of this.noteListeners) l(line);
  }

  private changed(): void {
    for (const l of this.changeListeners) l();
  }
}

function isOpen(c: RunningCase): boolean {
  return c.status.state === 'waiting' || c.status.state === 'running';
}

function sessionKeyOf(obs: Observation): string | undefined {
  const sid = decodeExchange(obs).request?.sessionId;
  return sid === undefined ? undefined : sessionIdKey(sid);
}
