import { createReadStream, createWriteStream } from 'node:fs';
import { access, rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { printable } from '../analyze/printable.js';
import { emptyHar, harEntry } from '../har/to-har.js';
import type { Observation } from '../observation.js';
import { parseRecordingLine, replay } from '../sessions/replay.js';
import { UsageError } from '../util/option-values.js';
import { VERSION } from '../version.js';
import type { Command } from './command.js';

const HELP = `bitsgate export: convert a recording to a HAR 1.2 file (HTTP Archive) for Fiddler, Chrome DevTools, Charles or mitmproxy

Usage:
  bitsgate export FILE.ndjson --har OUT.har [--session ID]

FILE is a recording written by 'bitsgate --record FILE'. OUT gets one HAR log with one entry
per exchange, in recorded order: the real method (BITS_POST), headers in wire order, sizes and
timings; each entry's "connection" is the client TCP connection and "_bits" holds the decoded
BITS fields and the exact observation. Bodies are never recorded, so never exported (the log's
"comment" says so). 'bitsgate analyze OUT.har' reads it back with the same verdicts.

Options:
  --har OUT.har       where to write the HAR file (replaced if it exists)
  --session ID        only the exchanges of this session (as the tracker attributes them:
                      its packets and the fetch of its reply)
  -h, --help          this help

Malformed lines of FILE are reported on stderr with their line number and skipped.
Exit status: 0 written, 1 the session was not found, 2 on a usage error or an unreadable file.`;

export const command: Command = {
  name: 'export',
  summary: 'convert a recording to a HAR 1.2 file (one log per recording or per session)',
  help: HELP,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { har: { type: 'string' }, session: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError(positionals.length ? 'expected exactly one FILE' : 'missing FILE.ndjson');
    if (values.har === undefined || values.har === '') throw new UsageError('missing --har OUT.har');
    const file = positionals[0]!;
    const out = values.har;
    const session = values.session;

    try {
      await access(file);
      let wanted: Set<number> | undefined;
      if (session !== undefined) {
        wanted = await exchangesOfSession(file, session);
        if (wanted.size === 0) {
          process.stderr.write(`bitsgate export: no exchanges of session ${printable(session, 100)} in ${printable(file)}\n`);
          return 1;
        }
      }
      const written = await writeHar(file, out, wanted, session);
      process.stderr.write(`bitsgate export: wrote ${written} entries to ${printable(out)}\n`);
      return 0;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
      process.stderr.write(`bitsgate export: ${printable(e.path ?? file)}: ${printable(why)}\n`);
      return 2;
    }
  },
};

function lines(file: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
}

/** Observations of the recording, one at a time; malformed lines reported and skipped. */
async function* observations(file: string, report: boolean): AsyncGenerator<Observation> {
  let n = 0;
  for await (const text of lines(file)) {
    n++;
    const parsed = parseRecordingLine(text);
    if (!parsed.ok) {
      if (report) process.stderr.write(`bitsgate export: ${printable(file)}:${n}: skipped malformed line: ${printable(parsed.reason)}\n`);
      continue;
    }
    if (parsed.value.kind === 'observation') yield parsed.value.observation;
  }
}

/** The tracker decides which exchanges belong to a session, exactly as it does live. */
async function exchangesOfSession(file: string, id: string): Promise<Set<number>> {
  const ids = new Set<number>();
  await replay(lines(file), {
    onEvent(e) {
      if (e.type === 'packet' && e.sessionId === id) ids.add(e.packet.exchange);
    },
  });
  return ids;
}

/** Streams the entries: memory stays flat however long the recording is. */
async function writeHar(file: string, out: string, wanted: Set<number> | undefined, session: string | undefined): Promise<number> {
  const what = session !== undefined ? `session ${session} from ${file}` : `recording ${file}`;
  const shell = JSON.stringify(emptyHar({ version: VERSION, comment: `Exported by bitsgate export: ${what}` }), null, 1);
  // The shell ends `"entries": [], "comment": ... } }`: split it at the empty entries array.
  const at = shell.indexOf('"entries": []') + '"entries": ['.length;
  const tmp = `${out}.${process.pid}.tmp`;
  const stream = createWriteStream(tmp);
  const done = new Promise<void>((resolve, reject) => {
    stream.once('finish', resolve);
    stream.once('error', reject);
  });
  let count = 0;
  try {
    const write = (s: string) => (stream.write(s) ? undefined : new Promise<void>((r) => stream.once('drain', r)));
    await write(shell.slice(0, at) + '\n');
    for await (const obs of observations(file, true)) {
      if (wanted && !wanted.has(obs.id)) continue;
      await write((count++ ? ',\n' : '') + JSON.stringify(harEntry(obs)));
    }
    await write('\n' + shell.slice(at) + '\n');
    stream.end();
    await done;
    await rename(tmp, out);
    return count;
  } catch (err) {
    done.catch(() => {}); // the stream's own error, if any, is the one we rethrow or less useful
    stream.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}
