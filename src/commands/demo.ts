import { parseArgs } from 'node:util';
import { runDemo } from '../demo/traffic.js';
import { MISBEHAVE_MODES } from '../client/index.js';
import { parseDuration, parseHttpUrl, parseInteger, parseBytes, UsageError } from '../util/option-values.js';
import type { Command } from './command.js';

const help = `bitsgate demo [options]: generate BITS traffic through the gateway

Runs several concurrent upload clients against the gateway: most are well-behaved, and
(with 11 or more clients) one per misbehaviour: ${MISBEHAVE_MODES.join(', ')}.
Uploads go to <gateway>/demo/<name>.bin with small random files.
What it needs: a gateway (or server) at the URL; 'skip-reply' only shows its violation
when the server runs with --reply-mode sha256 (npm start's embedded server does, when
configured so); otherwise that client simply behaves.

Options:
  --gateway URL      base URL (default http://127.0.0.1:8080)
  --clients N        concurrent clients, 1-50 (default 12)
  --duration D       how long to generate traffic (default 15s; max 1h)
  --max-uploads N    per client (default 50)
  --max-file BYTES   largest generated file (default 256k)
  -h, --help         this text`;

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
        duration: { type: 'string' },
        'max-uploads': { type: 'string' },
        'max-file': { type: 'string' },
      },
    });
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const baseUrl = parseHttpUrl('--gateway', values.gateway ?? 'http://127.0.0.1:8080');
    if (!baseUrl.pathname.endsWith('/')) baseUrl.pathname += '/';
    const clients = values.clients !== undefined ? parseInteger('--clients', values.clients, 1, 50) : 12;
    const durationMs = values.duration !== undefined ? parseDuration('--duration', values.duration) : 15_000;
    if (durationMs > 3_600_000) throw new UsageError('--duration: at most 1h');
    const report = await runDemo({
      baseUrl,
      clients,
      durationMs,
      maxUploadsPerClient: values['max-uploads'] !== undefined ? parseInteger('--max-uploads', values['max-uploads'], 1, 10_000) : undefined,
      maxFileBytes: values['max-file'] !== undefined ? parseBytes('--max-file', values['max-file']) : undefined,
      onUpload: (line) => process.stderr.write(`bitsgate demo: ${line}\n`),
    });
    const roles = Object.entries(report.byRole).map(([role, t]) => `${role} ${t.uploads}${t.failures ? ` (${t.failures} failed)` : ''}`);
    process.stderr.write(`bitsgate demo: ${report.uploads} uploads to ${baseUrl.href}: ${roles.join(', ')}\n`);
    return report.uploads > 0 && report.failures < report.uploads ? 0 : 1;
  },
};
