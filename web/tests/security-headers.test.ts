import { describe, expect, it } from 'vitest';
import { aContact, aWorkspace } from '../../src/test-support/harness.js';
import { navLink, openUi } from './browser.js';

const ui = openUi();

/** Every page of the main navigation, by its link's name. */
const pages = ['Contacts', 'Imports', 'Activity', 'Restore contacts', 'Archived contacts', 'Deleted objects', 'Rollback', 'Snapshots', 'Backups', 'Held deletes', 'Audit log', 'Settings', 'API tokens'];

describe('web UI under its Content-Security-Policy', () => {
  it('signs in and shows every page and a contact with no policy violation and no console error', async () => {
    const ws = await aWorkspace(ui.server.app);
    const contact = await aContact(ws, { email: 'ada@csp.example', firstName: 'Ada', lastName: 'Lovelace' });
    const context = await ui.browser.newContext({ viewport: { width: 1360, height: 860 }, locale: 'en-GB', timezoneId: 'UTC' });
    // Recorded from the first script on, before the UI's own: what the browser refused.
    await context.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { cspViolations: string[] }).cspViolations = seen;
      document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));

    const uiAnswer = await page.goto(`${ui.server.base}/#token=${encodeURIComponent(ws.adminToken)}`);
    expect(uiAnswer?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.getByRole('heading', { name: 'Contacts', level: 1 }).waitFor();
    const headings: string[] = [];
    for (const name of pages) {
      await navLink(page, name).click();
      await page.getByRole('heading', { name, level: 1 }).waitFor();
      headings.push(name);
    }
    await page.goto(`${ui.server.base}/contacts/${contact.id}`);
    await page.getByRole('heading', { name: 'Ada Lovelace', level: 1 }).waitFor();

    expect(headings).toEqual(pages);
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('does not let another page frame it', async () => {
    const framing = await ui.browser.newContext();
    const page = await framing.newPage();
    // about:blank framing the UI: Chromium refuses it by frame-ancestors 'none' and says so.
    const refused = page.waitForEvent('console', { predicate: (message) => message.text().includes("frame-ancestors 'none'"), timeout: 15_000 });
    await page.setContent(`<iframe src="${ui.server.base}/"></iframe>`);
    expect((await refused).text().trim()).toBe(`Framing '${ui.server.base}/' violates the following Content Security Policy directive: "frame-ancestors 'none'". The request has been blocked.`);
    await framing.close();
  });
});
