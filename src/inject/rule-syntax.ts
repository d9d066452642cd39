/**
 * The `--inject` grammar: `SELECTOR[#N]: ACTION [SCOPE...]`, whitespace-separated words.
 *
 *   SELECTOR  ping | create | fragment | close | cancel | any
 *   ACTION    status=NNN [code=HRESULT] [context=N] [range=server|N|S-E]
 *             | drop-ack | reset-after=N|N% | delay=N(ms|s) | bandwidth=N(B|KB|KiB|MB|MiB)/s
 *             | forget-session
 *   SCOPE     url=GLOB client=IP session=ID times=N p=0.25|25%
 *
 * Errors name the rule and the 0-based column of the offending word, so a typo in a long
 * command line or config file is found at once.
 *
 * Units are the grammar's own, not those of src/util/option-values.ts (README, "Fault
 * injection"): a bare delay is milliseconds (a bare CLI duration is seconds), KB and MB are
 * decimal (CLI byte sizes are binary). Rules already written must keep their meaning, and
 * that module is edge code (it checks host names with node:net) the pure core cannot import.
 */
import { formatErrorContext, formatHresult } from '../protocol/encode.js';
import { parseErrorCode, parseErrorContext } from '../protocol/index.js';
import { type InjectionAction, type InjectionRule, type PacketSelector, SELECTOR_WORDS, selectorWord } from './rule.js';

export class InjectionRuleError extends Error {
  readonly rule: string;
  /** 0-based column in `rule`. */
  readonly position: number;
  constructor(rule: string, position: number, reason: string) {
    super(`${reason} at column ${position}`);
    this.name = 'InjectionRuleError';
    this.rule = rule;
    this.position = position;
  }
}

export const INJECTION_GRAMMAR_HELP = `Fault injection: --inject "SELECTOR[#N]: ACTION [SCOPE...]" (repeatable)
  SELECTOR  ping | create | fragment | close | cancel | any
            #N: only the Nth request of that type in its session (per connection without one)
  ACTION    status=NNN [code=HRESULT] [context=N] [range=server|N|S-E]
                                answer without forwarding (a BITS Ack; 416 defaults to range=server,
                                the offset the session's last Ack acknowledged)
            drop-ack            forward, then close the client connection without the answer
            reset-after=N|N%    reset the client connection after N bytes / N% of the body
            delay=2s|500ms      wait before forwarding (a bare number is ms)
            bandwidth=64KiB/s   throttle the request body towards the server (KB = 1000 B, KiB = 1024 B)
            forget-session      from then on answer 500 + 0x8020001F for that session
  SCOPE     url=/uploads/*  (* within a segment, ** across)  client=10.0.0.5
            session={GUID}  times=1  p=0.25 (or p=25%)
  examples  --inject "fragment#3: status=503 code=0x80004005"  --inject "close: drop-ack times=1"`;

interface Word { text: string; at: number }

const MAX_DELAY_MS = 10 * 60_000;

/** Parses one rule; throws InjectionRuleError naming the column of the first bad word. */
export function parseInjectionRule(text: string): InjectionRule {
  // Rules come from command lines, config files and the control API, and are printed back.
  const bad = /[^\x20-\x7e\t]/.exec(text);
  if (bad) throw new InjectionRuleError(text, bad.index, `character U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} is not allowed in a rule`);
  const colon = text.indexOf(':');
  if (colon < 0) throw new InjectionRuleError(text, text.length, "expected 'SELECTOR: ACTION' (missing ':')");
  const head = words(text.slice(0, colon), 0);
  if (head.length === 0) throw new InjectionRuleError(text, 0, `missing selector (one of ${Object.keys(SELECTOR_WORDS).join(', ')})`);
  if (head.length > 1) throw new InjectionRuleError(text, head[1]!.at, `unexpected '${head[1]!.text}' before ':'`);
  const { packet, nth } = parseSelector(text, head[0]!);

  const body = words(text.slice(colon + 1), colon + 1);
  if (body.length === 0) throw new InjectionRuleError(text, text.length, 'missing action');
  const fields = new Map<string, Word & { value: string }>();
  for (const w of body) {
    const eq = w.text.indexOf('=');
    const key = eq < 0 ? w.text : w.text.slice(0, eq);
    const value = eq < 0 ? '' : w.text.slice(eq + 1);
    if (!KNOWN_KEYS.has(key)) throw new InjectionRuleError(text, w.at, `unknown key '${clip(key)}'`);
    if (FLAG_KEYS.has(key) ? eq >= 0 : eq < 0) {
      throw new InjectionRuleError(text, w.at, FLAG_KEYS.has(key) ? `'${key}' takes no value` : `'${key}' needs a value (${key}=...)`);
    }
    if (fields.has(key)) throw new InjectionRuleError(text, w.at, `'${key}' given twice`);
    fields.set(key, { ...w, value });
  }

  const actionKeys = [...fields.values()].filter((f) => ACTION_KEYS.has(keyOf(f.text)));
  if (actionKeys.length === 0) throw new InjectionRuleError(text, body[0]!.at, `missing action (one of ${[...ACTION_KEYS].join(', ')})`);
  if (actionKeys.length > 1) throw new InjectionRuleError(text, actionKeys[1]!.at, `a rule has one action; '${keyOf(actionKeys[0]!.text)}' already given`);
  const action = parseAction(text, keyOf(actionKeys[0]!.text), fields);

  const rule: InjectionRule = { text: '', packet, action };
  if (nth !== undefined) rule.nth = nth;
  const url = fields.get('url');
  if (url) {
    if (!url.value.startsWith('/')) throw new InjectionRuleError(text, url.at + 4, "url must be a path glob starting with '/'");
    rule.url = url.value;
  }
  const client = fields.get('client');
  if (client) rule.client = client.value;
  const session = fields.get('session');
  if (session) rule.session = session.value;
  const times = fields.get('times');
  if (times) rule.times = positiveInt(text, times, 'times');
  const p = fields.get('p');
  if (p) rule.probability = parseProbability(text, p);
  rule.text = formatInjectionRule(rule);
  return rule;
}

