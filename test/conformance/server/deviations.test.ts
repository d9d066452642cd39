import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFiles, startFixture, type Fixture } from '../../server/helpers.js';
import { DEVIATIONS, startDeviatingServer, type Deviation } from './deviating-server.js';
import { deviatingCases, runCheck } from './run-check.js';

let fixture: Fixture;
beforeAll(async () => {
  fixture = await startFixture({ replyMode: 'sha256', replyPrefix: '/reply/' });
});
afterAll(() => fixture.close());

async function checkThrough(variant: Parameters<typeof startDeviatingServer>[1]) {
  const front = await startDeviatingServer(fixture.server.url, variant);
  try {
    return await runCheck([`${front.url}up/`, '--reply-url', `${front.url}reply/`]);
  } finally {
    await front.close();
  }
}

describe('bitsgate check-server against a server with one deliberate deviation', () => {
  it.each(Object.entries(DEVIATIONS) as [Deviation, string][])('%s is reported as %s, and nothing else is', async (deviation, caseName) => {
    const { code, report } = await checkThrough(deviation);
    expect(deviatingCases(report)).toEqual([caseName]);
    expect(code).toBe(1);
    expect(report.leftOpen).toEqual([]);
    expect(fixture.server.sessionCount()).toBe(0);
    // Nothing outside the run's prefix, whatever the deviation made the suite do.
    const dir = report.prefix.split('/').at(-2)!;
    for (const f of await listFiles(fixture.root)) expect(f).toMatch(new RegExp(`^(up|reply)/bitsgate-check-[0-9a-f]{8}/`));
    expect((await listFiles(fixture.root)).some((f) => f.includes(dir))).toBe(true);
  });

  it('names the expected and the seen answer in each deviation', async () => {
    const gap = (await checkThrough('gap-416-wrong-range')).report.cases.find((c) => c.name === 'fragment-gap')!;
    expect(gap.deviations).toEqual(['Fragment 20-29/30: expected 416 + BITS-Received-Content-Range 10, seen 416 + BITS-Received-Content-Range 11']);
    const noRange = (await checkThrough('gap-416-without-range')).report.cases.find((c) => c.name === 'fragment-gap')!;
    expect(noRange.deviations).toEqual(['Fragment 20-29/30: expected 416 + BITS-Received-Content-Range 10, seen 416 without BITS-Received-Content-Range']);
    const unknown = (await checkThrough('unknown-session-200')).report.cases.find((c) => c.name === 'unknown-session')!;
    expect(unknown.deviations).toHaveLength(2);
    expect(unknown.deviations[0]).toMatch(/^Fragment with the never-issued id \{[0-9A-F-]{36}\}: expected 500 \+ 0x8020001F BG_E_SESSION_NOT_FOUND \[session-lost\], seen 200 \[ok\]$/);
    expect(unknown.deviations[1]).toMatch(/^Close-Session with the never-issued id \{[0-9A-F-]{36}\}: expected 500 \+ 0x8020001F BG_E_SESSION_NOT_FOUND \[session-lost\], seen 200 \[ok\]$/);
    const ping = (await checkThrough('ping-ack-without-packet-type')).report.cases.find((c) => c.name === 'ping')!;
    expect(ping.deviations).toEqual(['Ping: answer 200 without BITS-Packet-Type (expected Ack)']);
    const total = (await checkThrough('accepts-changed-total')).report.cases.find((c) => c.name === 'fragment-changed-total')!;
    expect(total.deviations).toEqual(['Fragment 10-19/40: expected 400 + 0x80070057 E_INVALIDARG [fatal], seen 200 + BITS-Received-Content-Range 10 [ok]']);
    const close = (await checkThrough('close-mid-upload-keeps-session')).report.cases.find((c) => c.name === 'close-mid-upload')!;
    expect(close.deviations).toEqual(['Fragment 10-19/30 after Close-Session: expected 500 + 0x8020001F BG_E_SESSION_NOT_FOUND [session-lost], seen 200 + BITS-Received-Content-Range 20 [ok]']);
    const decimal = (await checkThrough('error-code-in-decimal')).report.cases.find((c) => c.name === 'error-code-format')!;
    expect(decimal.deviations[0]).toBe('create-session-no-common-protocol: Create-Session: BITS-Error-Code "2147942487" is not hex (expected e.g. 0x80070057)');
  });

  it('accepts the other reading of a Conflict ([M]: 416 on an overlap) and says which reading the server follows', async () => {
    const { code, report } = await checkThrough('overlap-416');
    expect(deviatingCases(report)).toEqual([]);
    expect(code).toBe(0);
    expect(report.cases.find((c) => c.name === 'fragment-overlap')!.notes).toEqual([
      'Conflict (§4, overlap): seen 416 + 0x00000000 S_OK + BITS-Received-Content-Range 10, as [M] 3.2.5.2.6 read literally (416 for any start but R); either reading passes',
    ]);
  });
});
