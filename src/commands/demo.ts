import { parseArgs } from 'node:util';
import { MISBEHAVE_DESCRIPTIONS, MISBEHAVE_MODES } from '../client/index.js';
import { formatDemoSummary } from '../demo/summary.js';
import { DEMO_DEFAULTS, runDemo } from '../demo/traffic.js';
// config.js only: the demo needs the prefix rule, not the server.
import { parseBytes, parseDuration, parseHttpUrl, parseInteger, UsageError } from '../util/option-values.js';
import type { Command } from './command.js';
import { parsePrefixOption } from './prefix-option.js';

const modes = MISBEHAVE_MODES.map((m) => `    ${m.padEnd(16)} ${MISBEHAVE_DESCRIPTIONS[m].does} (${MISBEHAVE_DESCRIPTIONS[m].expect})`).join('\n');

const help = `bitsgate demo [options]: generate BITS traffic through the gateway

Runs concurrent upload clients against the gateway so that every kind of session and
invalid close appears on the dashboard. The first uploads of a run are one of each kind,
the rest mostly well-behaved:
    upload           plain upload under --upload-prefix, closed after the last byte
    upload-reply     upload-reply job under --reply-prefix, fetches its reply, then closes
    cancel           Cancel-Session after the first fragment (legal: the server deletes it)
${modes}
Made for the default 'npm start' stack, whose embedded server runs upload-reply under
/reply/ only (bitsgate serve --reply-mode sha256 --reply-prefix /reply/). Against another
server, point --reply-prefix at its upload-reply directory. Files are small and random;
names carry a run id and the role (e.g. /uploads/demo-1a2b3c4d-0002-close-early.bin), so
re-runs never collide. Stops after --clients x --rounds uploads or --duration, whichever
comes first (Ctrl-C stops early). Exit code 0 when no upload failed unexpectedly.

Options:
  --gateway URL          gateway base URL (default http://127.0.0.1:8080)
  --clients N            concurrent clients, 1-50 (default ${DEMO_DEFAULTS.clients})
  --rounds N             uploads per client, 1-1000 (default ${DEMO_DEFAULTS.rounds})
  --duration D           stop starting uploads after D (default ${DEMO_DEFAULTS.durationMs / 1000}s; max 1h)
  --max-file BYTES       largest generated file (default 256k; max 64m)
  --reply-prefix PATH    upload-reply directory on the server (default ${DEMO_DEFAULTS.replyPrefix})
  --upload-prefix PATH   plain upload directory (default ${DEMO_DEFAULTS.uploadPrefix})
  --dashboard URL        where the dashboard is, for the closing hint (default http://127.0.0.1:8081/)
  -q, --quiet            no line per upload, only the summary
  -h, --help             this text`;

export const command: Command = {
  name: 'demo',
  summary: 'generate well-behaved and misbehaving BITS uploads through the gateway',
  help,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        gateway: { type: 'string' },
        clients: { type: 'string' },
        rounds: { type: 'string' },
        duration: { type: 'string' },
        'max-file': { type: 'string' },
        'reply-prefix': { type: 'string' },
        'upload-prefix': { type: 'string' },
        dashboard: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
      },
    });
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const baseUrl = parseHttpUrl('--gateway', values.gateway ?? 'http://127.0.0.1:8080');
    const dashboard = values.dashboard !== undefined ? parseHttpUrl('--dashboard', values.dashboard) : undefined;
    const clients = values.clients !== undefined ? parseInteger('--clients', values.clients, 1, 50) : DEMO_DEFAULTS.clients;
    const rounds = values.rounds !== undefined ? parseInteger('--rounds', values.rounds, 1, 1000) : DEMO_DEFAULTS.rounds;
    const durationMs = values.duration !== undefined ? parseDuration('--duration', values.duration) : DEMO_DEFAULTS.durationMs;
    if (durationMs > 3_600_000) throw new UsageError('--duration: at most 1h');
    const maxFileBytes = values['max-file'] !== undefined ? parseBytes('--max-file', values['max-file']) : undefined;
    if (maxFileBytes !== undefined && (maxFileBytes < 2 || maxFileBytes > 64 * 1024 * 1024)) {
      throw new UsageError('--max-file: from 2 bytes to 64m (close-early and gap need two bytes)');
    }
    const replyPrefix = values['reply-prefix'] !== undefined ? parsePrefixOption('--reply-prefix', values['reply-prefix']) : DEMO_DEFAULTS.replyPrefix;
    const uploadPrefix = values['upload-prefix'] !== undefined ? parsePrefixOption('--upload-prefix', values['upload-prefix']) : DEMO_DEFAULTS.uploadPrefix;

    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    let report;
    try {
      report = await runDemo({
        baseUrl,
        clients,
        rounds,
        durationMs,
        maxFileBytes,
        replyPrefix,
        uploadPrefix,
        signal: stop.signal,
        onUpload: values.quiet ? undefined : (line) => process.stderr.write(`bitsgate demo: ${line}\n`),
      });
    } finally {
      process.off('SIGINT', onSignal);
    }
    const dashboardHint = dashboard
      ? `the dashboard at ${dashboard.href}`
      : "the dashboard of 'npm start' (default http://127.0.0.1:8081/; use the URL with ?token= it printed)";
    const lines = formatDemoSummary(report, { baseUrl, replyPrefix, dashboardHint });
    process.stderr.write(lines.map((l) => `bitsgate demo: ${l}\n`).join(''));
    return report.uploads > 0 && report.failures === 0 ? 0 : 1;
  },
};
