/**
 * The dashboard pictures in headless Chromium: the session sequence diagram, the byte
 * coverage chart and the overview charts, on real uploads through the gateway and on one
 * scripted session (lost Ack, retry on a new connection, 416 resync, Close on a third
 * connection) fed to the same tracker. Structure is compared (SVG element counts and data
 * attributes), never pixels. Skips with a message when Chromium is not installed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Observation } from '../../src/observation.js';
import type { SessionTracker } from '../../src/sessions/index.js';
import { harProblems } from '../har/har-schema.js';
import { ARTIFACTS, CHROMIUM, haveChromium } from './chromium.js';
import { dashboardPageEachTest } from './dashboard-page.js';
import { startHarness, type Harness } from './harness.js';

if (!haveChromium) console.warn(`[dashboard picture tests] skipped: ${CHROMIUM} not found (apt-get install chromium)`);

const PROTOCOL = '{7df0354d-249b-430f-820d-3d2a9bef4931}';

/** A session the real client cannot produce on demand: its exchanges as the gateway would observe them. */
class ScriptedSession {
  private nextId = 2_000_000_000;
  private t = Date.now();
  constructor(private readonly h: Harness, readonly id: string, private readonly url = '/uploads/scripted.bin') {}

  private send(conn: number, headers: Array<[string, string]>, body: number, status: number | undefined, response: Array<[string, string]>, error?: string): void {
    const start = (this.t += 20);
    const obs: Observation = {
      id: this.nextId++, connectionId: conn, client: { address: '127.0.0.1', port: 41_000 + conn }, method: 'BITS_POST', url: this.url,
      httpVersion: '1.1', requestHeaders: [['Host', '127.0.0.1'], ...headers], startedAt: start, requestBodyBytes: body,
      responseBodyBytes: 0, endedAt: start + 5,
    };
    if (status !== undefined) Object.assign(obs, { status, responseHeaders: response, respondedAt: start + 4, responder: 'upstream' });
    if (error) obs.error = error;
    this.h.bus.publish((this.h.source as SessionTracker).observe(obs));
  }

  create(conn: number): void {
    this.send(conn, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', PROTOCOL], ['Content-Length', '0']], 0, 201,
      [['BITS-Packet-Type', 'Ack'], ['BITS-Protocol', PROTOCOL], ['BITS-Session-Id', this.id], ['Content-Length', '0']]);
  }

