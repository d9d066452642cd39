/** Runs `bitsgate check-server` in-process with --json and returns its exit code and report. */
import { command } from '../../../src/commands/check-server.js';
import type { CheckServerReport } from '../../../src/conformance/server/index.js';
import { captureOutput } from '../../command-output.js';

export interface CheckRun {
  code: number;
  report: CheckServerReport;
  err: string;
}

export async function runCheck(args: string[]): Promise<CheckRun> {
  const r = await captureOutput(() => command.run([...args, '--json']));
  return { code: r.code, report: JSON.parse(r.out) as CheckServerReport, err: r.err };
}

/** `{ name: outcome }` of every case, in order. */
export function outcomes(report: CheckServerReport): [string, string][] {
  return report.cases.map((c) => [c.name, c.outcome]);
}

export function deviatingCases(report: CheckServerReport): string[] {
  return report.cases.filter((c) => c.outcome === 'deviation').map((c) => c.name);
}
