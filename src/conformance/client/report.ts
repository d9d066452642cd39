/**
 * What `bitsgate check-client` prints: a line per case as its verdict comes, a summary table
 * at the end, and the `--json` document. Pure formatting of the runner's CaseStatus list.
 * Session ids, URLs and reasons come from traffic: control characters are replaced so no
 * client can write escape sequences to the terminal.
 */
import type { CaseStatus } from './case-runner.js';
import { CLIENT_CASE_IDS } from './cases.js';
import type { Verdict } from './judge.js';

export const REPORT_FORMAT = 'bitsgate-check-client';
export const REPORT_VERSION = 1;

export interface ClientCaseReport {
  id: string;
  verdict: Verdict;
  reason: string;
  fault: string;
  /** The injection rule (without its session scope), null for the cases that inject nothing. */
  rule: string | null;
  expected: string;
  reference: string;
  sessions: string[];
  url: string | null;
  client: string | null;
}

export interface ClientSuiteReport {
  format: typeof REPORT_FORMAT;
  version: typeof REPORT_VERSION;
  /** Every case passed (the exit code is 0 exactly then). */
  passed: boolean;
  counts: Record<Verdict, number>;
  cases: ClientCaseReport[];
}

const ID_WIDTH = Math.max(...CLIENT_CASE_IDS.map((id) => id.length));
const LABEL: Readonly<Record<string, string>> = { pass: 'PASS', fail: 'FAIL', incomplete: 'INCOMPLETE', waiting: 'WAITING', running: 'RUNNING' };

/** Terminal-safe text: no control characters (C0, DEL, C1). */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** `PASS        baseline           a clean upload, then closed after the last Ack`. */
export function resultLine(s: CaseStatus): string {
  const label = (LABEL[s.state] ?? s.state).padEnd(10);
  const where = s.sessions.length ? ` [session ${s.sessions.join(' -> ')}]` : '';
  return printable(`${label} ${s.id.padEnd(ID_WIDTH)}  ${s.reason ?? ''}${where}`);
}

export function buildReport(statuses: CaseStatus[]): ClientSuiteReport {
  const counts: Record<Verdict, number> = { pass: 0, fail: 0, incomplete: 0 };
  const cases = statuses.map((s): ClientCaseReport => {
    const verdict: Verdict = s.state === 'pass' || s.state === 'fail' ? s.state : 'incomplete';
    counts[verdict]++;
    return {
      id: s.id, verdict, reason: s.reason ?? 'not run', fault: s.fault, rule: s.rule ?? null, expected: s.expected,
      reference: s.reference, sessions: s.sessions, url: s.url ?? null, client: s.client ?? null,
    };
  });
  return { format: REPORT_FORMAT, version: REPORT_VERSION, passed: counts.fail === 0 && counts.incomplete === 0, counts, cases };
}

/** The summary printed at the end: one line per case, then the counts. */
export function summaryLines(report: ClientSuiteReport): string[] {
  const lines = ['', 'Client conformance summary:'];
  for (const c of report.cases) {
    lines.push(printable(`  ${(LABEL[c.verdict] ?? c.verdict).padEnd(10)} ${c.id.padEnd(ID_WIDTH)}  expected: ${c.expected} (${c.reference})`));
    lines.push(printable(`  ${''.padEnd(10)} ${''.padEnd(ID_WIDTH)}  seen: ${c.reason}`));
  }
  const { pass, fail, incomplete } = report.counts;
  lines.push('', `${pass} passed, ${fail} failed, ${incomplete} incomplete of ${report.cases.length} cases: ${report.passed ? 'the client recovers as a Windows client does' : 'NOT conformant'}`);
  return lines;
}
