/**
 * The dashboard marks an injected exchange on the session timeline with an "injected" badge
 * (text, never HTML). Real headless Chromium, synthetic events.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, haveChromium, launchChromium, type LaunchedChromium } from './chromium.js';
import { startSyntheticHarness, type Harness } from './harness.js';

if (!haveChromium) console.warn(`[dashboard browser tests] skipped: ${CHROMIUM} not found (apt-get install chromium)`);

describe.skipIf(!haveChromium)('injected faults on the dashboard timeline', () => {
  let browser: LaunchedChromium;
  let context: BrowserContext;
  let h: Harness;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium({ width: 1440, height: 900 });
    context = browser.context;
    h = await startSyntheticHarness();
    page = await context.newPage();
  }, 60_000);
  afterAll(async () => {
    await page?.close();
    await h?.close();
    await browser?.close();
  });

  it('shows an "injected" badge on the injected entry only', async () => {
    await page.goto(h.dashboard.url);
    await page.locator('#conn-pill[data-state="live"]').waitFor();
    const id = await h.driver.upload({ contentName: 'f.bin', size: 4096 });
    const fake = (h.driver as unknown as { fake: { emit(...e: unknown[]): void } }).fake;
    fake.emit({
      type: 'packet', sessionId: id,
      packet: {
        exchange: 999, connectionId: 1, kind: 'close-session', method: 'BITS_POST', url: '/uploads/f.bin', status: 503, requestBytes: 0,
        responseBytes: 0, startedAt: Date.now(), ms: 1, injected: true,
        requestHeaders: [['BITS-Packet-Type', 'Close-Session']], responseHeaders: [['BITS-Packet-Type', 'Ack']],
      },
    });
    await page.locator(`.row[data-session-id="${id}"]`).click();
    const drawer = page.locator('.drawer-panel');
    await drawer.waitFor();
    const injected = drawer.locator('tr.pkt.injected');
    await injected.waitFor();
    expect(await injected.getAttribute('data-exchange')).toBe('999');
    expect(await injected.locator('.badge.injected').textContent()).toBe('injected');
    expect(await drawer.locator('.badge.injected').count()).toBe(1);
  });
});
