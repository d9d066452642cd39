import { open, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { jsonReport, textReport } from '../analyze/report.js';
import { printable } from '../analyze/printable.js';
import { isRedisUrl, splitStreamUrl } from '../fleet/connection.js';
import { FLEET_DEFAULTS } from '../fleet/fleet-link.js';
import { readStreamHistory } from '../fleet/stream-history.js';
import { fromHar, looksLikeHar } from '../har/from-har.js';
import { replay, type ReplayOptions } from '../sessions/replay.js';
import { TRACKER_DEFAULTS } from '../sessions/tracker.js';
import { parseDuration, parseInteger, UsageError } from '../util/option-values.js';
import type { Command } from './command.js';

const HELP = `bitsgate analyze: replay a recording or a HAR capture through the protocol core and report sessions and violations

Usage:
  bitsgate analyze FILE.ndjson [--json] [--max-sessions N] [--session-timeout DURATION]
  bitsgate analyze capture.har [--json] ...
  bitsgate analyze redis://HOST:PORT[/DB]/STREAM [--json] ...   (rediss:// too)

FILE is a recording written by 'bitsgate --record FILE' (NDJSON, one observation per line).
Malformed lines are reported on stderr with their line number and skipped.

A HAR file (by its .har extension or its content) exported by Fiddler, Charles, Chrome DevTools,
mitmproxy or 'bitsgate export' is read as observations: entries ordered by start time, the
connection taken from "connection" where the tool wrote one. Entries that are not BITS are
counted and skipped (except the fetch of an upload-reply's reply URL); unreadable entries are
reported on stderr with their index.

A redis:// URL reads a fleet's stream (bitsgate --fleet): its retained history, each
observation once, in the fleet's order (end time, then node). STREAM defaults to
${FLEET_DEFAULTS.stream}.

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
  summary: 'replay a recorded NDJSON file or a HAR capture and report sessions and protocol violations',
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

    const trackerOptions: ReplayOptions = {
      ...(maxSessions !== undefined ? { maxSessions } : {}),
      ...(sessionTimeoutMs !== undefined ? { sessionTimeoutMs } : {}),
    };
    if (isRedisUrl(file)) return analyzeStream(file, values.json === true, trackerOptions);
    let handle;
    try {
      handle = await open(file, 'r');
      const head = Buffer.alloc(64);
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      if (extname(file).toLowerCase() === '.har' || looksLikeHar(head.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, ''))) {
        await handle.close();
        handle = undefined;
        return await analyzeHar(file, values.json === true, trackerOptions);
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      await handle?.close().catch(() => {});
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
      process.stderr.write(`bitsgate analyze: cannot read ${printable(file)}: ${why}\n`);
      return 2;
    }
    try {
      const lines = createInterface({ input: handle.createReadStream({ encoding: 'utf8' }), crlfDelay: Infinity });
      const result = await replay(lines, {
        ...trackerOptions,
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

/** A fleet's Redis stream, read like a recording. */
async function analyzeStream(raw: string, json: boolean, options: ReplayOptions): Promise<number> {
  let target: { url: string; stream: string };
  try {
    target = splitStreamUrl(raw, FLEET_DEFAULTS.stream);
  } catch {
    throw new UsageError(`not a redis:// URL: ${printable(raw)}`);
  }
  const shown = `${new URL(target.url).host}/${printable(target.stream, 200)}`;
  let history;
  try {
    history = await readStreamHistory(target.url, target.stream);
  } catch (err) {
    process.stderr.write(`bitsgate analyze: ${shown}: ${printable((err as Error).message)}\n`);
    return 2;
  }
  for (const m of history.malformed.slice(0, 100)) {
    process.stderr.write(`bitsgate analyze: ${shown}: entry ${printable(m.id, 40)}: skipped: ${printable(m.reason)}\n`);
  }
  const result = await replay(history.lines, options);
  if (json) process.stdout.write(JSON.stringify(jsonReport(result)) + '\n');
  else {
    process.stdout.write(`Stream ${shown}: ${history.entries} entries, ${result.observations} observations analyzed` +
      `${history.duplicates ? `, ${history.duplicates} duplicates skipped` : ''}\n` + textReport(result, shown) + '\n');
  }
  return 0;
}

/** A HAR capture: the whole file is one JSON document (Fiddler writes bodies too, so it may be large). */
async function analyzeHar(file: string, json: boolean, options: ReplayOptions): Promise<number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
  } catch (err) {
    process.stderr.write(`bitsgate analyze: ${printable(file)}: not a readable HAR file: ${printable((err as Error).message)}\n`);
    return 2;
  }
  const har = fromHar(parsed);
  if (!har.ok) {
    process.stderr.write(`bitsgate analyze: ${printable(file)}: ${printable(har.reason)}\n`);
    return 2;
  }
  const capture = har.value;
  for (const m of capture.malformed) {
    process.stderr.write(`bitsgate analyze: ${printable(file)}: entry ${m.entry}: skipped: ${printable(m.message)}\n`);
  }
  const result = await replay(capture.observations.map((observation) => ({ kind: 'observation' as const, observation })), options);
  if (json) {
    process.stdout.write(JSON.stringify(jsonReport(result)) + '\n');
  } else {
    const from = capture.creator.name ? `${printable(capture.creator.name, 60)} ${printable(capture.creator.version, 30)}`.trim() : 'an unnamed tool';
    process.stdout.write(`HAR from ${from}: ${capture.entries} entries, ${capture.observations.length} BITS exchanges analyzed, ` +
      `${capture.skipped} other entries skipped${capture.malformed.length ? `, ${capture.malformed.length} unreadable (see stderr)` : ''}\n` +
      textReport(result, file) + '\n');
  }
  return 0;
}
