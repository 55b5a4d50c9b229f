import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { aContact, aWorkspace, type TestWorkspace } from '../../src/test-support/harness.js';
import { navLink as nav, openUi, screenshot, settledText, signedIn } from './browser.js';

const ui = openUi();

/** A workspace whose mass-delete limit is `maxContacts` (PATCH /workspace {massDelete}), with contacts named Person 1…n. */
async function aGuardedWorkspace(maxContacts: number, contacts: number): Promise<{ ws: TestWorkspace; ids: string[] }> {
  const ws = await aWorkspace(ui.server.app);
  expect((await ws.api('PATCH', '/workspace', { massDelete: { maxContacts } })).status).toBe(200);
  const ids: string[] = [];
  for (let i = 1; i <= contacts; i += 1) ids.push((await aContact(ws, { email: `person${i}@held.example`, firstName: 'Person', lastName: String(i) })).id);
  return { ws, ids };
}

async function statuses(ws: TestWorkspace, ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await ws.api('GET', `/contacts/${id}`)).body.status));
}

const banner = (page: Page) => page.getByTestId('held-banner');

describe('web UI: held mass deletes', () => {
  it('shows admins a banner on every page while deletes are held, and rejecting with undo brings the contacts back', async () => {
    const { ws, ids } = await aGuardedWorkspace(3, 6);
    const manager = await ws.userWithRole('manager');
    const managerEmail = (await ws.api('GET', '/users')).body.data.find((u: { id: string }) => u.id === manager.id).email;
    expect((await manager.api('POST', '/contacts/delete', { ids: ids.slice(0, 3) })).status).toBe(200);
    expect((await manager.api('POST', '/contacts/archive', { ids: ids.slice(3, 5) })).status).toBe(409);

    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await banner(page).waitFor();
    await expect(banner(page).locator('li').innerText()).resolves.toBe(
      `${managerEmail}: 2 contacts to archive, in 1 request. 3 contacts deleted or archived within 10 minutes; the limit is 3.`,
    );
    await screenshot(page, 'held-deletes-banner');
    // Every page shows it.
    await nav(page, 'Audit log').click();
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    await banner(page).waitFor();

    await banner(page).getByRole('link', { name: 'Review held deletes' }).click();
    await page.getByRole('heading', { name: 'Held deletes', level: 1 }).waitFor();
    const row = page.getByTestId('held-row');
    await expect(row.locator('td:nth-child(2)').innerText()).resolves.toBe(managerEmail);
    await expect(row.locator('td:nth-child(5)').innerText()).resolves.toBe('Held');
    await screenshot(page, 'held-deletes');
    await row.getByRole('button', { name: 'Reject and undo' }).click();
    const dialog = page.getByRole('dialog', { name: 'Reject and undo?' });
    await expect(dialog.innerText()).resolves.toContain('(3 contacts when it was held) comes back as active contacts');
    await dialog.getByRole('button', { name: 'Reject and undo' }).click();
    await expect(page.locator('main .notice.success .notice-text').innerText()).resolves.toBe(`${managerEmail}: Rejected and undone: 3 contacts restored, 0 skipped.`);
    await banner(page).waitFor({ state: 'detached' });
    expect(await statuses(ws, ids)).toEqual(['active', 'active', 'active', 'active', 'active', 'active']);

    await page.getByLabel('Show held deletes').selectOption('all');
    expect(await settledText(row.locator('td:nth-child(5) .badge'), 'Rejected')).toBe('Rejected');
    await page.context().close();
  });

  it('releases held deletes, which then run as the user who asked', async () => {
    const { ws, ids } = await aGuardedWorkspace(1, 2);
    const manager = await ws.userWithRole('manager');
    expect((await manager.api('DELETE', `/contacts/${ids[0]}`)).status).toBe(200);
    expect((await manager.api('DELETE', `/contacts/${ids[1]}`)).status).toBe(409);

    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await nav(page, 'Held deletes').click();
    await page.getByTestId('held-row').getByRole('button', { name: 'Release' }).click();
    await page.getByRole('dialog', { name: 'Release these deletes?' }).getByRole('button', { name: 'Release' }).click();
    await expect(page.locator('main .notice.success .notice-text').innerText()).resolves.toMatch(/: Released: 1 deleted, 0 archived, 0 skipped\.$/);
    await banner(page).waitFor({ state: 'detached' });
    const released = (await ws.api('GET', `/contacts/${ids[1]}`)).body;
    expect(released).toMatchObject({ status: 'deleted', deletedBy: manager.id });
    await page.context().close();
  });

  it('asks a second yes before deleting more contacts at once than the limit, and then deletes them all', async () => {
    const { ws, ids } = await aGuardedWorkspace(2, 3);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await page.getByLabel('Search by name or email').fill('held.example');
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 3);
    await page.getByLabel('Select all shown').check();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete 3 contacts?' });
    await dialog.getByRole('button', { name: 'Delete 3 contacts' }).click();
    await expect(dialog.locator('.notice.warning').innerText()).resolves.toBe(
      'This deletes 3 contacts at once, more than the 2 the workspace allows in one request without a second yes. Confirm that you mean all of them.',
    );
    expect(await statuses(ws, ids)).toEqual(['active', 'active', 'active']);
    await dialog.getByRole('button', { name: 'Yes, delete all 3 contacts' }).click();
    await expect(page.getByRole('status').first().locator('.notice-text').innerText()).resolves.toBe('Deleted 3 contacts. They can be brought back from Restore contacts.');
    expect(await statuses(ws, ids)).toEqual(['deleted', 'deleted', 'deleted']);
    await page.context().close();
  });
});
