import { Redis, type RedisOptions } from 'ioredis';

/**
 * A Redis connection for the fleet. ioredis's offline queue is unbounded and an unanswered
 * command is re-sent after a reconnect (field-notes-2 §3): both are off, so a command
 * fails at once while Redis is away and the caller decides (backlog, retry). Reconnects
 * are quick and capped at 1 s, so a fleet catches up soon after Redis returns.
 */
export function connectRedis(url: string, name: string): Redis {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    connectionName: name,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    lazyConnect: true,
  };
  return new Redis(url, options);
}

/** Resolves when `redis` is ready, false after `timeoutMs` (it keeps trying in the background). */
export function whenReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.on('ready', onReady);
    if (redis.status === 'wait') redis.connect().catch(() => {});
  });
}

/**
 * `command`, or a rejection when it is unanswered after `ms` (a Redis that holds the
 * connection without answering); `onLate` is told first. Checked after the poll phase
 * (setImmediate): a reply delayed by a busy event loop is read first.
 */
export function answerWithin<T>(command: Promise<T>, ms: number, onLate?: () => void): Promise<T> {
  let answered = false;
  let timer: NodeJS.Timeout | undefined;
  const settled = command.finally(() => { answered = true; });
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => setImmediate(() => {
      if (answered) return;
      onLate?.();
      reject(new Error('Redis did not answer in time'));
    }), ms);
  });
  return Promise.race([settled, deadline]).finally(() => clearTimeout(timer));
}

/** Splits `redis://HOST:PORT[/DB]/STREAM` (the analyze form) into a connection URL and a stream. */
export function splitStreamUrl(raw: string, defaultStream: string): { url: string; stream: string } {
  const u = new URL(raw);
  const parts = u.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let db = '';
  if (parts.length >= 2 && /^\d{1,2}$/.test(parts[0]!)) db = parts.shift()!;
  const stream = parts.join('/') || defaultStream;
  u.pathname = db ? `/${db}` : '';
  return { url: u.toString(), stream };
}

/** True for a redis:// or rediss:// URL. */
export function isRedisUrl(raw: string): boolean {
  return /^rediss?:\/\//i.test(raw);
}
