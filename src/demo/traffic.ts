/**
 * The demo traffic generator: concurrent BITS clients against one URL (normally the
 * gateway of `npm start`), so every kind of session and invalid close shows up on the
 * dashboard: plain uploads, upload-reply jobs that fetch their reply, and one upload per
 * `--misbehave` mode.
 *
 * Upload-reply is configured per directory on the server (IIS: per virtual directory;
 * ours: `--reply-prefix`), so reply jobs (`upload-reply`, `skip-reply`) go under
 * `replyPrefix` and the others under `uploadPrefix`. A plain job that never fetches a
 * reply is then not a false `close-before-reply`.
 *
 * Uploads follow DEMO_SCHEDULE, shared by all clients: its first entries are one of each
 * kind, so any run of at least that many uploads shows all of them, and the rest keeps
 * most traffic well-behaved. Bounded: `clients` workers share `clients × rounds` uploads
 * and stop at `durationMs`; files are small, generated in a temp dir and deleted after.
 * File names carry a per-run id (no 409 on re-runs) and the role, so the dashboard's URL
 * column says what each session was meant to do.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { uploadFile, type MisbehaveMode } from '../client/index.js';

/**
 * `upload`, `upload-reply` and `cancel` (Cancel-Session after the first fragment, a legal
 * end) behave; the others commit their `--misbehave` error.
 */
export type DemoRole = 'upload' | 'upload-reply' | 'cancel' | MisbehaveMode;

export const DEMO_SCHEDULE: readonly DemoRole[] = [
  // One of each first, so even a short run shows everything.
  'upload', 'upload-reply', 'close-early', 'skip-reply', 'gap', 'unknown-session', 'double-close', 'cancel',
  // Then mostly well-behaved traffic (11 of every 16 uploads overall).
  'upload', 'upload-reply', 'upload', 'upload', 'upload-reply', 'upload', 'upload-reply', 'upload',
];

/** Roles that follow the protocol (their sessions must show no error-severity violation). */
export function isWellBehaved(role: DemoRole): boolean {
  return role === 'upload' || role === 'upload-reply' || role === 'cancel';
}

/** Every role, in schedule order. */
export const DEMO_ROLES: readonly DemoRole[] = [...new Set(DEMO_SCHEDULE)];

/** Roles whose upload is an upload-reply job (goes under the reply prefix). */
export function isReplyRole(role: DemoRole): boolean {
  return role === 'upload-reply' || role === 'skip-reply';
}

export const DEMO_DEFAULTS = {
  clients: 12,
  rounds: 10,
  durationMs: 20_000,
  maxFileBytes: 256 * 1024,
  pauseMs: 500,
  replyPrefix: '/reply/',
  uploadPrefix: '/uploads/',
} as const;

export interface DemoOptions {
  /** Gateway (or server) URL; only its origin is used, paths come from the prefixes. */
  baseUrl: URL;
  clients?: number;
  /** Uploads per client; the run does `clients × rounds` uploads at most. */
  rounds?: number;
  /** Stop starting uploads after this long. */
  durationMs?: number;
  /** Largest generated file. */
  maxFileBytes?: number;
  /** Pause between one client's uploads. */
  pauseMs?: number;
  /** Directory the server runs upload-reply in (`bitsgate serve --reply-prefix`). */
  replyPrefix?: string;
  /** Directory for plain uploads and the misbehaviours that need no reply. */
  uploadPrefix?: string;
  /** Retries per packet for transient failures (the client's default is 5). */
  maxRetries?: number;
  /** Aborting stops starting uploads; running ones finish. */
  signal?: AbortSignal;
  onUpload?(line: string): void;
}

export interface RoleTally {
  uploads: number;
  /** Close-Session answered 2xx (the server committed, or deleted a partial upload). */
  closed: number;
  /** Cancel-Session answered 2xx. */
  cancelled: number;
  /** The upload threw: a fatal status or a lost connection after retries. */
  failures: number;
  /** Final Acks that carried BITS-Reply-URL. */
  replyUrls: number;
  /** Replies downloaded. */
  repliesFetched: number;
}

export interface DemoReport {
  runId: string;
  uploads: number;
  failures: number;
  elapsedMs: number;
  byRole: Partial<Record<DemoRole, RoleTally>>;
  /** Roles that never ran (the run was shorter than the first schedule entries). */
  missing: DemoRole[];
}

/** The role of the run's n-th upload. */
export function roleOf(n: number): DemoRole {
  return DEMO_SCHEDULE[n % DEMO_SCHEDULE.length]!;
}

