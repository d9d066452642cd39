/**
 * The client survives real outages (issue 15 part 9, issue 10): `serve` killed and
 * restarted mid-upload (the session is lost: restart at Create-Session, file identical),
 * a gateway/network outage longer than the old 4-8 s of retries, progress shown while it
 * waits, and Ctrl-C honoured at once, even in the middle of a backoff wait.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/client/index.js';
import { listFiles, sha256, startFixture } from '../server/helpers.js';
import { startRelay } from './test-peers.js';
import { freePort } from '../free-port.js';

const cli = path.join(__dirname, '..', '..', 'src', 'cli.ts');
let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-outage-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await fs.rm(dir, { recursive: true, force: true });
});

function bitsgate(args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  cleanups.push(() => void child.kill('SIGKILL'));
  return child;
}

/** Resolves with the first match of `re` in the child's stderr so far. */
function stderrMatch(child: ChildProcessWithoutNullStreams, re: RegExp): Promise<RegExpExecArray> {
  let err = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      err += d.toString();
      const m = re.exec(err);
      if (m) {
        child.stderr.off('data', onData);
        resolve(m);
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code} before ${re}: ${err}`)));
  });
}

function collect(child: ChildProcessWithoutNullStreams): { err: () => string; exit: Promise<number | null> } {
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { err: () => err, exit: new Promise((r) => child.once('exit', (code) => r(code))) };
}

describe('bitsgate serve killed (SIGKILL) and restarted mid-upload', () => {
  it('the client reconnects, is told 0x8020001F, starts again at Create-Session and the file arrives byte-identical', async () => {
    const root = path.join(dir, 'root');
    const port = await freePort();
    const startServe = async () => {
      const child = bitsgate(['serve', '--root', root, '--listen', `127.0.0.1:${port}`]);
      await stderrMatch(child, /listening on http:\/\/127\.0\.0\.1:\d+\//);
      return child;
    };
    let serve = await startServe();
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const file = path.join(dir, 'restart.bin');
    await fs.writeFile(file, data);
    const log: string[] = [];
    let killed = false;
    let restarted: Promise<void> | undefined;
    const result = await uploadFile({
      url: `http://127.0.0.1:${port}/up/restart.bin`,
      file,
      fragmentSize: 256 * 1024,
      backoffMaxMs: 200,
      retryForMs: 60_000,
      onLog: (l) => log.push(l),
      onProgress: (p) => {
        if (killed || p.acked < 1024 * 1024) return;
        killed = true;
        const dead = new Promise((r) => serve.once('exit', r));
        serve.kill('SIGKILL');
        restarted = dead.then(async () => {
          serve = await startServe();
        });
      },
    });
    await restarted;
    expect(killed).toBe(true);
    expect(result).toMatchObject({ closed: true, restarts: 1, acked: data.length });
    expect(result.retries).toBeGreaterThan(0);
    expect(log).toEqual([`session lost (0x8020001F): restarting from byte 0 (Fragment answered 500; ${1024 * 1024} of ${data.length} bytes had been acknowledged)`]);
    expect(sha256(await fs.readFile(path.join(root, 'up', 'restart.bin')))).toBe(sha256(data));
    // The restarted server cleared the killed one's temp file; the finished upload left none.
    expect(await listFiles(root)).toEqual(['up/restart.bin']);
    serve.kill('SIGTERM');
  }, 30_000);
});

describe('bitsgate upload through an outage (the port closed ~10 s, then back)', () => {
  it('waits with a line per wait (reason, next attempt), resumes the same session and completes', async () => {
    const fx = await startFixture();
    cleanups.push(() => fx.close());
    let outage: Promise<void> | undefined;
    let downAt = 0;
    let upAt = 0;
    const relay = await startRelay(fx.port, ({ dir: d, upTotal }) => {
      if (!outage && d === 'up' && upTotal > 600_000) {
        outage = (async () => {
          downAt = Date.now();
          await relay.down();
          await new Promise((r) => setTimeout(r, 10_000));
          await relay.up();
          upAt = Date.now();
        })();
      }
      return false;
    });
    cleanups.push(() => relay.close());
    const data = randomBytes(2 * 1024 * 1024);
    const file = path.join(dir, 'outage.bin');
    await fs.writeFile(file, data);
    // The default --retry-for (minutes) rides it out; --backoff-max keeps the test short.
    const child = bitsgate(['upload', `http://127.0.0.1:${relay.port}/o/outage.bin`, file, '--fragment-size', '64k', '--backoff-max', '1s']);
    const { err, exit } = collect(child);
    const code = await exit;
    expect(code, err()).toBe(0);
    await outage;
    expect(upAt - downAt).toBeGreaterThanOrEqual(10_000);
    expect(sha256(await fs.readFile(path.join(fx.root, 'o', 'outage.bin')))).toBe(sha256(data));
    const lines = err().trimEnd().split('\n');
    const waits = lines.filter((l) => l.includes('waiting:'));
    // At most 1 s apart over 10 s, plus the first short ones.
    expect(waits.length, err()).toBeGreaterThanOrEqual(10);
    for (const [i, w] of waits.entries()) {
      expect(w, err()).toMatch(
        new RegExp(`^bitsgate upload: waiting: (Fragment|Ping): .*no answer \\([A-Z_]+[^)]*\\).*; retry ${i + 1} at \\d\\d:\\d\\d:\\d\\dZ \\(in [\\d.]+ s\\); giving up at \\d\\d:\\d\\d:\\d\\dZ without progress$`),
      );
    }
    // The same session went on: no restart, no log line but the waits and the summary.
    expect(lines.filter((l) => !l.includes('waiting:')), err()).toEqual([expect.stringMatching(/^bitsgate upload: uploaded 2\.00 MiB of 2\.00 MiB .*, \d+ retries$/)]);
  }, 40_000);
});

describe('Ctrl-C (SIGINT)', () => {
  it('ends a backoff wait at once: exit 130, well before the announced retry', async () => {
    const port = await freePort(); // nothing listens: every connect is refused
    const file = path.join(dir, 'x.bin');
    await fs.writeFile(file, 'x');
    const child = bitsgate(['upload', `http://127.0.0.1:${port}/x.bin`, file]);
    const { err, exit } = collect(child);
    // The fifth wait is at least 2 s long (250 ms doubling, jitter in the upper half).
    const m = await stderrMatch(child, /waiting: Ping: no answer \(ECONNREFUSED, connect failed\); retry 5 at \S+ \(in ([\d.]+) s\)/);
    expect(Number(m[1])).toBeGreaterThanOrEqual(2);
    const sent = Date.now();
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    expect(Date.now() - sent).toBeLessThan(1000);
    expect(err().endsWith('bitsgate upload: interrupted (Ctrl-C); nothing more was sent\n')).toBe(true);
  }, 30_000);

  it('ends a request the server never answers at once', async () => {
    let seen!: () => void;
    const gotRequest = new Promise<void>((r) => (seen = r));
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.once('data', () => seen());
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      silent.close(() => r());
    }));
    const file = path.join(dir, 'x.bin');
    await fs.writeFile(file, 'x');
    const child = bitsgate(['upload', `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/x.bin`, file]);
    const { exit } = collect(child);
    await gotRequest;
    const sent = Date.now();
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    expect(Date.now() - sent).toBeLessThan(1000);
  }, 30_000);
});
