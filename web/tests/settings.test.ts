import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { aWorkspace, call, operatorToken } from '../../src/test-support/harness.js';
import { navLink as nav, openUi, screenshot, signedIn } from './browser.js';

const ui = openUi();

const field = (page: Page, label: string) => page.getByLabel(label, { exact: true });

describe('web UI: workspace settings', () => {
  it('shows the current retention and mass-delete settings, refuses values out of range before sending, and saves the rest', async () => {
    const ws = await aWorkspace(ui.server.app);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await nav(page, 'Settings').click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    const deleted = field(page, 'Deleted contacts are purged after');
    await expect(deleted.inputValue()).resolves.toBe('30');
    await expect(field(page, 'Archived contacts can be restored after').inputValue()).resolves.toBe('30');
    await expect(field(page, 'Archived contacts are purged after').inputValue()).resolves.toBe('365');
    await expect(field(page, 'Any moment can be rolled back to for').inputValue()).resolves.toBe('72');
    await expect(field(page, 'Hold deletes past this many contacts').inputValue()).resolves.toBe('1000');
    await expect(field(page, 'or past this share of the workspace’s contacts').inputValue()).resolves.toBe('5');
    await expect(field(page, 'by one user or token within').inputValue()).resolves.toBe('10');
    const save = page.getByRole('button', { name: 'Save settings' });
    expect(await save.isDisabled()).toBe(true);

    await deleted.fill('400');
    await expect(page.locator('#retention\\.deletedDays-problem').innerText()).resolves.toBe('Between 1 and 365 days.');
    expect(await save.isDisabled()).toBe(true);
    await field(page, 'Archived contacts can be restored after').fill('365');
    await expect(page.locator('#retention\\.archiveFreezeDays-problem').innerText()).resolves.toBe('Between 0 and 364 days.');
    await field(page, 'Archived contacts can be restored after').fill('14');
    await deleted.fill('7');
    await field(page, 'Any moment can be rolled back to for').fill('24');
    await field(page, 'Hold deletes past this many contacts').fill('250');
    await screenshot(page, 'settings');
    await save.click();
    await page.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();

    const now = (await ws.api('GET', '/workspace')).body;
    expect(now.retention).toEqual({ deletedDays: 7, archiveFreezeDays: 14, archiveDays: 365, pitrHours: 24 });
    expect(now.massDelete).toEqual({ maxContacts: 250, maxPercent: 5, windowMinutes: 10 });
    expect(await save.isDisabled()).toBe(true);
    await page.context().close();
  });

  it('keeps to the operator’s limits, and shows the server’s refusal when they changed since the page loaded', async () => {
    const ws = await aWorkspace(ui.server.app);
    await ws.api('PATCH', '/workspace', { retention: { pitrHours: 24 } });
    expect((await call(ui.server.app.server, operatorToken, 'PATCH', `/workspaces/${ws.id}`, { maxRetention: { pitrHours: 48 } })).status).toBe(200);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await nav(page, 'Settings').click();
    const pitr = field(page, 'Any moment can be rolled back to for');
    await expect(pitr.inputValue()).resolves.toBe('24');
    await pitr.fill('49');
    await expect(page.locator('#retention\\.pitrHours-problem').innerText()).resolves.toBe('Between 1 and 48 hours.');
    await pitr.fill('48');

    // The operator lowers the limit on deleted contacts while the page is open.
    expect((await call(ui.server.app.server, operatorToken, 'PATCH', `/workspaces/${ws.id}`, { maxRetention: { deletedDays: 40 } })).status).toBe(200);
    await field(page, 'Deleted contacts are purged after').fill('60');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.locator('main .notice.error .notice-text').innerText()).resolves.toBe('retention.deletedDays may be at most 40 in this workspace');
    expect((await ws.api('GET', '/workspace')).body.retention).toEqual({ deletedDays: 30, archiveFreezeDays: 30, archiveDays: 365, pitrHours: 24 });
    await page.context().close();
  });

  it('is not in the sidebar of a user without users.manage', async () => {
    const ws = await aWorkspace(ui.server.app);
    const manager = await ws.userWithRole('manager');
    const page = await signedIn(ui.browser, ui.server.base, manager.token);
    await nav(page, 'Contacts').waitFor();
    expect(await nav(page, 'Settings').count()).toBe(0);
    await page.context().close();
  });
});
