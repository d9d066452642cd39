/**
 * The few lines `bitsgate demo` prints at the end: how many sessions of each kind it
 * produced, what the dashboard should show for them, and where to look.
 */
import { MISBEHAVE_DESCRIPTIONS } from '../client/index.js';
import { DEMO_ROLES, type DemoReport, type DemoRole } from './traffic.js';

export interface SummaryContext {
  baseUrl: URL;
  replyPrefix: string;
  /** Where the dashboard is, as far as the demo knows. */
  dashboardHint: string;
}

function expectation(role: DemoRole): string {
  if (role === 'upload') return 'well-behaved plain upload, expect state closed';
  if (role === 'upload-reply') return 'well-behaved upload-reply, reply fetched, expect state closed';
  if (role === 'cancel') return 'Cancel-Session after the first fragment (legal), expect state cancelled';
  return `${MISBEHAVE_DESCRIPTIONS[role].does}, expect ${MISBEHAVE_DESCRIPTIONS[role].expect}`;
}

export function formatDemoSummary(report: DemoReport, ctx: SummaryContext): string[] {
  const lines = [
    `${report.uploads} sessions in ${(report.elapsedMs / 1000).toFixed(1)} s through ${ctx.baseUrl.origin} (run ${report.runId}):`,
  ];
  const width = Math.max(...DEMO_ROLES.map((r) => r.length));
  for (const role of DEMO_ROLES) {
    const t = report.byRole[role];
    if (!t) continue;
    const failed = t.failures ? ` (${t.failures} failed)` : '';
    lines.push(`  ${role.padEnd(width)} ${String(t.uploads).padStart(4)}${failed}  ${expectation(role)}`);
  }
  if (report.missing.length) {
    lines.push(`  not run (too few uploads; raise --rounds or --duration): ${report.missing.join(', ')}`);
  }
  // A server without upload-reply under the prefix makes the reply roles plain uploads.
  const reply = report.byRole['upload-reply'];
  const skip = report.byRole['skip-reply'];
  const replyJobs = (reply?.uploads ?? 0) + (skip?.uploads ?? 0);
  const replyUrls = (reply?.replyUrls ?? 0) + (skip?.replyUrls ?? 0);
  if (replyJobs > 0 && replyUrls === 0) {
    lines.push(
      `  note: no BITS-Reply-URL came back under ${ctx.replyPrefix}: the server is not in upload-reply mode there ` +
        `(bitsgate serve --reply-mode sha256 --reply-prefix ${ctx.replyPrefix}), so close-before-reply cannot appear`,
    );
  }
  lines.push(`  watch it: ${ctx.dashboardHint}`);
  return lines;
}
