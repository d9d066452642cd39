/**
 * The dashboard in real headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core). Skips with a message when Chromium is not installed; CI installs it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { ARTIFACTS, CHROMIUM, haveChromium } from './chromium.js';
import { dashboardPageEachTest } from './dashboard-page.js';
import { startHarness, type Harness } from './harness.js';

if (!haveChromium) console.warn(`[dashboard browser tests] skipped: ${CHROMIUM} not found (apt-get install chromium)`);

describe.skipIf(!haveChromium)('dashboard in headless Chromium', () => {
  const shared = dashboardPageEachTest({ width: 1440, height: 900 }, () => startHarness());
  let context: BrowserContext;
  let h: Harness;
  let page: Page;
  let dialogs: string[];
  beforeEach(() => ({ context, h, page, dialogs } = shared));

  const row = (id: string) => page.locator(`.row[data-session-id="${id.replace(/"/g, '\\"')}"]`);

  it('shows an upload as a row whose progress reaches 100 %', async () => {
    const id = await h.driver.upload({ contentName: 'report-2026.zip', size: 2 * 1024 * 1024 });
    await row(id).locator('.bar-text[data-percent="100"]').waitFor();
    await expect.poll(() => row(id).locator('.badge').textContent()).toBe('closed');
    await expect.poll(() => row(id).locator('.file-name').textContent()).toBe('report-2026.zip');
    await expect.poll(() => page.locator('[data-counter="completed"]').textContent()).toBe('1');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-upload-complete.png') });
  });

  it('shows a close-incomplete violation that links to its session', async () => {
    await h.driver.upload({ contentName: 'fine.bin', size: 4096 });
    const id = await h.driver.uploadCloseEarly({ contentName: 'early.bin', size: 8 * 1024 * 1024 });
    const item = page.locator('.violation[data-code="close-incomplete"]');
    await item.waitFor();
    await expect.poll(() => item.locator('.v-explain').textContent()).toMatch(/deletes the partial upload/);
    await expect.poll(() => page.locator('[data-counter="invalidCloses"]').textContent()).toBe('1');
    // The early close deleted the partial upload: it counts as failed, not completed.
    await expect.poll(() => page.locator('[data-counter="completed"]').textContent()).toBe('1');
    await expect.poll(() => page.locator('[data-counter="failed"]').textContent()).toBe('1');
    await row(id).locator('.badge.incomplete').waitFor();
    await item.locator('a.session-link').click();
    const drawer = page.locator('.drawer-panel');
    await drawer.waitFor();
    await expect.poll(() => drawer.locator('dd[data-fact="Session id"]').textContent()).toBe(id);
    await expect.poll(() => drawer.locator('dd[data-fact="Violations"]').textContent()).toBe('close-incomplete');
    // Closed after the first of four fragments: a quarter of the bytes acknowledged.
    await expect.poll(() => drawer.locator('.cov-label').textContent()).toMatch(/^25% acknowledged/);
    const kinds = await drawer.locator('tr.pkt').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-kind')));
    expect(kinds).toEqual(['create-session', 'fragment', 'close-session']);
    expect(await row(id).evaluate((n) => n.classList.contains('selected'))).toBe(true);
    await drawer.locator('tr.pkt[data-kind="fragment"] button').click();
    await expect.poll(() => drawer.locator('tr.pkt-headers:not([hidden])').textContent()).toContain('Content-Range');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-close-incomplete.png') });

    // Export JSON downloads the session with its timeline.
    const [download] = await Promise.all([page.waitForEvent('download'), drawer.locator('#export-json').click()]);
    const exported = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(exported).toMatchObject({ id, state: 'closed', violations: ['close-incomplete'] });
    expect(exported.timeline.map((p: { kind: string }) => p.kind)).toEqual(['create-session', 'fragment', 'close-session']);

    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });

    // Filtering by violation code leaves only the early close.
    await page.locator('#filter-code').selectOption('close-incomplete');
    await expect.poll(() => page.locator('.toolbar .shown').textContent()).toBe('1 of 2 sessions');
    await expect.poll(() => page.locator('.row:not([hidden])').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-session-id')))).toEqual([id]);
  });

  it('renders a hostile Content-Name as text and runs no script', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    const id = await h.driver.upload({ contentName: evil, size: 1024 });
    await row(id).locator('.bar-text[data-percent="100"]').waitFor();
    await expect.poll(() => row(id).locator('.file-name').textContent()).toBe(evil);
    await page.goto(h.dashboard.url + `#/session/${encodeURIComponent(id)}`);
    await page.locator('.drawer-panel h2').waitFor();
    await expect.poll(() => page.locator('.drawer-panel h2').textContent()).toBe(evil);
    await page.locator('tr.pkt[data-kind="fragment"] button').first().click();
    await expect.poll(() => page.locator('tr.pkt-headers:not([hidden])').textContent()).toContain(evil);
    await page.waitForTimeout(300);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-xss-as-text.png') });
  });

  it('reconnects after the WebSocket is killed and resumes with ?since, without duplicates', async () => {
    const sockets: Array<{ url: string; seqs: number[]; snapshots: number }> = [];
    page.on('websocket', (ws) => {
      const rec = { url: ws.url(), seqs: [] as number[], snapshots: 0 };
      sockets.push(rec);
      ws.on('framereceived', (f) => {
        const msg = JSON.parse(String(f.payload));
        if (msg.type === 'events') rec.seqs.push(...msg.events.map((e: { seq: number }) => e.seq));
        if (msg.type === 'snapshot') rec.snapshots++;
      });
    });
    // The first socket was opened before we listened: reload to observe it from the start.
    await page.reload();
    await page.locator('#conn-pill[data-state="live"]').waitFor();
    const first = await h.driver.uploadCloseEarly({ contentName: 'before.bin', size: 4000 });
    await row(first).waitFor();
    await page.locator('.violation[data-code="close-incomplete"]').waitFor();

    h.dashboard.dropClients();
    await page.locator('#conn-pill[data-state="reconnecting"]').waitFor();
    await expect.poll(() => page.locator('#banner').textContent()).toMatch(/Connection to the gateway lost/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-reconnecting.png') });
    const second = await h.driver.uploadCloseEarly({ contentName: 'during-outage.bin', size: 4000 });
    await page.locator('#conn-pill[data-state="live"]').waitFor();
    await row(second).waitFor();

    expect(sockets.length).toBe(2);
    const lastBefore = sockets[0]!.seqs.at(-1)!;
    expect(sockets[1]!.url).toMatch(new RegExp(`/events\\?since=${lastBefore}&instance=[0-9a-f]{12}$`));
    expect(sockets[1]!.snapshots).toBe(0);
    const all = [...sockets[0]!.seqs, ...sockets[1]!.seqs];
    for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThan(all[i - 1]!);
    await expect.poll(() => page.locator('.violation[data-code="close-incomplete"]').count()).toBe(2);
    const seqs = await page.locator('.violation').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-seq')));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('logs in with ?token= (cookie) and then streams over the authenticated WebSocket', async () => {
    const token = 'browser-test-token-0123456789';
    const secured = await startHarness({ token });
    try {
      const p2 = await context.newPage();
      const denied = await p2.goto(`http://127.0.0.1:${secured.dashboard.port}/`);
      expect(denied!.status()).toBe(401);
      await p2.goto(secured.dashboard.url);
      expect(new URL(p2.url()).search).toBe(''); // the token left the address bar
      await p2.locator('#conn-pill[data-state="live"]').waitFor();
      const id = await secured.driver.upload({ contentName: 'authed.bin', size: 1000 });
      await p2.locator(`.row[data-session-id="${id}"] .bar-text[data-percent="100"]`).waitFor();
      await p2.close();
    } finally {
      await secured.close();
    }
  });

  it('pauses and resumes the live stream', async () => {
    await page.locator('#pause').click();
    await page.locator('#conn-pill[data-state="paused"]').waitFor();
    const id = await h.driver.upload({ contentName: 'while-paused.bin', size: 2048 });
    await page.waitForTimeout(200);
    expect(await row(id).count()).toBe(0);
    await page.locator('#pause').click();
    await row(id).locator('.bar-text[data-percent="100"]').waitFor();
  });

  it('keeps 10000 sessions virtualised: few DOM rows, filter and scroll work', async () => {
    await h.driver.bulkSessions!(10_000);
    await expect.poll(() => page.locator('.toolbar .shown').textContent()).toBe('10,000 sessions');
    const domRows = await page.locator('.row').count();
    expect(domRows).toBeLessThan(80);
    await page.locator('#filter-text').fill('bulk-09999');
    await expect.poll(() => page.locator('.toolbar .shown').textContent()).toBe('1 of 10,000 sessions');
    await page.locator('#filter-text').fill('');
    await expect.poll(() => page.locator('.toolbar .shown').textContent()).toBe('10,000 sessions');
    await page.locator('.th.c-file').click(); // sort by file name, ascending
    await expect.poll(async () => {
      await page.locator('.tbody').evaluate((n) => { n.scrollTop = n.scrollHeight; });
      return page.locator('.row:not([hidden]) .file-name').allTextContents();
    }).toContain('bulk-09999.dat');
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) {
      await page.locator('.tbody').evaluate((n, k) => { n.scrollTop = (n.scrollHeight * k) / 20; }, i);
    }
    expect(Date.now() - t0).toBeLessThan(5000);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-10000-sessions.png') });
  });
});
