import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { testApp, type TestApp } from '../../src/test-support/harness.js';

/**
 * What the browser tests drive: the real server (createServer, through the test harness)
 * listening on 127.0.0.1, on the run's test database, serving the built web UI.
 */
export interface UiServer {
  app: TestApp;
  base: string;
  close: () => Promise<void>;
}

export async function startUiServer(): Promise<UiServer> {
  const app = await testApp();
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.addresses()[0];
  if (typeof address === 'string') throw new Error(`expected a TCP address, got ${address}`);
  return { app, base: `http://127.0.0.1:${address.port}`, close: () => app.server.close() };
}

/** A test file's server and browser: started before its tests, closed after them. */
export interface UiSession {
  server: UiServer;
  browser: Browser;
}

export function openUi(): UiSession {
  const session = {} as UiSession;
  beforeAll(async () => {
    [session.server, session.browser] = await Promise.all([startUiServer(), launchBrowser()]);
  });
  afterAll(async () => {
    await session.browser?.close();
    await session.server?.close();
  });
  return session;
}

/** A link of the main navigation, by its exact name. */
export const navLink = (page: Page, name: string): Locator => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

/** Debian's Chromium (.ci/run installs it). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A fresh browser profile (its own localStorage) signed in with the token by the link `npm start` prints. */
export async function signedIn(browser: Browser, base: string, token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, locale: 'en-GB', timezoneId: 'UTC' });
  const page = await context.newPage();
  await page.goto(`${base}/#token=${encodeURIComponent(token)}`);
  await page.getByRole('heading', { level: 1 }).first().waitFor();
  return page;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Saves a screenshot. The README shows docs/screenshots/NAME.png: it is written when
 * missing or with RETRACE_SCREENSHOTS=1, so ordinary runs leave the committed images be;
 * otherwise the shot goes to test-results/screenshots.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const committed = path.join(root, 'docs/screenshots', `${name}.png`);
  const dir = process.env.RETRACE_SCREENSHOTS === '1' || !existsSync(committed) ? path.join(root, 'docs/screenshots') : path.join(root, 'test-results/screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: false });
}

/**
 * The locator's text once it reads `expected` (the page fills in names and refetches
 * after the fact), or what it reads after a few seconds, for the assertion to show.
 */
export async function settledText(locator: Locator, expected: string): Promise<string> {
  let text = '';
  for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
    text = await locator.innerText().catch(() => '');
    if (text === expected) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return text;
}
