/**
 * The dashboard's Conformance panel in headless Chromium, fed by a running check-client
 * suite: hidden without a suite message, then one row per case that follows the verdicts,
 * and text from traffic rendered as text (never HTML).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../../src/client/index.js';
import { startCheckClient, type CheckClientRun } from '../../../src/commands/check-client.js';
import { haveChromium, launchChromium, type LaunchedChromium } from '../../dashboard/chromium.js';

describe.skipIf(!haveChromium)('Conformance panel in headless Chromium', () => {
  let browser: LaunchedChromium;
  let run: CheckClientRun;
  let dir: string;

  beforeAll(async () => {
    browser = await launchChromium({ width: 1280, height: 800 });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'check-client-panel-'));
    run = await startCheckClient({
      listen: { host: '127.0.0.1', port: 0 }, cases: ['baseline', 'close-4xx'], replyPrefix: '/reply/', settleMs: 100, caseTimeoutMs: 2_000,
      dashboard: { host: '127.0.0.1', port: 0 }, json: false, logLevel: 'silent',
    });
  }, 60_000);

  afterAll(async () => {
    await run?.close();
    await browser?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('shows each case with its state and the judge’s line, as text', async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(run.app.dashboard!.url);
    const panel = page.locator('#conformance');
    await panel.waitFor();
    await expect.poll(() => page.locator('tr[data-case="baseline"] .conf-state').textContent()).toBe('waiting');

    const file = path.join(dir, 'f.bin');
    await fs.writeFile(file, randomBytes(10_000));
    await uploadFile({ url: `${run.url}/uploads/p.bin`, file, fragmentSize: 4096 });
    await expect.poll(() => page.locator('tr[data-case="baseline"] .conf-state').textContent(), { timeout: 10_000 }).toBe('pass');
    await expect.poll(() => page.locator('tr[data-case="baseline"] .conf-seen').textContent()).toBe('a clean upload, then closed after the last Ack · on /uploads/p.bin');

    // Markup in a reason (it may quote a URL) stays text.
    run.app.dashboard!.hub.setPanel('conformance', {
      type: 'conformance', suite: 'client', done: false,
      cases: [{ id: 'baseline', state: 'fail', fault: 'none', expected: 'x', reference: '§5', sessions: [], reason: '<img src=x onerror="window.pwned=1">' }],
    });
    await expect.poll(() => page.locator('tr[data-case="baseline"] .conf-seen').textContent()).toBe('<img src=x onerror="window.pwned=1">');
    expect(await page.locator('#conformance img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.locator('#conformance-summary').textContent()).toBe('0 passed, 1 failed of 1');
    expect(errors).toEqual([]);
    await page.close();
  });
});
