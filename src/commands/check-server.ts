/**
 * `bitsgate check-server URL`: the server conformance suite. Runs the scripted sessions of
 * src/commands/check-server/scripts.ts against a BITS server, through our client's packet
 * code, and prints one verdict per case (src/conformance/server judges them).
 *
 * Promises it keeps: every upload goes under one prefix, `<URL>/bitsgate-check-<random>/`,
 * printed at the start and the end; every session it opened is closed or cancelled before it
 * exits, also on Ctrl-C (the first Ctrl-C stops the case in flight and cancels the rest; a
 * second one exits at once).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { UploadInterruptedError } from '../client/index.js';
import { ConnectionLostError, PacketTransport, RequestAbortedError } from '../client/packet-transport.js';
import {
  CaseRecorder,
  caseLines,
  jsonReport,
  SERVER_CASES,
  summarize,
  summaryLine,
  type CaseVerdict,
} from '../conformance/server/index.js';
import { BITS_METHOD } from '../protocol/index.js';
import { pingHeaders } from '../protocol/encode.js';
import { parseDuration, parseUpstreamUrl, UsageError } from '../util/option-values.js';
import { CheckPeer } from './check-server/peer.js';
import { SCRIPTS } from './check-server/scripts.js';
import type { RunContext } from './check-server/steps.js';
import type { Command } from './command.js';
import { parseClientTls, type ClientTls } from './tls-options.js';

/** The final Ack of an upload-reply waits for the server application (§3): not too short. */
const DEFAULT_TIMEOUT_MS = 30_000;

const help = `bitsgate check-server URL [options]: check a BITS upload server against the protocol reference

  URL is an upload-enabled virtual directory, e.g. http://iis.example.internal/uploads/
  Every upload goes under URL/bitsgate-check-<random>/ (printed at the start and the end);
  nothing is written anywhere else, and every session opened is closed or cancelled, also
  on Ctrl-C.

Options:
  --reply-url URL       an upload-reply virtual directory to check upload-reply on (its
                        uploads go under URL/bitsgate-check-<random>/ too); without it the
                        case applies only when URL itself is an upload-reply directory
  --json                print one JSON document (url, prefix, cases, summary, leftOpen)
                        instead of the table
  --timeout DURATION    longest wait for an answer (default ${DEFAULT_TIMEOUT_MS / 1000}s; an upload-reply
                        final Ack waits for the server application)
  --ca FILE             https:// URLs: trust this CA (PEM) too
  --insecure            https:// URLs: do not verify the server's certificate (tests only)
  -h, --help            this text

Cases (bits-protocol.md sections; each is PASS, DEVIATION or N/A):
${SERVER_CASES.map((c) => `  ${c.name.padEnd(34)} ${c.section}\n      ${c.checks}`).join('\n')}

Where the reference marks a Conflict (or leaves a point Unverified), either reading passes
and a note says which one the server follows. A DEVIATION line names the packet, the
expected and the seen status, error code and BITS-Received-Content-Range.

Exit codes: 0 no deviation, 1 at least one deviation, 2 usage error or server unreachable,
130 interrupted (Ctrl-C).`;

/** `http://h/up/x?q` -> `http://h/up/x/`: the directory uploads go under. */
function directoryOf(url: URL): URL {
  const dir = new URL(url.href);
  dir.search = '';
  dir.hash = '';
  if (!dir.pathname.endsWith('/')) dir.pathname += '/';
  return dir;
}

