import { parseArgs } from 'node:util';
import { checkReplyPrefix, startBitsServer, type ReplyMode } from '../server/index.js';
import { createLogger, isLogLevel, LOG_LEVELS } from '../sinks/logger.js';
import { parseBytes, parseDuration, parseInteger, parseListen, UsageError } from '../util/option-values.js';
import type { Command } from './command.js';

const help = `bitsgate serve --root DIR [options]: an IIS-faithful BITS upload server

Files uploaded to http://HOST:PORT/a/b.bin land in DIR/a/b.bin once the client closes
the session with every byte sent; incomplete uploads are deleted, as IIS does.

Options:
  --root DIR                     upload root (created if missing; required)
  --listen HOST:PORT             listen address (default 127.0.0.1:8090)
  --max-upload BYTES             largest upload (413 BG_E_TOO_LARGE beyond; default unlimited)
  --allow-overwrite              replace existing files (default: 409 Conflict)
  --session-timeout DURATION     delete sessions idle this long (default 14d, as IIS)
  --reply-mode none|sha256       sha256: upload-reply server, the reply is the file's sha256
  --reply-prefix PATH            with --reply-mode sha256: only URLs under PATH (e.g. /reply/)
                                 are upload-reply, others plain uploads (as IIS configures
                                 upload-reply per virtual directory); default: every URL
  --host-id NAME                 send BITS-Host-Id on Create-Session Acks
  --host-id-fallback-timeout S   seconds, sent with --host-id (default 86400)
  --max-sessions N               open sessions at most (503 beyond; default 10000)
  --log-level LEVEL              fatal|error|warn|info|debug|trace|silent (default info)
  -h, --help                     this text`;

export const command: Command = {
  name: 'serve',
  summary: 'run an IIS-faithful BITS upload server',
  help,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        root: { type: 'string' },
        listen: { type: 'string' },
        'max-upload': { type: 'string' },
        'allow-overwrite': { type: 'boolean' },
        'session-timeout': { type: 'string' },
        'reply-mode': { type: 'string' },
        'reply-prefix': { type: 'string' },
        'host-id': { type: 'string' },
        'host-id-fallback-timeout': { type: 'string' },
        'max-sessions': { type: 'string' },
        'log-level': { type: 'string' },
      },
    });
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    if (!values.root) throw new UsageError('--root DIR is required');
    const replyMode = values['reply-mode'] ?? 'none';
    if (replyMode !== 'none' && replyMode !== 'sha256') {
      throw new UsageError(`--reply-mode: expected none or sha256, got ${JSON.stringify(replyMode)}`);
    }
    const replyPrefix = values['reply-prefix'];
    if (replyPrefix !== undefined) {
      const checked = checkReplyPrefix(replyPrefix);
      if (!checked.ok) throw new UsageError(`--reply-prefix: ${checked.reason}`);
      // Silently ignoring it would leave the user wondering why no reply URL appears.
      if (replyMode !== 'sha256') throw new UsageError('--reply-prefix needs --reply-mode sha256');
    }
    const hostId = values['host-id'];
    if (hostId !== undefined && !/^[A-Za-z0-9.-]{1,255}(?::\d{1,5})?$/.test(hostId)) {
      throw new UsageError(`--host-id: expected a host name, got ${JSON.stringify(hostId)}`);
    }
    const level = values['log-level'] ?? 'info';
    if (!isLogLevel(level)) throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}`);
    const logger = createLogger({ level }).child({ component: 'serve' });
    const server = await startBitsServer({
      root: values.root,
      listen: values.listen !== undefined ? parseListen('--listen', values.listen) : undefined,
      maxUpload: values['max-upload'] !== undefined ? parseBytes('--max-upload', values['max-upload']) : undefined,
      allowOverwrite: values['allow-overwrite'] ?? false,
      sessionTimeoutMs: values['session-timeout'] !== undefined ? parseDuration('--session-timeout', values['session-timeout']) : undefined,
      replyMode: replyMode as ReplyMode,
      replyPrefix,
      hostId,
      hostIdFallbackTimeout: values['host-id-fallback-timeout'] !== undefined
        ? parseInteger('--host-id-fallback-timeout', values['host-id-fallback-timeout'])
        : undefined,
      maxSessions: values['max-sessions'] !== undefined ? parseInteger('--max-sessions', values['max-sessions'], 1) : undefined,
      logger,
    });
    logger.info({ url: server.url, root: values.root, replyMode, replyPrefix }, 'BITS server listening');
    const replyNote = replyMode === 'sha256' ? `; upload-reply under ${replyPrefix ?? '/'}` : '';
    process.stderr.write(`bitsgate serve: listening on ${server.url} (root ${values.root}${replyNote})\n` +
      `  try: npx bitsgate upload ${server.url}example.bin ./some-file\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.close();
    return 0;
  },
};
