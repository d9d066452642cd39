/**
 * `bitsgate check-client` end to end, on real sockets: the gateway with the case runner as
 * its injection policy, the embedded BITS server behind it, and our own client (`uploadFile`,
 * which writes the literal BITS_POST) run once per case. Our client passes every case; each
 * --misbehave mode fails exactly the cases whose recovery it breaks.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile, type MisbehaveMode } from '../../../src/client/index.js';
import { startCheckClient, type CheckClientOptions } from '../../../src/commands/check-client.js';
import { CLIENT_CASE_IDS, type ClientCaseId } from '../../../src/conformance/client/cases.js';
import type { ClientSuiteReport } from '../../../src/conformance/client/report.js';

let dir: string;
let file: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'check-client-test-'));
  file = path.join(dir, 'src.bin');
  await fs.writeFile(file, randomBytes(10_000)); // three 4 KiB fragments
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const SUITE_OPTIONS: CheckClientOptions = {
  listen: { host: '127.0.0.1', port: 0 },
  cases: [...CLIENT_CASE_IDS],
  replyPrefix: '/reply/',
  settleMs: 300,
  caseTimeoutMs: 1_000,
  dashboard: false,
  json: false,
  logLevel: 'silent',
};

/** Runs our client once per case (the reply case on a /reply/ URL), as a person would. */
async function runSuite(misbehave?: MisbehaveMode, options: Partial<CheckClientOptions> = {}): Promise<ClientSuiteReport> {
  const run = await startCheckClient({ ...SUITE_OPTIONS, ...options });
  try {
    for (const id of options.cases ?? CLIENT_CASE_IDS) {
      const prefix = id === 'reply' ? '/reply/' : '/uploads/';
      await uploadFile({
        url: `${run.url}${prefix}${id}.bin`, file, fragmentSize: 4096, ...(misbehave && { misbehave }),
        backoffBaseMs: 5, backoffMaxMs: 20, retryForMs: 3_000, idleTimeoutMs: 5_000,
      }).catch(() => undefined); // a misbehaving client may give up: the suite judges that
    }
    // A client that never creates a session leaves every case unassigned: end it as Ctrl-C would.
    if (misbehave === 'unknown-session') setTimeout(() => run.stop(), 200);
    return await run.finished;
  } finally {
    await run.close();
  }
}

const verdicts = (r: ClientSuiteReport) => Object.fromEntries(r.cases.map((c) => [c.id, c.verdict]));
const failing = (r: ClientSuiteReport) => r.cases.filter((c) => c.verdict === 'fail').map((c) => c.id);

describe('check-client against our own client', () => {
  it('passes every case, each with the recovery it expects', async () => {
    const report = await runSuite();
    expect(report.cases.map((c) => [c.id, c.verdict, c.reason])).toEqual([
      ['baseline', 'pass', 'a clean upload, then closed after the last Ack'],
      ['lost-fragment-ack', 'pass', 'resent Fragment 0-4095/10000 after the lost Ack, then closed after the last Ack'],
      ['resync-416', 'pass', 'resumed at 4096 after the 416, then closed after the last Ack'],
      ['shrink-413', 'pass', 'sent 1024-byte fragments after the 413 on 4096 bytes, then closed after the last Ack'],
      ['session-lost', 'pass', 'started again with Create-Session after 0x8020001F on Fragment 4096-8191/10000, then closed after the last Ack'],
      ['lost-close-ack', 'pass', 'resent Close-Session after the lost Ack (answered 500 0x8020001F), then closed after the last Ack'],
      ['close-5xx', 'pass', 'resent Close-Session after the 500 0x80004005, then closed after the last Ack'],
      ['close-4xx', 'pass', 'did not resend Close-Session after the final 403 0x80070005'],
      ['reply', 'pass', 'fetched BITS-Reply-URL before Close-Session, then closed after the last Ack'],
    ]);
    expect(report.passed).toBe(true);
    expect(report.counts).toEqual({ pass: 9, fail: 0, incomplete: 0 });
    // The restart after 0x8020001F was linked to its case: two sessions.
    expect(report.cases.find((c) => c.id === 'session-lost')!.sessions).toHaveLength(2);
  });
});

/** Each mode breaks exactly these recoveries (src/client/misbehave.ts). */
const MATRIX: ReadonlyArray<[MisbehaveMode, ClientCaseId[]]> = [
  ['close-early', [...CLIENT_CASE_IDS]],
  ['skip-reply', ['reply']],
  ['gap', ['baseline']],
  ['double-close', ['baseline']],
  ['no-resend', ['lost-fragment-ack', 'lost-close-ack']],
  ['ignore-range', ['resync-416']],
  ['no-shrink', ['shrink-413']],
  ['no-restart', ['session-lost']],
  ['no-close-resend', ['close-5xx']],
  ['resend-close-4xx', ['close-4xx']],
];

describe('check-client against each --misbehave mode', () => {
  it.concurrent.each(MATRIX)('%s fails exactly its cases and passes the others', async (mode, expected) => {
    const report = await runSuite(mode);
    expect(failing(report)).toEqual(expected);
    expect(report.cases.filter((c) => c.verdict === 'incomplete').map((c) => [c.id, c.reason])).toEqual([]);
    expect(report.passed).toBe(false);
  });

  it('unknown-session creates no session: every case stays unassigned (incomplete), none fails', async () => {
    const report = await runSuite('unknown-session');
    expect(verdicts(report)).toEqual(Object.fromEntries(CLIENT_CASE_IDS.map((id) => [id, 'incomplete'])));
    expect(report.cases[0]!.reason).toBe('no session was assigned this case: run the client once more');
  });
});
