import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { jsonReport, textReport } from '../analyze/report.js';
import { printable } from '../analyze/printable.js';
import { replay } from '../sessions/replay.js';
import { TRACKER_DEFAULTS } from '../sessions/tracker.js';
import { parseDuration, parseInteger, UsageError } from '../util/option-values.js';
import type { Command } from './command.js';

const HELP = `bitsgate analyze: replay a recording through the protocol core and report sessions and violations

Usage:
  bitsgate analyze FILE.ndjson [--json] [--max-sessions N] [--session-timeout DURATION]

FILE is a recording written by 'bitsgate --record FILE' (NDJSON, one observation per line).
Malformed lines are reported on stderr with their line number and skipped.

Options:
  --json                    print one JSON object:
                            {"sessions":[{"id","state","url","totalLength","ackedBytes","violations"}],
                             "violations":[{"code","severity","sessionId","message"}]}
  --max-sessions N          sessions kept while replaying (default ${TRACKER_DEFAULTS.maxSessions})
  --session-timeout D       idle time after which a Close counts as after expiry (default 14d)
  -h, --help                this help

Exit status: 0 when the file was analyzed (whatever it contains), 2 on a usage error or an unreadable file.`;

export const command: Command = {
  name: 'analyze',
  summary: 'replay a recorded NDJSON file and report sessions and protocol violations',
  help: HELP,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        'max-sessions': { type: 'string' },
        'session-timeout': { type: 'string' },
      },
    });
    if (positionals.length !== 1) throw new UsageError(positionals.length ? 'expected exactly one FILE' : 'missing FILE.ndjson');
    const file = positionals[0]!;
    const maxSessions = values['max-sessions'] !== undefined ? parseInteger('--max-sessions', values['max-sessions'], 1) : undefined;
    const sessionTimeoutMs = values['session-timeout'] !== undefined ? parseDuration('--session-timeout', values['session-timeout']) : undefined;
    if (sessionTimeoutMs === 0) throw new UsageError('--session-timeout: must be more than 0');

    let handle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
      process.stderr.write(`bitsgate analyze: cannot read ${printable(file)}: ${why}\n`);
      return 2;
    }
    try {
      const lines = createInterface({ input: handle.createReadStream({ encoding: 'utf8' }), crlfDelay: Infinity });
      const result = await replay(lines, {
        ...(maxSessions !== undefined ? { maxSessions } : {}),
        ...(sessionTimeoutMs !== undefined ? { sessionTimeoutMs } : {}),
        onMalformed: (n) => process.stderr.write(`bitsgate analyze: ${printable(file)}:${n.line}: skipped malformed line: ${printable(n.message)}\n`),
      });
      if (values.json) {
        for (const w of result.warnings) process.stderr.write(`bitsgate analyze: ${printable(file)}:${w.line}: ${printable(w.message)}\n`);
        process.stdout.write(JSON.stringify(jsonReport(result)) + '\n');
      } else {
        process.stdout.write(textReport(result, file) + '\n');
      }
      return 0;
    } catch (err) {
      process.stderr.write(`bitsgate analyze: error reading ${printable(file)}: ${(err as Error).message}\n`);
      return 2;
    } finally {
      await handle.close().catch(() => {});
    }
  },
};
