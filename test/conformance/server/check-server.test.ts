import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVER_CASES } from '../../../src/conformance/server/index.js';
import { listFiles, startFixture, type Fixture } from '../../server/helpers.js';
import { deviatingCases, outcomes, runCheck } from './run-check.js';
import { freePort } from '../../free-port.js';

/** The exact case list, in order; host-id applies only when the server issues BITS-Host-Id. */
const CASE_NAMES = [
  'ping', 'create-session', 'create-session-guid-case', 'create-session-no-common-protocol',
  'fragments-contiguous', 'fragment-gap', 'fragment-overlap', 'fragment-duplicate', 'fragment-changed-total',
  'unknown-session', 'close-open-no-data', 'close-mid-upload', 'close-uploaded', 'close-after-close',
  'close-after-cancel', 'cancel-open-no-data', 'cancel-mid-upload', 'cancel-uploaded', 'cancel-after-cancel',
  'cancel-after-close', 'upload-reply', 'host-id', 'error-code-format',
];

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe('bitsgate check-server against bitsgate serve', () => {
  for (const commitOn of ['final-fragment', 'close'] as const) {
    it(`passes every case with --commit-on ${commitOn}, and leaves files only under the prefix it names`, async () => {
      fixture = await startFixture({ commitOn, replyMode: 'sha256', replyPrefix: '/reply/' });
      const base = fixture.server.url;
      const { code, report, err } = await runCheck([`${base}up/`, '--reply-url', `${base}reply/`]);

      expect(SERVER_CASES.map((c) => c.name)).toEqual(CASE_NAMES);
      expect(outcomes(report)).toEqual(CASE_NAMES.map((n) => [n, n === 'host-id' ? 'not-applicable' : 'pass']));
      expect(code).toBe(0);
      expect(report.leftOpen).toEqual([]);
      expect(fixture.server.sessionCount()).toBe(0);

      // The prefix is printed at the start and the end, and is where every file went.
      const dir = /^http:\/\/127\.0\.0\.1:\d+\/up\/(bitsgate-check-[0-9a-f]{8})\/$/.exec(report.prefix)![1]!;
      expect(report.replyUrl).toBe(`${base}reply/${dir}/`);
      expect(err.split('\n')[0]).toContain(`uploads go under ${report.prefix}`);
      expect(err.trimEnd().split('\n').at(-1)).toContain(`under ${report.prefix}`);
      // The Conflicts are accepted and said so.
      const overlap = report.cases.find((c) => c.name === 'fragment-overlap')!;
      expect(overlap.notes).toEqual(['Conflict (§4, overlap): seen 200 + BITS-Received-Content-Range 20, as [W] Fragment (only the new bytes are written); either reading passes']);
      const cancelUploaded = report.cases.find((c) => c.name === 'cancel-uploaded')!;
      expect(cancelUploaded.notes[0]).toContain(commitOn === 'final-fragment' ? 'the file stayed after Cancel' : 'the [M] 1.3.2 reading');

      // Final-fragment commits what was fully uploaded, also when cancelled afterwards; close
      // commits only on Close. A session closed with no data is a 0-byte file (§4 Unverified).
      const committed = ['cancel-after-close', 'close-after-close', 'close-open-no-data', 'close-uploaded', 'fragments-contiguous',
        ...(commitOn === 'final-fragment' ? ['cancel-uploaded'] : [])];
      expect(await listFiles(fixture.root)).toEqual([
        ...committed.map((n) => `up/${dir}/${n}.bin`),
        `reply/${dir}/upload-reply.bin`,
      ].sort());
      expect(await fs.readdir(path.join(fixture.root, '.bitsgate-tmp'))).toEqual([]);
    });
  }

  it('checks BITS-Host-Id when the server issues one: Ping and the session go to that host', async () => {
    const port = await freePort();
    fixture = await startFixture({ listen: { host: '127.0.0.1', port }, hostId: `127.0.0.1:${port}`, hostIdFallbackTimeout: 60 });
    // Through "localhost" the Host-Id names a different host:port than the URL.
    const { code, report } = await runCheck([`http://localhost:${port}/up/`]);
    const hostId = report.cases.find((c) => c.name === 'host-id')!;
    expect(hostId).toMatchObject({ outcome: 'pass', notes: [`BITS-Host-Id 127.0.0.1:${port}, fallback after 60 s`] });
    // Without --reply-url, upload-reply does not apply to a plain-upload URL, and says why.
    expect(report.cases.find((c) => c.name === 'upload-reply')).toMatchObject({ outcome: 'not-applicable' });
    expect(report.cases.find((c) => c.name === 'upload-reply')!.notes[0]).toMatch(/^not applicable: .*plain-upload virtual directory.*--reply-url/);
    expect(deviatingCases(report)).toEqual([]);
    expect(code).toBe(0);
    expect(fixture.server.sessionCount()).toBe(0);
  });
});
