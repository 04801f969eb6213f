/**
 * The admin dashboard (`GET /` of the admin port, SPEC §6.3) in a real
 * browser: Debian's Chromium, driven headless by playwright-core, against a
 * real server process. Tickets issued through the public HTTP API show up on
 * the page without a reload; screenshots (wall screen and phone) go to
 * `test-results/` for a person to look at.
 *
 * Needs /usr/bin/chromium (`apt-get install chromium`; `.ci/run` installs it).
 * Without it the test is skipped locally, and fails under CI=true.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, startServer, stopAllServers, urlOf, type ServerProcess } from '../helpers/server-process.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true';
const SKIP_NOTE = `${CHROMIUM} is missing: run \`apt-get install chromium\` (Debian) to run the dashboard browser test`;

const RESULTS_DIR = join(PROJECT_ROOT, 'test-results');
/** Longest wait for anything the page should show; the dashboard polls every 1.5 s. */
const WAIT_MS = 10_000;
const SEQUENCE = 'wallboard';

/**
 * The machine running the tests may have no network at all: these flags keep
 * Chromium from reaching for it (QUIC, component updates, sync, first-run
 * pings) and from needing a sandbox or a GPU.
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let server: ServerProcess | undefined;
let browser: Browser | undefined;
const contexts: BrowserContext[] = [];
/** Uncaught errors in the page's script. */
const pageErrors: string[] = [];

/** Issues `count` tickets of `name` through the public HTTP API and returns them. */
async function issue(name: string, count: number): Promise<string[]> {
  if (!server) throw new Error('no server');
  const response = await fetch(`${urlOf(server, 'http')}/v1/sequences/${name}/next?count=${count}`, {
    method: 'POST',
    signal: AbortSignal.timeout(WAIT_MS),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { sequence: string; values: string[] };
  expect(body.values).toHaveLength(count);
  return body.values;
}

/** Opens the dashboard in a fresh context of the given viewport. */
async function openDashboard(viewport: { width: number; height: number }, mobile = false): Promise<Page> {
  if (!browser || !server) throw new Error('no browser or server');
  const context = await browser.newContext({
    viewport,
    deviceScaleFactor: mobile ? 2 : 1,
    isMobile: mobile,
    hasTouch: mobile,
  });
  contexts.push(context);
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  const page = await context.newPage();
  await page.goto(`${urlOf(server, 'admin')}/`, { waitUntil: 'load' });
  return page;
}

/** The last value shown in the row of `name`, digits only (the page may group them). */
function lastValueCell(page: Page, name: string) {
  return page.locator(`tr[data-sequence="${name}"] td.last`);
}

async function shownLastValue(page: Page, name: string): Promise<string | null> {
  const cell = lastValueCell(page, name);
  if ((await cell.count()) === 0) return null;
  return (await cell.first().textContent())?.replace(/[^0-9]/g, '') ?? null;
}

describe('the dashboard in headless Chromium', () => {
  beforeAll(async () => {
    if (!HAVE_CHROMIUM) {
      if (IN_CI) throw new Error(`${CHROMIUM} is missing and CI=true: .ci/run should have run \`apt-get install chromium\``);
      console.warn(`dashboard.test.ts skipped: ${SKIP_NOTE}`);
      return;
    }
    await mkdir(RESULTS_DIR, { recursive: true });
    server = await startServer(['--store', 'memory:']);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await stopAllServers();
  });

  it('shows tickets issued through the HTTP API without a reload, and saves screenshots', async (context) => {
    if (!HAVE_CHROMIUM) context.skip(SKIP_NOTE);

    const page = await openDashboard({ width: 1280, height: 800 });
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // A reload would wipe this global.
    await page.evaluate('window.__marker = 1');

    // The header: numbering, readiness and a healthy store, from the first poll.
    await expect.poll(() => page.locator('#health').textContent(), { timeout: WAIT_MS }).toBe('ready');
    await expect(page.locator('#numbering').textContent()).resolves.toMatch(/instance 1 of 1/);
    const storeBadge = page.locator('#store .badge');
    await expect(storeBadge.textContent()).resolves.toMatch(/\bok\b/);
    await expect(storeBadge.getAttribute('class')).resolves.toMatch(/\bok\b/);

    // Nothing issued yet: the table says so instead of sitting empty.
    await expect(page.locator('#rows .empty').textContent()).resolves.toMatch(/no sequence/i);
    await page.screenshot({ path: join(RESULTS_DIR, 'dashboard-empty.png') });

    const first = await issue(SEQUENCE, 5);
    expect(first.at(-1)).toBe('5');
    await expect.poll(() => shownLastValue(page, SEQUENCE), { timeout: WAIT_MS, interval: 200 }).toBe('5');

    const second = await issue(SEQUENCE, 7);
    expect(second.at(-1)).toBe('12');
    await expect.poll(() => shownLastValue(page, SEQUENCE), { timeout: WAIT_MS, interval: 200 }).toBe('12');

    expect(await page.evaluate('window.__marker')).toBe(1);
    expect(navigations).toBe(0);

    // The phone view, opened now so that it gathers the same sparkline history.
    const phone = await openDashboard({ width: 390, height: 844 }, true);
    phone.on('pageerror', (error) => pageErrors.push(error.message));
    await expect.poll(() => shownLastValue(phone, SEQUENCE), { timeout: WAIT_MS, interval: 200 }).toBe('12');

    // Varying traffic on a few more sequences over several polls, so that the
    // screenshots show rates and sparklines rather than a single flat row.
    const deadline = Date.now() + 6_000;
    for (let round = 1; Date.now() < deadline; round++) {
      await Promise.all([issue(SEQUENCE, 1 + (round % 5)), issue('orders', 10 + 4 * round), issue('invoices', round % 3 === 0 ? 6 : 1)]);
      await new Promise((resolveDelay) => setTimeout(resolveDelay, 250));
    }
    for (const view of [page, phone]) {
      await expect.poll(() => view.locator('tr[data-sequence]').count(), { timeout: WAIT_MS }).toBe(3);
    }
    // One more poll, so both pages show the final values.
    await page.waitForTimeout(1_700);
    await page.screenshot({ path: join(RESULTS_DIR, 'dashboard-desktop.png') });
    await phone.screenshot({ path: join(RESULTS_DIR, 'dashboard-phone.png'), fullPage: true });
    expect(await shownLastValue(phone, SEQUENCE)).toBe(await shownLastValue(page, SEQUENCE));

    expect(pageErrors).toEqual([]);
    expect(existsSync(join(RESULTS_DIR, 'dashboard-desktop.png'))).toBe(true);
    expect(existsSync(join(RESULTS_DIR, 'dashboard-phone.png'))).toBe(true);
  });

  it('says so when the server goes away, and keeps the last figures', async (context) => {
    if (!HAVE_CHROMIUM) context.skip(SKIP_NOTE);
    const page = contexts[0]?.pages()[0];
    if (!page || !server) throw new Error('the first test did not open the dashboard');

    await server.kill();
    await expect.poll(() => page.locator('#health').textContent(), { timeout: WAIT_MS }).toBe('unreachable');
    await expect(page.locator('#health').getAttribute('class')).resolves.toMatch(/\bbad\b/);
    await expect(page.locator('#banner').isVisible()).resolves.toBe(true);
    await expect(page.locator('#banner').textContent()).resolves.toMatch(/cannot reach the server/i);
    expect(await shownLastValue(page, SEQUENCE)).not.toBeNull();
    await page.screenshot({ path: join(RESULTS_DIR, 'dashboard-unreachable.png') });
  });
});
