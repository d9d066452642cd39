/**
 * A real redis-server for fleet tests, on a free loopback port (field-notes-2 §3), with an
 * append-only file fsynced on every write: stop() (SIGKILL, a crash) and start() again on
 * the same port bring back every entry Redis acknowledged, as a production Redis with AOF
 * does. (Without persistence a crash also loses entries some node had not read yet.) Tests skip when redis-server is not installed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../free-port.js';

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
export const NO_REDIS_REASON = 'redis-server is not installed (apt-get install redis-server): fleet tests skipped';

export class TestRedis {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number, private readonly dir: string, private readonly persistent: boolean) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** `persistent: false` (benchmarks): no AOF, nothing survives a stop. */
  static async start(persistent = true): Promise<TestRedis> {
    const dir = await mkdtemp(join(tmpdir(), 'bitsgate-redis-'));
    for (let attempt = 0; ; attempt++) {
      const r = new TestRedis(await freePort(), dir, persistent);
      try {
        await r.start();
        return r;
      } catch (err) {
        if (attempt >= 4) throw err;
      }
    }
  }

  /** (Re)starts the server on its port; resolves when it accepts connections. */
  start(): Promise<void> {
    const child = spawn(REDIS_SERVER!, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...(this.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), '--dir', this.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${out.slice(-500)}`));
      });
    });
  }

  /** Kills the server (SIGKILL: like a crash) and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** SIGSTOP: Redis hangs, its connections stay open and unanswered (the kernel still accepts new ones). */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** SIGCONT: Redis answers again, the commands it was sent meanwhile included. */
  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async close(): Promise<void> {
    this.resume();
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
