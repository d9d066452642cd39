import { parseArgs } from 'node:util';
import {
  isMisbehaveMode,
  MISBEHAVE_DESCRIPTIONS,
  MISBEHAVE_MODES,
  uploadFile,
  UploadError,
  type MisbehaveMode,
} from '../client/index.js';
import { summaryLine, ttyProgress } from '../client/progress.js';
import { parseBytes, parseHttpUrl, parseInteger, UsageError } from '../util/option-values.js';
import type { Command } from './command.js';

const help = `bitsgate upload URL FILE [options]: upload FILE to URL with the BITS upload protocol

  URL is the remote file name, e.g. http://127.0.0.1:8080/uploads/report.zip

Options:
  --fragment-size N     bytes per Fragment (e.g. 1048576, 512k, 4MiB; default 1MiB)
  --reply-out FILE      upload-reply jobs: write the reply there (default: stdout)
  --retries N           retries per packet for transient failures (default 5)
  --cancel-after BYTES  send Cancel-Session once the server holds BYTES (a legal end:
                        the server deletes the partial upload; for demos)
  --misbehave MODE      commit one protocol error on purpose:
${MISBEHAVE_MODES.map((m) => `                          ${m.padEnd(16)} ${MISBEHAVE_DESCRIPTIONS[m].does}`).join('\n')}
  -h, --help            this text

Exit codes: 0 uploaded (or cancelled, or the requested misbehaviour committed), 1 upload
failed, 2 usage.`;

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
        misbehave: { type: 'string' },
        'cancel-after': { type: 'string' },
      },
    });
    if (positionals.length !== 2) throw new UsageError('expected URL and FILE');
    const url = parseHttpUrl('URL', positionals[0]!);
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
    const progress = process.stderr.isTTY ? ttyProgress(process.stderr) : undefined;
    try {
      const result = await uploadFile({
        url,
        file,
        fragmentSize,
        replyOut: values['reply-out'],
        maxRetries: values.retries !== undefined ? parseInteger('--retries', values.retries, 0, 100) : undefined,
        misbehave,
        cancelAfter,
        onProgress: progress?.update,
      });
      progress?.done();
      if (result.reply) process.stdout.write(result.reply);
      process.stderr.write(`bitsgate upload: ${summaryLine(url.href, result)}\n`);
      if (result.misbehaved) {
        process.stderr.write(`bitsgate upload: misbehaved on purpose (${result.misbehaved.mode}): ${result.misbehaved.detail}\n`);
      }
      return 0;
    } catch (err) {
      progress?.done();
      // UploadError says what the server answered; anything else is local (file missing,
      // unreadable, reply path not writable) and its message names the file.
      if (err instanceof UploadError || err instanceof Error) {
        process.stderr.write(`bitsgate upload: failed: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  },
};
