import { describe, expect, it } from 'vitest';
import { aWorkspace, call } from '../../src/test-support/harness.js';
import { navLink as nav, openUi, screenshot, signedIn } from './browser.js';

const ui = openUi();

describe('web UI: API tokens', () => {
  it('an admin creates a named token, sees its secret once, sees its last use, and revokes it: its next request is refused', async () => {
    const ws = await aWorkspace(ui.server.app);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await nav(page, 'API tokens').click();
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor();
    await expect(page.getByTestId('token-row').count()).resolves.toBe(0);

    await page.getByLabel('Token name').fill('Zapier sync');
    await page.getByLabel('Token role').selectOption('manager');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByTestId('new-token-secret').innerText();
    expect(secret).toMatch(new RegExp(`^rt\\.${ws.id}\\.`));
    const row = page.getByTestId('token-row');
    await expect(row.locator('td:nth-child(1)').innerText()).resolves.toBe('Zapier sync');
    await expect(row.locator('td:nth-child(2)').innerText()).resolves.toBe('manager');
    await expect(row.locator('td:nth-child(4)').innerText()).resolves.toBe('Never');
    await expect(row.locator('td:nth-child(5)').innerText()).resolves.toBe('Working');

    expect((await call(ui.server.app.server, secret, 'GET', '/contacts')).status).toBe(200);
    await page.reload();
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor();
    await expect(page.getByTestId('new-token').count()).resolves.toBe(0);
    await expect(row.locator('td:nth-child(4)').innerText()).resolves.not.toBe('Never');
    await screenshot(page, 'api-tokens');

    await row.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke “Zapier sync”?' });
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await expect(page.locator('main .notice.success .notice-text').innerText()).resolves.toBe('Revoked “Zapier sync”: its next request is refused.');
    // the list is read again after the notice: wait for it to show the revocation
    await row.locator('td:nth-child(5)', { hasText: /^Revoked / }).waitFor();
    await expect(row.getByRole('button', { name: 'Revoke' }).count()).resolves.toBe(0);
    expect((await call(ui.server.app.server, secret, 'GET', '/contacts')).status).toBe(401);
    await page.context().close();
  });

  it('is not in the sidebar of a user without users.manage', async () => {
    const ws = await aWorkspace(ui.server.app);
    const manager = await ws.userWithRole('manager');
    const page = await signedIn(ui.browser, ui.server.base, manager.token);
    await expect(nav(page, 'Contacts').count()).resolves.toBe(1);
    await expect(nav(page, 'API tokens').count()).resolves.toBe(0);
    await page.context().close();
  });
});