export const command: Command = {
  name: 'check-server',
  summary: 'check a BITS server against the protocol reference (conformance suite)',
  help,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'reply-url': { type: 'string' },
        json: { type: 'boolean' },
        timeout: { type: 'string' },
        ca: { type: 'string' },
        insecure: { type: 'boolean' },
      },
    });
    if (positionals.length !== 1) throw new UsageError('expected one URL');
    const url = parseUpstreamUrl('URL', positionals[0]!);
    const replyUrl = values['reply-url'] !== undefined ? parseUpstreamUrl('--reply-url', values['reply-url']) : undefined;
    const timeoutMs = values.timeout !== undefined ? parseDuration('--timeout', values.timeout) : DEFAULT_TIMEOUT_MS;
    if (!(timeoutMs >= 100 && timeoutMs <= 600_000)) throw new UsageError(`--timeout: expected 100ms to 10m, got ${JSON.stringify(values.timeout)}`);
    const tls = parseClientTls(values, url.protocol === 'https:' || replyUrl?.protocol === 'https:');

    const json = values.json === true;
    const out = (line: string) => process.stdout.write(line + '\n');
    // With --json stdout carries the document alone; the progress lines go to stderr.
    const info = json ? (line: string) => process.stderr.write(line + '\n') : out;

    const dirName = `bitsgate-check-${randomBytes(4).toString('hex')}/`;
    const prefix = new URL(dirName, directoryOf(url));
    const replyPrefix = replyUrl && new URL(dirName, directoryOf(replyUrl));

    const unreachable = await probe(prefix, timeoutMs, tls);
    if (unreachable) {
      process.stderr.write(`bitsgate check-server: cannot reach ${url.href}: ${unreachable}\n`);
      return 2;
    }

    const interrupt = new AbortController();
    const onSigint = () => {
      if (interrupt.signal.aborted) process.exit(130);
      process.stderr.write('bitsgate check-server: interrupted; cancelling the sessions still open (Ctrl-C again to quit now)\n');
      interrupt.abort();
    };
    process.on('SIGINT', onSigint);
    const peer = new CheckPeer({ timeoutMs, signal: interrupt.signal, ...(tls && { tls }) });
    const ctx: RunContext = { peer, prefix, ...(replyPrefix && { replyPrefix }) };
    const verdicts: CaseVerdict[] = [];
    let interrupted = false;
    info(`bitsgate check-server: checking ${url.href}; uploads go under ${prefix.href}${replyPrefix ? ` and ${replyPrefix.href}` : ''}`);
    let leftOpen: string[] = [];
    try {
      for (const c of SERVER_CASES) {
        const recorder = new CaseRecorder(c.name);
        try {
          await SCRIPTS[c.name](recorder, ctx);
        } catch (err) {
          if (err instanceof UploadInterruptedError || err instanceof RequestAbortedError || interrupt.signal.aborted) {
            interrupted = true;
            break;
          }
          throw err;
        }
        const v = recorder.verdict();
        verdicts.push(v);
        for (const line of caseLines(v)) info(line);
      }
    } finally {
      leftOpen = await peer.cancelLeftovers();
      process.off('SIGINT', onSigint);
    }
    const summary = summarize(verdicts);
    if (json) out(jsonReport({ url: url.href, prefix: prefix.href, ...(replyPrefix && { replyUrl: replyPrefix.href }), cases: verdicts, summary, leftOpen }).trimEnd());
    info(`bitsgate check-server: ${summaryLine(summary)}${interrupted ? ` (interrupted after ${verdicts.length} of ${SERVER_CASES.length} cases)` : ''}`);
    info(leftOpen.length === 0
      ? `bitsgate check-server: every session closed or cancelled; uploaded files, if any, are under ${prefix.href}${replyPrefix ? ` and ${replyPrefix.href}` : ''}`
      : `bitsgate check-server: ${leftOpen.length} session(s) could not be cancelled (${leftOpen.join(', ')}); their files are under ${prefix.href}`);
    if (interrupted) return 130;
    return summary.deviation > 0 || leftOpen.length > 0 ? 1 : 0;
  },
};

/** A Ping that is not judged: can the server be reached at all? Undefined: yes; else why not. */
async function probe(url: URL, timeoutMs: number, tls: ClientTls | undefined): Promise<string | undefined> {
  const transport = new PacketTransport({ idleTimeoutMs: timeoutMs, ...(tls && { tls }) });
  try {
    await transport.send({ method: BITS_METHOD, url, headers: pingHeaders() });
    return undefined;
  } catch (err) {
    if (err instanceof ConnectionLostError) {
      return err.connected ? `the connection closed without an answer to Ping (${err.code})` : `${err.message} (${err.code})`;
    }
    throw err;
  } finally {
    transport.close();
  }
}
