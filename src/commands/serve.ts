import { parseArgs } from 'node:util';
import { startBitsServer, type BitsServerOptions, type ReplyMode } from '../server/index.js';
import { createLogger, isLogLevel, LOG_LEVELS } from '../sinks/logger.js';
import { parseBytes, parseDuration, parseHttpUrl, parseInteger, parseListen, UsageError } from '../util/option-values.js';
import type { Command } from './command.js';
import { parsePrefixOption } from './prefix-option.js';
import { startupErrorLine } from './startup-errors.js';

const help = `bitsgate serve --root DIR [options]: an IIS-faithful BITS upload server

Files uploaded to http://HOST:PORT/a/b.bin land in DIR/a/b.bin once every byte is in
(at the final Fragment Ack, as the Win32 docs describe IIS; --commit-on close waits for
Close-Session); incomplete uploads are deleted, as IIS does. Sessions live in memory: after
a restart clients are told 0x8020001F (session not found) and start again.

Options:
  --root DIR                     upload root (created if missing; required). DIR/.bitsgate-tmp
                                 holds temp files and must not be a symlink
  --listen HOST:PORT             listen address (default 127.0.0.1:8090)
  --commit-on final-fragment|close
                                 when a complete upload reaches DIR (default final-fragment;
                                 there a Cancel-Session after the last fragment keeps the file)
  --max-upload-size BYTES        largest upload, IIS BITSMaximumUploadSize (500 + 0x80200020
                                 BG_E_TOO_LARGE beyond, which the client gives up on; default
                                 unlimited). --max-upload is an alias
  --allow-overwrite              replace existing files (default: 403 + 0x80070005)
  --session-timeout DURATION     delete sessions without progress this long (default 14d, as IIS)
  --session-limit N              sessions per client address, IIS BITSNumberOfSessionsLimit
                                 (default 50; 0 = off). The cleanup deletes each client's
                                 NEWEST sessions over it; Create-Session is never refused
  --cleanup-interval DURATION    how often that cleanup runs (default 12h, as IIS)
  --reply-mode none|sha256       sha256: upload-reply server, the reply is the file's sha256
  --notification-url URL         upload-reply through YOUR application (IIS
                                 BITSServerNotificationURL): once the last fragment is in, the
                                 server POSTs to URL (plus the upload's query string)
  --notification-type 1|2        1: headers name the uploaded file and the file to write the
                                 reply into; 2: the file is the body, the response the reply
                                 (default 2 when --notification-url is given)
  --notification-timeout DURATION
                                 the application must answer within this, or the file is
                                 posted again (default 5m, as IIS; 3 posts, then 504 to the client)
  --reply-prefix PATH            with --reply-mode sha256 or --notification-url: only URLs under
                                 PATH (e.g. /reply/) are upload-reply, others plain uploads (as
                                 IIS configures upload-reply per virtual directory); default: all
  --host-id NAME                 send BITS-Host-Id on Create-Session Acks
  --host-id-fallback-timeout S   seconds, sent with --host-id (default 86400)
  --tls-cert FILE --tls-key FILE serve HTTPS with this PEM certificate (chain) and key
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
        'max-upload-size': { type: 'string' },
        'commit-on': { type: 'string' },
        'session-limit': { type: 'string' },
        'cleanup-interval': { type: 'string' },
        'notification-url': { type: 'string' },
        'notification-type': { type: 'string' },
        'notification-timeout': { type: 'string' },
        'allow-overwrite': { type: 'boolean' },
        'session-timeout': { type: 'string' },
        'reply-mode': { type: 'string' },
        'reply-prefix': { type: 'string' },
        'host-id': { type: 'string' },
        'host-id-fallback-timeout': { type: 'string' },
        'log-level': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
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
      parsePrefixOption('--reply-prefix', replyPrefix);
      // Silently ignoring it would leave the user wondering why no reply URL appears.
      if (replyMode !== 'sha256' && values['notification-url'] === undefined) {
        throw new UsageError('--reply-prefix needs --reply-mode sha256 or --notification-url');
      }
    }
    const commitOn = values['commit-on'] ?? 'final-fragment';
    if (commitOn !== 'final-fragment' && commitOn !== 'close') {
      throw new UsageError(`--commit-on: expected final-fragment or close, got ${JSON.stringify(commitOn)}`);
    }
    const notification = notificationOption(values, replyMode);
    const maxUploadValue = values['max-upload-size'] ?? values['max-upload'];
    const hostId = values['host-id'];
    if (hostId !== undefined && !/^[A-Za-z0-9.-]{1,255}(?::\d{1,5})?$/.test(hostId)) {
      throw new UsageError(`--host-id: expected a host name, got ${JSON.stringify(hostId)}`);
    }
    const level = values['log-level'] ?? 'info';
    if (!isLogLevel(level)) throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}`);
    const logger = createLogger({ level }).child({ component: 'serve' });
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
    let server;
    try {
      server = await startBitsServer({
      ...(values['tls-cert'] !== undefined && values['tls-key'] !== undefined && {
        tls: { default: { certFile: values['tls-cert'], keyFile: values['tls-key'] } },
      }),
      root: values.root,
      listen: values.listen !== undefined ? parseListen('--listen', values.listen) : undefined,
      maxUpload: maxUploadValue !== undefined ? parseBytes('--max-upload-size', maxUploadValue) : undefined,
      commitOn,
      notification,
      sessionLimit: values['session-limit'] !== undefined ? parseInteger('--session-limit', values['session-limit']) : undefined,
      cleanupIntervalMs: values['cleanup-interval'] !== undefined ? parseDuration('--cleanup-interval', values['cleanup-interval']) : undefined,
      allowOverwrite: values['allow-overwrite'] ?? false,
      sessionTimeoutMs: values['session-timeout'] !== undefined ? parseDuration('--session-timeout', values['session-timeout']) : undefined,
      replyMode: replyMode as ReplyMode,
      replyPrefix,
      hostId,
      hostIdFallbackTimeout: values['host-id-fallback-timeout'] !== undefined
        ? parseInteger('--host-id-fallback-timeout', values['host-id-fallback-timeout'])
        : undefined,
      logger,
      });
    } catch (err) {
      // A configuration we refuse to run with, or an address we cannot listen on: say why, no stack trace.
      const line = startupErrorLine(err);
      if (line === undefined) throw err;
      process.stderr.write(`bitsgate serve: ${line}\n`);
      return 1;
    }
    logger.info({ url: server.url, root: values.root, replyMode, replyPrefix }, 'BITS server listening');
    const replyNote = replyMode === 'sha256' || notification ? `; upload-reply under ${replyPrefix ?? '/'}` : '';
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

function notificationOption(values: Record<string, string | boolean | undefined>, replyMode: string): BitsServerOptions['notification'] {
  const url = values['notification-url'] as string | undefined;
  const type = values['notification-type'] as string | undefined;
  const timeout = values['notification-timeout'] as string | undefined;
  if (url === undefined) {
    if (type !== undefined || timeout !== undefined) throw new UsageError('--notification-type/--notification-timeout need --notification-url');
    return undefined;
  }
  if (replyMode !== 'none') throw new UsageError('--notification-url and --reply-mode sha256 are two server applications; choose one');
  // IIS: BITSServerNotificationURL is HTTP only, at most 2 200 characters.
  if (url.length > 2200) throw new UsageError('--notification-url: longer than 2200 characters');
  const parsed = parseHttpUrl('--notification-url', url);
  if (parsed.protocol !== 'http:') throw new UsageError('--notification-url: http:// only (as IIS)');
  if (type !== undefined && type !== '1' && type !== '2') throw new UsageError(`--notification-type: expected 1 or 2, got ${JSON.stringify(type)}`);
  return {
    url: parsed.href,
    type: type === '1' ? 1 : 2,
    timeoutMs: timeout !== undefined ? parseDuration('--notification-timeout', timeout) : undefined,
  };
}
