import { describe, expect, it } from 'vitest';
import { aContact, aWorkspace } from '../../src/test-support/harness.js';
import { navLink as nav, openUi, screenshot, settledText, signedIn } from './browser.js';

const ui = openUi();

describe('web UI: deleted objects (issue 18)', () => {
  it('restores a list deleted through the API, with its members, and says what it skipped and why', async () => {
    const ws = await aWorkspace(ui.server.app);
    const list = (await ws.api('POST', '/lists', { name: 'Spring newsletter' })).body;
    const member = await aContact(ws);
    await ws.api('PUT', `/lists/${list.id}/contacts/${member.id}`, { status: 'subscribed' });
    const solo = await aContact(ws);
    const deal = (await ws.api('POST', '/deals', { title: 'Lonely deal', contactIds: [solo.id] })).body;
    expect((await ws.api('DELETE', `/lists/${list.id}`)).status).toBe(200);
    expect((await ws.api('DELETE', `/deals/${deal.id}`)).status).toBe(200);
    expect((await ws.api('DELETE', `/contacts/${solo.id}`)).status).toBe(200);

    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await nav(page, 'Deleted objects').click();
    await page.getByRole('heading', { name: 'Deleted objects', level: 1 }).waitFor();
    const rows = page.getByTestId('deleted-object');
    await rows.nth(1).waitFor();
    expect(await rows.locator('td:nth-child(3)').allInnerTexts()).toEqual(['Lonely deal', 'Spring newsletter']);

    await page.getByLabel('Search by name').fill('spring');
    expect(await settledText(rows.locator('td:nth-child(3)'), 'Spring newsletter')).toBe('Spring newsletter');
    await page.getByLabel('Search by name').fill('');
    await rows.nth(1).waitFor();
    await page.getByLabel('Select all shown').check();
    await screenshot(page, 'deleted-objects');
    await page.getByRole('button', { name: 'Restore 2 objects' }).click();

    await expect(page.getByTestId('restore-outcome').innerText()).resolves.toBe('Restored 1 object: list “Spring newsletter”.');
    await expect(page.getByTestId('restore-skipped').innerText()).resolves.toBe(
      'Not restored: deal “Lonely deal”: none of its contacts is active, so the deal stays deleted.',
    );
    expect(await settledText(rows.locator('td:nth-child(3)'), 'Lonely deal')).toBe('Lonely deal');

    expect((await ws.api('GET', `/lists/${list.id}`)).body).toMatchObject({ deletedAt: null, memberCount: 1 });
    expect((await ws.api('GET', `/contacts/${member.id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'subscribed' }]);
    await page.context().close();
  });
});
