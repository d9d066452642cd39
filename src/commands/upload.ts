import { parseArgs } from 'node:util';
import {
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_RETRY_FOR_MS,
  formatDuration,
  isMisbehaveMode,
  MISBEHAVE_DESCRIPTIONS,
  MISBEHAVE_MODES,
  uploadFile,
  UploadError,
  UploadInterruptedError,
  type MisbehaveMode,
} from '../client/index.js';
import { createDisplay } from '../client/display.js';
import { summaryLine } from '../client/progress.js';
import { parseBytes, parseDuration, parseInteger, parseUpstreamUrl, UsageError } from '../util/option-values.js';
import type { Command } from './command.js';
import { parseClientTls } from './tls-options.js';

const help = `bitsgate upload URL FILE [options]: upload FILE to URL with the BITS upload protocol

  URL is the remote file name, e.g. http://127.0.0.1:8080/uploads/report.zip or
  https://gw.example.com/uploads/report.zip

Options:
  --fragment-size N       bytes per Fragment (e.g. 1048576, 512k, 4MiB; default 1MiB);
                          a 413 answer divides it by 4 (not below 1 KiB)
  --reply-out FILE        upload-reply jobs: write the reply there (default: stdout)
  --retry-for DURATION    keep retrying through outages this long without progress
                          (e.g. 30m, 2h; default ${formatDuration(DEFAULT_RETRY_FOR_MS)}); any acknowledged byte restarts it
  --backoff-max DURATION  longest wait between two attempts (default ${formatDuration(DEFAULT_BACKOFF_MAX_MS)}); waits
                          start at 250ms and double
  --retries N             also give up after N failures in a row (default: no limit)
  --cancel-after BYTES    send Cancel-Session once the server holds BYTES (a legal end:
                          the server deletes the partial upload; for demos)
  --misbehave MODE        commit one protocol error on purpose:
${MISBEHAVE_MODES.map((m) => `                            ${m.padEnd(16)} ${MISBEHAVE_DESCRIPTIONS[m].does}`).join('\n')}
  --ca FILE               https:// URLs: trust this CA (PEM) too, beside the bundled roots
  --insecure              https:// URLs: do not verify the server's certificate (tests only)
  -h, --help              this text

What it does on each answer (bits-protocol.md §6, as the Windows client does):
  416 on a Fragment        resume at the server's BITS-Received-Content-Range
  413 on a Fragment        smaller fragments (size / 4), then go on
  0x8020001F               session lost: start again at Create-Session from byte 0
                           (any packet but Cancel-Session)
  5xx on Close/Cancel      resend (1xx-4xx: never)
  no answer                reconnect, Ping, resend the same packet
  context 0x7 (server app) 3xx/5xx transient except 300-305, 307, 501, 505;
                           4xx fatal except 408, 409
  BITS-Host-Id             Ping that host and send the session's packets there; back to
                           the URL's host only after BITS-Host-Id-Fallback-Timeout
                           seconds of failed connects
  403, 501 + 0x80070005, 0x80070057, 0x80200020: fatal; 401/407: fatal (no credentials)
  any other status         the same table as context 0x7 (5xx, 408, 409 resent; other 4xx fatal)
While it waits it prints the reason and the time of the next attempt (a live line on a
terminal). Ctrl-C stops at once.

Exit codes: 0 uploaded (or cancelled, or the requested misbehaviour committed), 1 upload
failed, 2 usage, 130 interrupted (Ctrl-C).`;

const MAX_RETRY_FOR_MS = 30 * 86_400_000;

export const command: Command = {
  name: 'upload',
  summary: 'upload a file with the BITS protocol (a real BITS client)',
  help,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'fragment-size': { type: 'string' },
        'reply-out': { type: 'string' },
        retries: { type: 'string' },
        'retry-for': { type: 'string' },
        'backoff-max': { type: 'string' },
        misbehave: { type: 'string' },
        'cancel-after': { type: 'string' },
        ca: { type: 'string' },
        insecure: { type: 'boolean' },
      },
    });
    if (positionals.length !== 2) throw new UsageError('expected URL and FILE');
    const url = parseUpstreamUrl('URL', positionals[0]!);
    const tls = parseClientTls(values, url.protocol === 'https:');
    const file = positionals[1]!;
    let misbehave: MisbehaveMode | undefined;
    if (values.misbehave !== undefined) {
      if (!isMisbehaveMode(values.misbehave)) {
        throw new UsageError(`--misbehave: expected one of ${MISBEHAVE_MODES.join(', ')}, got ${JSON.stringify(values.misbehave)}`);
      }
      misbehave = values.misbehave;
    }
    const fragmentSize = values['fragment-size'] !== undefined ? parseBytes('--fragment-size', values['fragment-size']) : undefined;
    if (fragmentSize === 0) throw new UsageError('--fragment-size: must be at least 1 byte');
    const cancelAfter = values['cancel-after'] !== undefined ? parseBytes('--cancel-after', values['cancel-after']) : undefined;
    const retryForMs = values['retry-for'] !== undefined ? parseDuration('--retry-for', values['retry-for']) : undefined;
    if (retryForMs !== undefined && retryForMs > MAX_RETRY_FOR_MS) {
      throw new UsageError(`--retry-for: at most 30d, got ${JSON.stringify(values['retry-for'])}`);
    }
    const backoffMaxMs = values['backoff-max'] !== undefined ? parseDuration('--backoff-max', values['backoff-max']) : undefined;
    if (backoffMaxMs !== undefined && !(backoffMaxMs >= 100 && backoffMaxMs <= 3_600_000)) {
      throw new UsageError(`--backoff-max: expected a duration from 100ms to 1h, got ${JSON.stringify(values['backoff-max'])}`);
    }
    const maxRetries = values.retries !== undefined ? parseInteger('--retries', values.retries, 0, 1_000_000) : undefined;

    const display = createDisplay(process.stderr, process.stderr.isTTY === true);
    // Ctrl-C stops at once, even in the middle of a backoff wait or a fragment: the abort
    // destroys the request in flight and ends the wait. A second Ctrl-C exits outright.
    const interrupt = new AbortController();
    const onSigint = () => {
      if (interrupt.signal.aborted) process.exit(130);
      interrupt.abort();
      // Should anything still hold the event loop, do not make the user wait for it.
      setTimeout(() => process.exit(130), 2000).unref();
    };
    process.on('SIGINT', onSigint);
    try {
      const result = await uploadFile({
        url,
        file,
        fragmentSize,
        replyOut: values['reply-out'],
        retryForMs,
        backoffMaxMs,
        maxRetries,
        misbehave,
        cancelAfter,
        signal: interrupt.signal,
        onProgress: display.progress,
        onLog: display.log,
        onWait: display.wait,
        ...(tls && { tls }),
      });
      display.done();
      if (result.reply) process.stdout.write(result.reply);
      process.stderr.write(`bitsgate upload: ${summaryLine(url.href, result)}\n`);
      if (result.misbehaved) {
        process.stderr.write(`bitsgate upload: misbehaved on purpose (${result.misbehaved.mode}): ${result.misbehaved.detail}\n`);
      }
      return 0;
    } catch (err) {
      display.done();
      if (err instanceof UploadInterruptedError) {
        process.stderr.write('bitsgate upload: interrupted (Ctrl-C); nothing more was sent\n');
        return 130;
      }
      // UploadError says what the server answered; anything else is local (file missing,
      // unreadable, reply path not writable) and its message names the file.
      if (err instanceof UploadError || err instanceof Error) {
        process.stderr.write(`bitsgate upload: failed: ${err.message}\n`);
        return 1;
      }
      throw err;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