/** The canonical text of a rule (what `rule.text` holds). */
function formatInjectionRule(rule: Omit<InjectionRule, 'text'>): string {
  const out = [selectorWord(rule.packet) + (rule.nth !== undefined ? `#${rule.nth}` : '') + ':', formatAction(rule.action)];
  if (rule.url !== undefined) out.push(`url=${rule.url}`);
  if (rule.client !== undefined) out.push(`client=${rule.client}`);
  if (rule.session !== undefined) out.push(`session=${rule.session}`);
  if (rule.times !== undefined) out.push(`times=${rule.times}`);
  if (rule.probability !== undefined) out.push(`p=${rule.probability}`);
  return out.join(' ');
}

function formatAction(a: InjectionAction): string {
  switch (a.kind) {
    case 'answer': {
      const out = [`status=${a.status}`];
      if (a.code !== undefined) out.push(`code=${formatHresult(a.code)}`);
      if (a.context !== undefined) out.push(`context=${formatErrorContext(a.context)}`);
      if (a.range === 'server') out.push('range=server');
      else if (a.range) out.push(a.range.start === 0 ? `range=${a.range.end + 1}` : `range=${a.range.start}-${a.range.end}`);
      return out.join(' ');
    }
    case 'drop-ack': return 'drop-ack';
    case 'forget-session': return 'forget-session';
    case 'reset-after': return a.percent !== undefined ? `reset-after=${a.percent}%` : `reset-after=${a.bytes ?? 0}`;
    case 'delay': return `delay=${a.ms}ms`;
    case 'bandwidth': return `bandwidth=${a.bytesPerSecond}B/s`;
  }
}

const ACTION_KEYS: ReadonlySet<string> = new Set(['status', 'drop-ack', 'reset-after', 'delay', 'bandwidth', 'forget-session']);
const ANSWER_KEYS: ReadonlySet<string> = new Set(['code', 'context', 'range']);
const SCOPE_KEYS: ReadonlySet<string> = new Set(['url', 'client', 'session', 'times', 'p']);
const FLAG_KEYS: ReadonlySet<string> = new Set(['drop-ack', 'forget-session']);
const KNOWN_KEYS: ReadonlySet<string> = new Set([...ACTION_KEYS, ...ANSWER_KEYS, ...SCOPE_KEYS]);

