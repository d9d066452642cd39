import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { uploadFile } from '../../src/client/index.js';

// The whole product as `npm start` runs it: embedded BITS server, gateway, tracker,
// sinks and dashboard, driven by our client over real sockets (it writes BITS_POST).
let dir: string;
let app: App;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitsgate-stack-'));
  app = await startApp({
    logger: pino({ level: 'silent' }),
    listen: { host: '127.0.0.1', port: 0 },
    dashboard: { host: '127.0.0.1', port: 0 },
    embedded: { root: join(dir, 'root'), replyMode: 'sha256', replyPrefix: '/reply/' },
    record: join(dir, 'record.ndjson'),
  });
});

afterAll(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

async function makeFile(name: string, size: number): Promise<string> {
  const path = join(dir, name);
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 0xff;
  await writeFile(path, data);
  return path;
}

async function getJson(path: string): Promise<any> {
  const res = await fetch(new URL(path, app.dashboard!.url));
  expect(res.status).toBe(200);
  return res.json();
}

describe('the default stack', () => {
  it('carries a real upload through the gateway and tracks it to closed', async () => {
    const file = await makeFile('good.bin', 300_000);
    const result = await uploadFile({ url: `${app.gateway.url}/uploads/good.bin`, file, fragmentSize: 65_536 });
    expect(result.closed).toBe(true);
    const stored = await readFile(join(dir, 'root', 'uploads', 'good.bin'));
    expect(createHash('sha256').update(stored).digest('hex'))
      .toBe(createHash('sha256').update(await readFile(file)).digest('hex'));

    const session = app.tracker.session(result.sessionId!);
    expect(session).toMatchObject({ state: 'closed', totalLength: 300_000, ackedBytes: 300_000, fragments: 5 });
    expect(session!.violations).toEqual([]);

    const listed = await getJson('/api/sessions');
    expect(listed.find((s: { id: string }) => s.id === result.sessionId)).toMatchObject({ state: 'closed' });
  });

  it('flags close-incomplete for a client that closes early, visible on the dashboard API', async () => {
    const file = await makeFile('early.bin', 200_000);
    const result = await uploadFile({
      url: `${app.gateway.url}/uploads/early.bin`, file, fragmentSize: 65_536, misbehave: 'close-early',
    });
    const session = app.tracker.session(result.sessionId!);
    expect(session!.violations).toContain('close-incomplete');
    const violations = await getJson('/api/violations');
    expect(violations.find((v: { code: string; sessionId: string }) =>
      v.code === 'close-incomplete' && v.sessionId === result.sessionId)).toBeTruthy();
  });

  it('flags close-before-reply only for upload-reply URLs', async () => {
    const file = await makeFile('reply.bin', 100_000);
    const skipped = await uploadFile({
      url: `${app.gateway.url}/reply/skip.bin`, file, fragmentSize: 65_536, misbehave: 'skip-reply',
    });
    expect(app.tracker.session(skipped.sessionId!)!.violations).toContain('close-before-reply');

    const fetched = await uploadFile({ url: `${app.gateway.url}/reply/fetch.bin`, file, fragmentSize: 65_536 });
    expect(fetched.reply?.toString()).toMatch(/[0-9a-f]{64}/);
    const s = app.tracker.session(fetched.sessionId!)!;
    expect(s).toMatchObject({ state: 'closed', replyFetched: true });
    expect(s.violations).toEqual([]);
  });
});
