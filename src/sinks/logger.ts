import pino from 'pino';

/**
 * The root pino logger. JSON lines on stdout by default (what log shippers want);
 * pino-pretty, in a worker thread so formatting stays off the request path, when stdout is
 * a terminal or `--pretty` is given. Credentials never reach the log (NTLM/Basic blobs in
 * Authorization headers are credentials) and traffic-controlled text is cleaned first.
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  /** true: pino-pretty; false: JSON; undefined: pretty only when stdout is a TTY. */
  pretty?: boolean;
  /** Write JSON here instead of stdout (tests); ignores `pretty`. */
  destination?: pino.DestinationStream;
}

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export function createLogger(options: LoggerOptions = {}): pino.Logger {
  const base: pino.LoggerOptions = {
    level: options.level ?? 'info',
    base: { name: 'bitsgate' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (options.destination) return pino(base, options.destination);
  const pretty = options.pretty ?? Boolean(process.stdout.isTTY);
  if (pretty) {
    return pino(base, pino.transport({ target: 'pino-pretty', options: { colorize: Boolean(process.stdout.isTTY), destination: 1 } }));
  }
  // A log reader slower than the traffic (a stalled pipe, a flood of evictions) must not grow
  // the heap: sonic-boom drops what would push its buffer past maxLength and counts it.
  const destination = pino.destination({ dest: 1, sync: false, maxLength: LOG_BUFFER_MAX_BYTES });
  destination.on('drop', (data: string) => { droppedLogBytes += Buffer.byteLength(data); });
  return pino(base, destination);
}

/** The most a log destination may hold unwritten before lines are dropped. */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;
let droppedLogBytes = 0;

/** Log bytes dropped because stdout could not keep up (see LOG_BUFFER_MAX_BYTES). */
export function logBytesDropped(): number {
  return droppedLogBytes;
}

/** Longest piece of traffic text copied into a log line. */
export const MAX_LOGGED_TEXT = 256;

// C0/C1 controls, DEL, and the bidi/format characters that can reorder a terminal line.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * Makes traffic-controlled text (URLs, header values, file names) safe for one log line:
 * controls replaced by `?` (no forged lines on a pretty terminal, no escape sequences),
 * truncated with an ellipsis marker.
 */
export function cleanText(value: string, max = MAX_LOGGED_TEXT): string {
  const cleaned = value.replace(UNSAFE, '?');
  return cleaned.length > max ? `${cleaned.slice(0, max)}…(+${cleaned.length - max})` : cleaned;
}

/** A header list as a lower-cased object of cleaned values (duplicates joined), for debug lines. */
export function cleanHeaders(headers: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of headers) {
    const key = cleanText(name.toLowerCase(), 64);
    const v = cleanText(value);
    out[key] = key in out ? `${out[key]}, ${v}` : v;
  }
  return out;
}
