/**
 * The two renderings of an analysis: a readable text report and the stable JSON shape
 * `{ sessions: [{id,state,url,totalLength,ackedBytes,violations}], violations: [{code,severity,sessionId,message}] }`.
 */
import { VIOLATION_CATALOG } from '../sessions/catalog.js';
import type { Severity, SessionSummary, Violation, ViolationCode } from '../sessions/events.js';
import type { ReplayResult } from '../sessions/replay.js';
import { printable } from './printable.js';

export interface JsonReport {
  sessions: Array<{ id: string; state: string; url: string; totalLength: number | null; ackedBytes: number; violations: ViolationCode[] }>;
  violations: Array<{ code: ViolationCode; severity: Severity; sessionId: string | null; message: string }>;
}

export function jsonReport(r: Pick<ReplayResult, 'sessions' | 'violations'>): JsonReport {
  return {
    sessions: r.sessions.map((s) => ({
      id: s.id, state: s.state, url: s.url, totalLength: s.totalLength, ackedBytes: s.ackedBytes, violations: s.violations.slice(),
    })),
    violations: r.violations.map((v) => ({ code: v.code, severity: v.severity, sessionId: v.sessionId ?? null, message: v.message })),
  };
}

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

export function textReport(r: ReplayResult, source: string): string {
  const lines: string[] = [];
  const bySeverity = { error: 0, warning: 0, info: 0 };
  for (const v of r.violations) bySeverity[v.severity]++;
  lines.push(`${printable(source)}: ${r.observations} observations, ${r.sessions.length} sessions, ` +
    `${r.violations.length} violations (${bySeverity.error} errors, ${bySeverity.warning} warnings, ${bySeverity.info} info)`);
  if (r.malformed.length) lines.push(`${r.malformed.length} malformed lines skipped (see stderr)`);
  if (r.injected) lines.push(`${r.injected} exchanges with a fault injected by the gateway (--inject): never held against the client or the server`);
  for (const w of r.warnings) lines.push(`note: line ${w.line}: ${printable(w.message)}`);

  lines.push('', 'Sessions');
  if (r.sessions.length === 0) lines.push('  (none)');
  for (const s of r.sessions) lines.push(...sessionLines(s));

  lines.push('', 'Violations');
  if (r.violations.length === 0) lines.push('  (none)');
  const groups = new Map<ViolationCode, Violation[]>();
  for (const v of r.violations) {
    const g = groups.get(v.code);
    if (g) g.push(v);
    else groups.set(v.code, [v]);
  }
  const ordered = [...groups].sort(([a, va], [b, vb]) =>
    worst(va) - worst(vb) || vb.length - va.length || a.localeCompare(b));
  for (const [code, list] of ordered) {
    const info = VIOLATION_CATALOG[code];
    lines.push(`  ${code} (${severities(list)}) x${list.length}: ${info.title}`);
    lines.push(`    why: ${info.explain}`);
    const shown = list.slice(0, 20);
    for (const v of shown) {
      lines.push(`    - ${v.sessionId !== undefined ? `[${printable(v.sessionId, 60)}] ` : ''}${printable(v.message, 300)} (exchange ${v.exchanges.join(', ')})`);
    }
    if (list.length > shown.length) lines.push(`    ... and ${list.length - shown.length} more`);
  }
  return lines.join('\n');
}

function sessionLines(s: SessionSummary): string[] {
  const total = s.totalLength === null ? '?' : String(s.totalLength);
  const pct = s.totalLength ? ` ${(100 * s.ackedBytes / s.totalLength).toFixed(s.ackedBytes === s.totalLength ? 0 : 1)}%` : '';
  const flags = [s.adopted ? 'adopted' : '', s.replyUrl !== undefined ? (s.replyFetched ? 'reply fetched' : 'reply NOT fetched') : '']
    .filter(Boolean).join(', ');
  const out = [
    `  ${s.state.padEnd(9)} ${`${s.ackedBytes}/${total}${pct}`.padEnd(26)} ${printable(s.url, 80)}  ${printable(s.id, 60)}${flags ? `  (${flags})` : ''}`,
  ];
  if (s.violations.length) out.push(`            violations: ${countCodes(s.violations)}`);
  if (s.errorCodes.length) out.push(`            errors: ${s.errorCodes.map((c) => printable(c, 60)).join(', ')}`);
  return out;
}

function countCodes(codes: readonly string[]): string {
  const m = new Map<string, number>();
  for (const c of codes) m.set(c, (m.get(c) ?? 0) + 1);
  return [...m].map(([c, n]) => (n > 1 ? `${c} x${n}` : c)).join(', ');
}

function worst(list: Violation[]): number {
  let w = 2;
  for (const v of list) w = Math.min(w, SEVERITY_ORDER[v.severity]);
  return w;
}

function severities(list: Violation[]): string {
  return [...new Set(list.map((v) => v.severity))].sort((a, b) => SEVERITY_ORDER[a] - SEVERITY_ORDER[b]).join('/');
}
