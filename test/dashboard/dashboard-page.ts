/**
 * The set-up the dashboard browser tests share: one Chromium per file; per test a fresh
 * harness and a page on its dashboard, live; after each test, no page error.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { launchChromium, type LaunchedChromium } from './chromium.js';
import type { Harness } from './harness.js';

export interface DashboardPage {
  context: BrowserContext;
  h: Harness;
  page: Page;
  /** Messages of the dialogs the page opened (each dismissed). */
  dialogs: string[];
  pageErrors: string[];
}

/** Registers the hooks (call inside a describe); the returned object is filled in before each test. */
export function dashboardPageEachTest(viewport: { width: number; height: number }, start: () => Promise<Harness>): DashboardPage {
  const s = {} as DashboardPage;
  let browser: LaunchedChromium | undefined;

  beforeAll(async () => {
    browser = await launchChromium(viewport);
    s.context = browser.context;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    s.h = await start();
    s.page = await s.context.newPage();
    s.dialogs = [];
    s.pageErrors = [];
    s.page.on('dialog', (d) => {
      s.dialogs.push(d.message());
      void d.dismiss();
    });
    s.page.on('pageerror', (e) => s.pageErrors.push(String(e)));
    await s.page.goto(s.h.dashboard.url);
    await s.page.locator('#conn-pill[data-state="live"]').waitFor();
  });

  afterEach(async () => {
    await s.page?.close();
    await s.h?.close();
    expect(s.pageErrors).toEqual([]);
  });

  return s;
}
