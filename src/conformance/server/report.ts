/**
 * How `bitsgate check-server` shows its verdicts: one terminal line per case as it runs
 * (plus an indented line per deviation and note), a summary, and the `--json` document.
 * Text from the server (header values) is already quoted by the judges; here every line is
 * also stripped of control characters, so a hostile server cannot forge terminal output.
 */
import type { CaseVerdict, Outcome } from './verdict.js';

const LABEL: Readonly<Record<Outcome, string>> = {
  pass: 'PASS',
  deviation: 'DEVIATION',
  'not-applicable': 'N/A',
};

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

function clean(text: string): string {
  return text.replace(CONTROL, '?');
}

/** `PASS       fragment-gap                        §4` and its detail lines. */
export function caseLines(v: CaseVerdict): string[] {
  const lines = [`${LABEL[v.outcome].padEnd(10)} ${v.name.padEnd(34)} ${v.section}`];
  for (const d of v.deviations) lines.push(`           - ${clean(d)}`);
  for (const n of v.notes) lines.push(`           ${v.outcome === 'not-applicable' && n.startsWith('not applicable') ? '' : 'note: '}${clean(n)}`);
  return lines;
}

export interface RunSummary {
  pass: number;
  deviation: number;
  notApplicable: number;
}

export function summarize(verdicts: readonly CaseVerdict[]): RunSummary {
  return {
    pass: verdicts.filter((v) => v.outcome === 'pass').length,
    deviation: verdicts.filter((v) => v.outcome === 'deviation').length,
    notApplicable: verdicts.filter((v) => v.outcome === 'not-applicable').length,
  };
}

export function summaryLine(s: RunSummary): string {
  return `${s.pass} passed, ${s.deviation} with deviations, ${s.notApplicable} not applicable`;
}

/** The `--json` document (one object, stable field names). */
export interface CheckServerReport {
  url: string;
  /** Every upload went under this URL; nothing else was written. */
  prefix: string;
  replyUrl?: string;
  cases: CaseVerdict[];
  summary: RunSummary;
  /** Sessions the cleanup could not cancel (their ids); empty when every session ended. */
  leftOpen: string[];
}

export function jsonReport(r: CheckServerReport): string {
  return JSON.stringify(r, null, 2) + '\n';
}
