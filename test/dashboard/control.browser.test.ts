/**
 * `--control` in real headless Chromium: the session detail's "answer the next fragment 503"
 * button, the token asked for once, and the next Fragment of that session (a literal
 * BITS_POST on a raw socket through the gateway) answered 503 by the gateway; the one after
 * it reaches our embedded BITS server again (the rule said times=1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { InjectionRegistry } from '../../src/inject/registry.js';
import { bits, exchange } from '../server/raw-http.js';
import { CHROMIUM, haveChromium, launchChromium, type LaunchedChromium } from './chromium.js';

if (!haveChromium) console.warn(`[dashboard control browser test] skipped: ${CHROMIUM} not found (apt-get install chromium)`);

const TOKEN = 'browser-control-token-0123456789';
const PROTOCOL = '{7df0354d-249b-430f-820d-3d2a9bef4931}';

describe.skipIf(!haveChromium)('live control in headless Chromium', () => {
  let browser: LaunchedChromium;
  let app: App;
  let root: string;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bitsgate-control-root-'));
    browser = await launchChromium({ width: 1440, height: 900 });
    const registry = new InjectionRegistry();
    app = await startApp({
      embedded: { root },
      listen: { host: '127.0.0.1', port: 0 },
      dashboard: { host: '127.0.0.1', port: 0 },
      injections: registry,
      control: { token: TOKEN },
      logger: pino({ level: 'silent' }),
    });
  }, 60_000);

  afterAll(async () => {
    await page?.close();
    await browser?.close();
    await app?.close();
    if (root) rmSync(root, { recursive: true, force: true });
    expect(pageErrors).toEqual([]);
  });

  const gw = () => app.gateway.address.port;
  const fragment = (id: string, start: number, data: string) => bits('/uploads/clicked.bin', [
    ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', id], ['Content-Range', `bytes ${start}-${start + data.length - 1}/30`],
  ], Buffer.from(data));

  it('clicking "answer the next fragment 503" makes the gateway answer that session\'s next fragment 503, once', async () => {
    const created = await exchange(gw(), bits('/uploads/clicked.bin', [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', PROTOCOL], ['Content-Length', '0']]));
    expect(created.status).toBe(200);
    const id = created.get('BITS-Session-Id')!;
    expect(id).toMatch(/^\{[0-9a-f-]{36}\}$/);
    expect((await exchange(gw(), fragment(id, 0, '0123456789'))).status).toBe(200);

    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.setDefaultTimeout(10_000);
    await page.goto(`${app.dashboard!.url}#/session/${encodeURIComponent(id)}`);
    await page.locator('#conn-pill[data-state="live"]').waitFor();
    await page.locator('#injections:not([hidden])').waitFor();
    const button = page.locator('.session-control button[data-fault="fragment-503"]');
    await button.waitFor();
    expect(await button.textContent()).toBe('answer the next fragment 503');

    await button.click();
    // No token yet: the session view asks for it once, then sends the write it was holding.
    const prompt = page.locator('.session-control .control-token');
    await prompt.locator('input[type="password"]').fill(TOKEN);
    await prompt.locator('button[type="submit"]').click();
    await expect.poll(() => prompt.isHidden()).toBe(true);
    const rule = `fragment: status=503 session=${id} times=1`;
    const listed = page.locator('#injection-list .injection-rule');
    await expect.poll(() => listed.allTextContents()).toEqual([rule]);
    expect(await page.evaluate('sessionStorage.getItem("bitsgate-control-token")')).toBe(TOKEN);
    expect(await page.evaluate('document.cookie')).toBe('');

    const injected = await exchange(gw(), fragment(id, 10, 'abcdefghij'));
    expect(injected.status).toBe(503);
    expect(injected.get('BITS-Packet-Type')).toBe('Ack');
    expect(injected.get('BITS-Error-Code')).toBeUndefined(); // the rule gave no code
    expect(app.control!.registry.list()[0]).toMatchObject({ fired: 1, spent: true });
    await expect.poll(() => page.locator('#injection-list .injection.spent').count()).toBe(1);

    // times=1: the resent fragment goes through to the server and is acknowledged.
    const again = await exchange(gw(), fragment(id, 10, 'abcdefghij'));
    expect(again.status).toBe(200);
    expect(again.get('BITS-Received-Content-Range')).toBe('20');

    // Close the drawer and remove the rule from the panel: the list is empty again.
    await page.keyboard.press('Escape');
    await page.locator('#drawer[hidden]').waitFor({ state: 'attached' });
    await page.locator('#injection-list .injection button').click();
    await expect.poll(() => app.control!.registry.list().length).toBe(0);
    await expect.poll(() => page.locator('#injection-list .injection').count()).toBe(0);
  });
});