  fragment(conn: number, start: number, end: number, answer: { status: number; received: number } | 'lost' | { gateway: number; error: string }): void {
    const req: Array<[string, string]> = [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', this.id], ['Content-Name', 'scripted.bin'],
      ['Content-Range', `bytes ${start}-${end}/30`], ['Content-Length', String(end - start + 1)]];
    if (answer === 'lost') return this.send(conn, req, end - start + 1, undefined, [], 'client-closed');
    if ('gateway' in answer) return this.send(conn, req, end - start + 1, answer.gateway, [['Content-Length', '0']], answer.error);
    this.send(conn, req, end - start + 1, answer.status,
      [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', this.id], ['BITS-Received-Content-Range', String(answer.received)], ['Content-Length', '0']]);
  }

  close(conn: number): void {
    this.send(conn, [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', this.id], ['Content-Length', '0']], 0, 200,
      [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', this.id], ['Content-Length', '0']]);
  }
}

describe.skipIf(!haveChromium)('dashboard pictures in headless Chromium', () => {
  const shared = dashboardPageEachTest({ width: 1440, height: 1000 }, () => startHarness({ traffic: 'real' }));
  let h: Harness;
  let page: Page;
  beforeEach(() => ({ h, page } = shared));

  const open = async (id: string) => {
    await page.goto(h.dashboard.url + `#/session/${encodeURIComponent(id)}`);
    await page.locator('.drawer-panel .seq').waitFor();
    return page.locator('.drawer-panel');
  };
  const count = (sel: string) => page.locator(sel).count();

  it('draws a real upload: three lifelines, one arrow each way per exchange, one connection, no mark; coverage has every fragment', async () => {
    const id = await h.driver.upload({ contentName: 'four.bin', size: 4096, fragmentSize: 1024 });
    await open(id);
    expect(await count('.seq .lifeline')).toBe(3);
    // Create-Session, 4 Fragments, Close-Session.
    expect(await count('.seq .msg.req')).toBe(6);
    expect(await count('.seq .msg.resp')).toBe(6);
    expect(await count('.seq .lost')).toBe(0);
    expect(await count('.seq .mark')).toBe(0);
    expect(await count('.seq-legend .conn-lane')).toBe(1);
    expect(await page.locator('.seq .xrow').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-kind'))))
      .toEqual(['create-session', 'fragment', 'fragment', 'fragment', 'fragment', 'close-session']);
    expect(await page.locator('.seq .msg.req .msg-label').nth(2).textContent()).toBe('Fragment 1024-2047/4096');
    expect(await page.locator('.seq .msg.resp .msg-label').nth(2).textContent()).toBe('200 · Ack · received 2048');
    expect(await count('.cov-chart .cov-frag')).toBe(4);
    expect(await count('.cov-chart .cov-frag.gap, .cov-chart .cov-frag.retransmit')).toBe(0);
    expect(await page.locator('.cov-chart .cov-acked-line').getAttribute('d')).toMatch(/^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){9}$/);
  });

  it('marks the invalid close where it happened and explains it on keyboard focus', async () => {
    const id = await h.driver.uploadCloseEarly({ contentName: 'early.bin', size: 4096, fragmentSize: 1024 });
    await page.locator('.violation[data-code="close-incomplete"]').waitFor();
    const drawer = await open(id);
    await expect.poll(() => count('.seq .mark')).toBe(1);
    expect(await page.locator('.seq .xrow:has(.mark)').getAttribute('data-kind')).toBe('close-session');
    expect(await page.locator('.seq .mark').getAttribute('data-codes')).toBe('close-incomplete');
    expect(await count('.seq .msg.req')).toBe(3);
    // Keyboard: Tab reaches the mark; its explanation appears under the diagram.
    await drawer.locator('.seq-scroll').focus();
    await page.keyboard.press('Tab');
    expect(await page.locator('.seq .mark').evaluate((n) => n.ownerDocument.activeElement === n)).toBe(true);
    await expect.poll(() => page.locator('.seq-explain').textContent()).toMatch(/^close-incomplete: Close-Session after 1024 of 4096 bytes acknowledged .*deletes the partial upload/);
    expect(await page.locator('.seq .mark title').textContent()).toMatch(/deletes the partial upload/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-sequence-close-incomplete.png') });

    // Export HAR downloads the session as a valid HAR 1.2 log built by the gateway.
    const [download] = await Promise.all([page.waitForEvent('download'), drawer.locator('#export-har').click()]);
    const har = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(harProblems(har)).toEqual([]);
    expect(download.suggestedFilename()).toMatch(/^bits-session-_[0-9a-f-]+_\.har$/);
    expect(har.log.entries.map((e: { request: { method: string }; _bits: { packet: { kind: string } } }) => `${e.request.method} ${e._bits.packet.kind}`))
      .toEqual(['BITS_POST create-session', 'BITS_POST fragment', 'BITS_POST close-session']);
  });

  it('makes a lost Ack, its retry on a new connection, a 416 resync and a Close on a third connection readable, live', async () => {
    const s = new ScriptedSession(h, '{5c41b7e2-0000-4000-8000-00000000a001}');
    s.create(7);
    await open(s.id);
    expect(await count('.seq .msg.req')).toBe(1);
    // The rest arrives while the drawer is open.
    s.fragment(7, 0, 9, 'lost');
    s.fragment(8, 0, 9, { status: 200, received: 10 });
    s.fragment(8, 20, 29, { status: 416, received: 10 });
    s.fragment(8, 10, 19, { status: 200, received: 20 });
    s.fragment(8, 20, 29, { status: 200, received: 30 });
    s.close(9);
    await expect.poll(() => count('.seq .msg.req')).toBe(7);
    expect(await count('.seq .msg.resp')).toBe(6);
    expect(await count('.seq .lost')).toBe(1);
    expect(await page.locator('.seq .lost .msg-label').textContent()).toBe('no Ack: client-closed');
    expect(await page.locator('.seq-legend .conn-lane').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-connection')))).toEqual(['7', '8', '9']);
    expect(await page.locator('.seq .xrow').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-connection')))).toEqual(['7', '7', '8', '8', '8', '8', '9']);
    expect(await page.locator('.seq .xrow.retry .msg.req .msg-label').allTextContents()).toEqual(['retry Fragment 0-9/30', 'retry Fragment 20-29/30']);
    expect(await page.locator('.seq .msg.resp.bad .msg-label').allTextContents()).toEqual(['416 · Ack · received 10 · (resync)']);
    await expect.poll(() => page.locator('.seq .mark').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-codes')))).toEqual(['fragment-gap']);
    expect(await page.locator('.seq .xrow:has(.mark) .msg.resp .msg-label').textContent()).toMatch(/^416/);
    // Coverage: five fragments, the early one past the acknowledged bytes drawn as a gap.
    await expect.poll(() => count('.cov-chart .cov-frag')).toBe(5);
    expect(await count('.cov-chart .cov-frag.gap')).toBe(1);
    expect(await count('.cov-chart .cov-frag.rejected')).toBe(2);
    await page.locator('.seq-wrap').screenshot({ path: join(ARTIFACTS, 'dashboard-sequence-lost-ack.png') });
    await page.locator('.cov-chart').screenshot({ path: join(ARTIFACTS, 'dashboard-coverage-chart.png') });
  });

  it('draws an answer the gateway made itself (upstream timeout) from the gateway lane, not the server', async () => {
    const s = new ScriptedSession(h, '{5c41b7e2-0000-4000-8000-00000000a002}');
    s.create(3);
    s.fragment(3, 0, 29, { gateway: 504, error: 'upstream-timeout' });
    s.fragment(4, 0, 29, { status: 200, received: 30 });
    s.close(4);
    await open(s.id);
    expect(await count('.seq .msg.resp')).toBe(4);
    const fromGateway = page.locator('.seq .msg.resp.from-gateway');
    expect(await fromGateway.count()).toBe(1);
    expect(await fromGateway.locator('.msg-label').textContent()).toBe('504 from gateway: upstream-timeout');
    const lanes = await page.locator('.seq .lifeline line').evaluateAll((ns) => ns.map((n) => n.getAttribute('x1')));
    const [gatewayX, clientEndX] = await fromGateway.locator('line').evaluateAll((ns) => [ns[0]!.getAttribute('x1'), ns[1]!.getAttribute('x2')]);
    expect(gatewayX).toBe(lanes[1]);
    expect(Number(clientEndX)).toBeLessThan(Number(lanes[1]));
    expect(await page.locator('.seq .xrow.retry .msg.req .msg-label').allTextContents()).toEqual(['retry Fragment 0-29/30']);
  });

  it('overview charts fill live from real uploads: throughput, sessions by state, violations by code', async () => {
    expect(await count('#overview-charts .ov-throughput svg rect.tp-bar')).toBe(0);
    await h.driver.upload({ contentName: 'a.bin', size: 64 * 1024 });
    await h.driver.uploadCloseEarly({ contentName: 'b.bin', size: 8192 });
    // Every fragment body (responses are empty Acks): 64 KiB, plus the first quarter of 8 KiB.
    const bytes = () => page.locator('.ov-throughput rect.tp-bar').evaluateAll((ns) => ns.reduce((a, n) => a + Number(n.getAttribute('data-bytes')), 0));
    await expect.poll(bytes, { timeout: 5000 }).toBe(64 * 1024 + 2048);
    await expect.poll(() => page.locator('.ov-states rect[data-state="closed"]').last().getAttribute('data-count'), { timeout: 5000 }).toBe('2');
    await expect.poll(() => page.locator('.ov-violations rect[data-code="close-incomplete"]').count(), { timeout: 5000 }).toBe(1);
    expect(await page.locator('.ov-violations .ov-legend li').allTextContents()).toEqual(['close-incomplete 1']);
    // Hidden with the keyboard, shown again.
    await page.locator('#toggle-charts').focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('#overview-charts').isHidden()).toBe(true);
    await page.keyboard.press('Enter');
    expect(await page.locator('#overview-charts').isVisible()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-overview.png') });
  });

  it('overview keeps a fixed number of bars with 10 000 sessions and counts them', async () => {
    await h.driver.bulkSessions!(10_000);
    await expect.poll(() => page.locator('.ov-states rect[data-state="open"]').last().getAttribute('data-count'), { timeout: 8000 }).toBe('10000');
    // One segment per state per 5 s bucket, whatever the number of sessions (all came in one burst).
    expect(await count('.ov-states rect')).toBeLessThan(10);
  });

  it('reads in dark and light colour schemes (the lifelines and arrows take the scheme colours)', async () => {
    const id = await h.driver.upload({ contentName: 'scheme.bin', size: 2048, fragmentSize: 1024 });
    await open(id);
    const colours = async () => page.locator('.seq .msg.req line').first().evaluate((n) => n.ownerDocument.defaultView!.getComputedStyle(n).stroke);
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await colours();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await colours();
    expect(light).toBe('rgb(37, 99, 235)');
    expect(dark).toBe('rgb(108, 156, 255)');
    await page.locator('.seq-wrap').screenshot({ path: join(ARTIFACTS, 'dashboard-sequence-dark.png') });
  });
});
