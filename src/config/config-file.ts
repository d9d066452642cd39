/**
 * `--config FILE`: gateway options from a JSON or YAML file. The keys are the flag names
 * (`upstream`, `tls-cert`, `route: {HOST: URL}`...), so the README and `--help` document
 * both at once. JSON is read by the same YAML 1.2 parser (JSON is a subset), which keeps
 * every node's position: each error names the key and its line.
 *
 * Three layers of checking, each naming `FILE:LINE: key`:
 * 1. syntax and duplicate keys (yaml),
 * 2. shape: unknown keys, wrong types (the zod schema below),
 * 3. values: the file's options go through the very parser the command line uses, so a
 *    duration or URL is judged the same way wherever it was written.
 * Relative file paths are taken from the config file's directory, not the working
 * directory of whoever started the service.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { LOG_LEVELS } from '../sinks/logger.js';
import { UsageError } from '../util/option-values.js';

const text = z.string().min(1, 'expected a non-empty string');
/** `30s` or 30 (seconds), `8080` or 8080: numbers are accepted where the flag takes a count. */
const textOrNumber = z.union([text, z.number().nonnegative()]).transform(String);
const flag = z.boolean();
const certAndKey = z.strictObject({ cert: text, key: text });

export const CONFIG_SCHEMA = z.strictObject({
  upstream: text,
  root: text,
  listen: textOrNumber,
  dashboard: textOrNumber,
  'no-dashboard': flag,
  'dashboard-token': text,
  'dashboard-allowed-host': z.array(text),
  'upstream-timeout': textOrNumber,
  'headers-timeout': textOrNumber,
  'body-timeout': textOrNumber,
  'no-forwarded-headers': flag,
  'max-sessions': textOrNumber,
  'session-timeout': textOrNumber,
  'max-session-memory': textOrNumber,
  record: text,
  'log-level': z.enum(LOG_LEVELS as unknown as [string, ...string[]]),
  pretty: flag,
  'tls-cert': text,
  'tls-key': text,
  'tls-pfx': text,
  'tls-passphrase-file': text,
  /** NAME: {cert, key}. */
  'tls-sni': z.record(text, certAndKey),
  'tls-client-ca': text,
  'tls-handshake-timeout': textOrNumber,
  'dashboard-tls': flag,
  'dashboard-tls-cert': text,
  'dashboard-tls-key': text,
  'upstream-ca': text,
  'upstream-servername': text,
  'upstream-insecure': flag,
  'upstream-cert': text,
  'upstream-key': text,
  /** HOST: URL. */
  route: z.record(text, text),
  'shutdown-grace': textOrNumber,
  fleet: text,
  'fleet-stream': text,
  'node-id': text,
  'fleet-backlog': textOrNumber,
  /** Live control from the dashboard (off by default). */
  control: flag,
  'control-token-file': text,
  /** Fault-injection rules, as --inject takes them. */
  inject: z.array(text),
  workers: textOrNumber,
}).partial();

export type ConfigFile = z.infer<typeof CONFIG_SCHEMA>;

/** Keys whose values are file or directory names (resolved against the config file's directory). */
const PATH_KEYS = new Set([
  'root', 'record', 'tls-cert', 'tls-key', 'tls-pfx', 'tls-passphrase-file', 'tls-client-ca',
  'dashboard-tls-cert', 'dashboard-tls-key', 'upstream-ca', 'upstream-cert', 'upstream-key',
  'control-token-file',
]);

/** The file's options as command-line arguments, grouped by key (so flags given on the command line can replace a key whole). */
export type ConfigArgs = Array<[key: string, args: string[]]>;

export class ConfigError extends UsageError {
  override name = 'ConfigError';
}

/**
 * Reads and checks FILE. `validate` is the command's own parser: it throws a UsageError
 * naming `--key` for a bad value, which is reported with the key's line.
 */
export function loadConfigFile(file: string, validate: (args: string[]) => void): ConfigArgs {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--config: cannot read ${file}: ${(err as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number | undefined) => `${file}:${offset === undefined ? 1 : lineCounter.linePos(offset).line}`;
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new ConfigError(`${at(e.pos[0])}: ${e.message.split('\n')[0]}`);
  }
  const raw: unknown = doc.toJS() ?? {};
  const parsed = CONFIG_SCHEMA.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      const key = [...path, issue.keys[0]!];
      throw new ConfigError(`${at(keyOffset(doc, key))}: ${key.join('.')}: unknown option`);
    }
    throw new ConfigError(`${at(keyOffset(doc, path))}: ${path.join('.') || '(top level)'}: ${issue.message}`);
  }
  const base = dirname(resolve(file));
  const groups = toArgs(parsed.data, base);
  try {
    validate(groups.flatMap(([, args]) => args));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const named = /^--([a-z-]+)/.exec(err.message)?.[1];
    const line = named !== undefined && named in parsed.data ? at(keyOffset(doc, [named])) : file;
    throw new ConfigError(`${line}: ${err.message.replace(/^--/, '')}`);
  }
  return groups;
}

function toArgs(config: ConfigFile, base: string): ConfigArgs {
  const out: ConfigArgs = [];
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    const name = `--${key}`;
    if (typeof value === 'boolean') {
      if (value) out.push([key, [name]]);
    } else if (Array.isArray(value)) {
      out.push([key, value.flatMap((v) => [name, v])]);
    } else if (key === 'route') {
      out.push([key, Object.entries(value as Record<string, string>).flatMap(([host, url]) => [name, `${host}=${url}`])]);
    } else if (key === 'tls-sni') {
      out.push([key, Object.entries(value as Record<string, { cert: string; key: string }>)
        .flatMap(([host, pair]) => [name, `${host}=${resolve(base, pair.cert)},${resolve(base, pair.key)}`])]);
    } else {
      const v = String(value);
      out.push([key, [name, PATH_KEYS.has(key) ? resolve(base, v) : v]]);
    }
  }
  return out;
}

/** Offset of the key at `path` (or of its nearest existing parent) in the document. */
function keyOffset(doc: Document, path: string[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = (doc.contents as { range?: [number] } | null)?.range?.[0];
  for (const key of path) {
    if (!isMap(node)) break;
    const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
    if (!pair) break;
    offset = (pair.key as { range?: [number] }).range?.[0] ?? offset;
    node = pair.value;
  }
  return offset;
}