function parseAction(text: string, kind: string, fields: Map<string, Word & { value: string }>): InjectionAction {
  if (kind !== 'status') {
    for (const k of ANSWER_KEYS) {
      const f = fields.get(k);
      if (f) throw new InjectionRuleError(text, f.at, `'${k}' only goes with status=`);
    }
  }
  switch (kind) {
    case 'drop-ack': return { kind: 'drop-ack' };
    case 'forget-session': return { kind: 'forget-session' };
    case 'status': {
      const f = fields.get('status')!;
      const status = /^[1-5][0-9]{2}$/.test(f.value) ? Number(f.value) : NaN;
      if (!(status >= 200)) throw new InjectionRuleError(text, valueAt(f), `status must be an HTTP status 200-599, not '${clip(f.value)}'`);
      const a: InjectionAction & { kind: 'answer' } = { kind: 'answer', status };
      const code = fields.get('code');
      if (code) {
        const r = parseErrorCode(code.value);
        if (!r.ok) throw new InjectionRuleError(text, valueAt(code), r.reason);
        a.code = r.value.value;
      }
      const context = fields.get('context');
      if (context) {
        const r = parseErrorContext(context.value);
        if (!r.ok) throw new InjectionRuleError(text, valueAt(context), r.reason);
        a.context = r.value;
      }
      const range = fields.get('range');
      if (range) a.range = parseRange(text, range);
      return a;
    }
    case 'reset-after': {
      const f = fields.get('reset-after')!;
      const m = /^([0-9]{1,15})(%?)$/.exec(f.value);
      if (!m) throw new InjectionRuleError(text, valueAt(f), `reset-after takes a byte count or a percentage, not '${clip(f.value)}'`);
      const n = Number(m[1]);
      if (m[2]) {
        if (n > 100) throw new InjectionRuleError(text, valueAt(f), 'reset-after percentage must be 0-100');
        return { kind: 'reset-after', percent: n };
      }
      return { kind: 'reset-after', bytes: n };
    }
    case 'delay': {
      const f = fields.get('delay')!;
      const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s)?$/.exec(f.value);
      const ms = m ? Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : 1)) : NaN;
      if (!m || !(ms <= MAX_DELAY_MS)) throw new InjectionRuleError(text, valueAt(f), `delay takes a duration up to 10 minutes like 2s or 500ms, not '${clip(f.value)}'`);
      return { kind: 'delay', ms };
    }
    default: {
      const f = fields.get('bandwidth')!;
      const m = /^([0-9]+(?:\.[0-9]+)?)(B|KB|KiB|MB|MiB)\/s$/i.exec(f.value);
      const unit = m ? UNITS[m[2]!.toLowerCase()]! : 0;
      const bps = m ? Math.floor(Number(m[1]) * unit) : 0;
      if (bps < 1) throw new InjectionRuleError(text, valueAt(f), `bandwidth takes a rate like 64KiB/s (units B, KB, KiB, MB, MiB), not '${clip(f.value)}'`);
      return { kind: 'bandwidth', bytesPerSecond: bps };
    }
  }
}

const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1000, kib: 1024, mb: 1_000_000, mib: 1024 * 1024 };

function parseSelector(text: string, w: Word): { packet: PacketSelector; nth?: number } {
  const hash = w.text.indexOf('#');
  const word = hash < 0 ? w.text : w.text.slice(0, hash);
  const packet = SELECTOR_WORDS[word.toLowerCase()];
  if (packet === undefined || !Object.hasOwn(SELECTOR_WORDS, word.toLowerCase())) {
    throw new InjectionRuleError(text, w.at, `unknown selector '${clip(word)}' (one of ${Object.keys(SELECTOR_WORDS).join(', ')})`);
  }
  if (hash < 0) return { packet };
  const n = w.text.slice(hash + 1);
  if (!/^[1-9][0-9]{0,8}$/.test(n)) throw new InjectionRuleError(text, w.at + hash + 1, `#N takes a request number from 1, not '${clip(n)}'`);
  return { packet, nth: Number(n) };
}

function parseRange(text: string, f: Word & { value: string }): 'server' | { start: number; end: number } {
  if (f.value === 'server') return 'server';
  const one = /^([0-9]{1,15})$/.exec(f.value);
  if (one) return { start: 0, end: Number(one[1]) - 1 };
  const two = /^([0-9]{1,15})-([0-9]{1,15})$/.exec(f.value);
  if (two && Number(two[2]) >= Number(two[1])) return { start: Number(two[1]), end: Number(two[2]) };
  throw new InjectionRuleError(text, valueAt(f), `range takes server, an offset N or S-E, not '${clip(f.value)}'`);
}

function parseProbability(text: string, f: Word & { value: string }): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(%?)$/.exec(f.value);
  const p = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(p > 0 && p <= 1)) throw new InjectionRuleError(text, valueAt(f), `p takes a probability in (0, 1] or (0%, 100%], not '${clip(f.value)}'`);
  return p;
}

function positiveInt(text: string, f: Word & { value: string }, key: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(f.value)) throw new InjectionRuleError(text, valueAt(f), `${key} takes a whole number from 1, not '${clip(f.value)}'`);
  return Number(f.value);
}

function words(s: string, offset: number): Word[] {
  const out: Word[] = [];
  const re = /\S+/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out.push({ text: m[0], at: offset + m.index });
  return out;
}

function keyOf(word: string): string {
  const eq = word.indexOf('=');
  return eq < 0 ? word : word.slice(0, eq);
}

function valueAt(f: Word): number {
  return f.at + f.text.indexOf('=') + 1;
}

/** Rule text is untrusted (a config file, the control API): keep messages short and printable. */
function clip(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 40 ? printable.slice(0, 40) + '...' : printable;
}