/** Smallest file that lets the role do what it is for. */
function minSize(role: DemoRole): number {
  // close-early, gap and cancel need two bytes to split; a reply needs a final fragment.
  if (role === 'close-early' || role === 'gap' || role === 'cancel') return 2;
  if (role === 'upload-reply' || role === 'skip-reply') return 1;
  return 0;
}

/** The URL of the n-th upload: reply jobs under the reply prefix, the rest under the upload prefix. */
export function demoTarget(baseUrl: URL, prefixes: { replyPrefix: string; uploadPrefix: string }, runId: string, n: number, role: DemoRole): URL {
  const dir = isReplyRole(role) ? prefixes.replyPrefix : prefixes.uploadPrefix;
  const slash = dir.endsWith('/') ? dir : `${dir}/`;
  return new URL(`${slash}demo-${runId}-${String(n).padStart(4, '0')}-${role}.bin`, baseUrl.origin);
}

export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const clients = options.clients ?? DEMO_DEFAULTS.clients;
  const rounds = options.rounds ?? DEMO_DEFAULTS.rounds;
  const maxBytes = Math.max(2, options.maxFileBytes ?? DEMO_DEFAULTS.maxFileBytes);
  const pauseMs = options.pauseMs ?? DEMO_DEFAULTS.pauseMs;
  const prefixes = {
    replyPrefix: options.replyPrefix ?? DEMO_DEFAULTS.replyPrefix,
    uploadPrefix: options.uploadPrefix ?? DEMO_DEFAULTS.uploadPrefix,
  };
  const startedAt = Date.now();
  const deadline = startedAt + (options.durationMs ?? DEMO_DEFAULTS.durationMs);
  const total = clients * rounds;
  const runId = randomUUID().slice(0, 8);
  const report: DemoReport = { runId, uploads: 0, failures: 0, elapsedMs: 0, byRole: {}, missing: [] };
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-demo-'));
  let next = 0;

  const runOne = async (client: number, n: number) => {
    const role = roleOf(n);
    const tally = (report.byRole[role] ??= { uploads: 0, closed: 0, cancelled: 0, failures: 0, replyUrls: 0, repliesFetched: 0 });
    const size = minSize(role) + Math.floor(Math.random() * (maxBytes - minSize(role) + 1));
    const fragmentSize = 16 * 1024 + Math.floor(Math.random() * 48 * 1024);
    const target = demoTarget(options.baseUrl, prefixes, runId, n, role);
    const file = path.join(dir, `${n}.bin`);
    await fs.writeFile(file, randomBytes(size));
    try {
      const r = await uploadFile({
        url: target,
        file,
        contentName: path.posix.basename(target.pathname),
        // A cancelled job stops after its first fragment, so it needs more than one.
        fragmentSize: role === 'cancel' ? Math.min(fragmentSize, Math.ceil(size / 2)) : fragmentSize,
        misbehave: isWellBehaved(role) ? undefined : (role as MisbehaveMode),
        cancelAfter: role === 'cancel' ? 1 : undefined,
        maxRetries: options.maxRetries ?? 2,
        backoffBaseMs: 100,
      });
      if (r.closed) tally.closed++;
      if (r.cancelled) tally.cancelled++;
      if (r.replyUrl !== undefined) tally.replyUrls++;
      if (r.reply !== undefined) tally.repliesFetched++;
      const what = r.misbehaved
        ? r.misbehaved.detail
        : r.cancelled ? `cancelled after ${r.acked} bytes` : `${r.closed ? 'closed' : 'not closed'}${r.reply ? ', reply fetched' : ''}`;
      options.onUpload?.(`client ${client} ${role} ${target.pathname}: ${r.acked}/${r.total} bytes, session ${r.sessionId ?? '-'}, ${what}`);
    } catch (err) {
      tally.failures++;
      report.failures++;
      options.onUpload?.(`client ${client} ${role} ${target.pathname}: failed: ${(err as Error).message}`);
    } finally {
      await fs.rm(file, { force: true });
    }
    tally.uploads++;
    report.uploads++;
  };

  try {
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        while (next < total && Date.now() < deadline && !options.signal?.aborted) {
          await runOne(client, next++);
          if (next < total) await new Promise((r) => setTimeout(r, pauseMs));
        }
      }),
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  report.elapsedMs = Date.now() - startedAt;
  report.missing = DEMO_ROLES.filter((role) => !report.byRole[role]);
  return report;
}
