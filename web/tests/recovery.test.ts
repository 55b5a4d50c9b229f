import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { aContact, aWorkspace, type TestWorkspace } from '../../src/test-support/harness.js';
import { navLink as nav, openUi, screenshot, settledText, signedIn } from './browser.js';

const ui = openUi();


/**
 * A whole second strictly between what came before and what comes after, on the server's
 * clock. The ui.browser runs in UTC (signedIn), so its datetime-local value is the ISO time.
 */
function aPoint(): string {
  ui.server.app.clock.advance(2);
  const at = new Date(Math.floor(ui.server.app.clock.now().getTime() / 1000) * 1000).toISOString();
  ui.server.app.clock.advance(2);
  return at;
}

/** Three hours on, with the hourly snapshots the schedule takes meanwhile (maintenance, as the server runs it). */
async function hourlySnapshots(ws: TestWorkspace): Promise<void> {
  ui.server.app.clock.advance(3 * 3600);
  const ran = await ws.api('POST', '/maintenance/run');
  expect(ran.status).toBe(200);
}

async function pickPoint(page: Page, at: string) {
  await nav(page, 'Rollback').click();
  await page.getByRole('heading', { name: 'Rollback', level: 1 }).waitFor();
  await page.getByLabel('Point in time').fill(at.slice(0, 19));
  await expect(page.getByTestId('picked-point').innerText()).resolves.toContain(`(${at})`);
}

describe('web UI: point-in-time rollback (seeds 000, 003)', () => {
  it('previews one edited contact’s rollback field by field, rolls it back, and the contact reads as before', async () => {
    const ws = await aWorkspace(ui.server.app);
    const grace = await aContact(ws, { email: 'grace@rollback.example', firstName: 'Grace', lastName: 'Hopper' });
    await aContact(ws, { email: 'other@rollback.example', firstName: 'Other', lastName: 'Person' });
    await hourlySnapshots(ws);
    const at = aPoint();
    await ws.api('PATCH', `/contacts/${grace.id}`, { firstName: 'Amazing Grace', phone: '+1 555 0199' });

    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await pickPoint(page, at);
    await page.getByLabel('Search contacts by name or email').fill('grace@rollback');
    await page.getByLabel('Pick grace@rollback.example').check();
    await expect(page.getByTestId('picked-contacts').innerText()).resolves.toBe('Amazing Grace Hopper×');
    await page.getByRole('button', { name: 'Preview', exact: true }).click();

    const preview = page.getByTestId('preview');
    await expect(preview.getByTestId('preview-note').innerText()).resolves.toContain('This is a preview: nothing has changed.');
    await expect(preview.getByTestId('contact-counts').innerText()).resolves.toBe('Contacts\t0\t1\t0\t0');
    const differences = preview.getByRole('table', { name: 'Differences for Amazing Grace Hopper (grace@rollback.example)' });
    const row = (field: string) => differences.locator('tbody tr').filter({ has: page.getByRole('cell', { name: field, exact: true }) });
    // allInnerTexts reads what is there now: the differences may render after the counts.
    await row('First name').waitFor();
    expect(await row('First name').locator('td').allInnerTexts()).toEqual(['First name', 'Amazing Grace', '→', 'Grace']);
    expect(await row('Phone').locator('td').allInnerTexts()).toEqual(['Phone', '+1 555 0199', '→', '—']);
    await expect(preview.getByTestId('last-change').innerText()).resolves.toMatch(/^Last changed .+ by admin\d+@example\.com \(you\): the rollback overrides it$/);
    expect((await ws.api('GET', `/contacts/${grace.id}`)).body.firstName).toBe('Amazing Grace');
    await page.getByRole('heading', { name: '3. Preview and roll back' }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await screenshot(page, 'rollback-preview');

    await page.getByRole('button', { name: 'Roll back…' }).click();
    const dialog = page.getByRole('dialog', { name: /^Roll back 1 contact to / });
    await expect(dialog.innerText()).resolves.toContain('Contacts created after the point go to the recycle bin, where they can be restored; nothing is destroyed.');
    await expect(dialog.innerText()).resolves.toContain('Nothing is sent to contacts and no automation runs.');
    await dialog.getByRole('button', { name: 'Roll back 1 contact' }).click();
    const job = page.getByTestId('rollback-job');
    await expect(job.getByRole('heading').innerText()).resolves.toMatch(/^Rollback of 1 contact to .+ is queued$/);
    // It carries on without the page: after a reload the page follows it again, at the same point.
    await page.reload();
    await expect(job.getByRole('heading').innerText()).resolves.toMatch(/^Rollback of 1 contact to .+ is queued$/);
    await expect(page.getByTestId('picked-point').innerText()).resolves.toContain(`(${at})`);
    await ui.server.app.runJobs(ws.id);
    await job.getByRole('heading', { name: /^Rollback finished: 1 contact rolled back to / }).waitFor();
    await expect(job.getByRole('progressbar').getAttribute('aria-valuenow')).resolves.toBe('100');
    await expect(job.getByTestId('contact-counts').innerText()).resolves.toBe('Contacts\t0\t1\t0\t0');
    // The list catches up with the finished job on its next poll.
    await page.getByTestId('rollback-row').first().getByRole('button', { name: 'Undo' }).waitFor();

    await page.goto(`${ui.server.base}/contacts/${grace.id}`);
    await page.getByRole('heading', { name: 'Grace Hopper', level: 1 }).waitFor();
    expect((await ws.api('GET', `/contacts/${grace.id}`)).body).toMatchObject({ firstName: 'Grace', phone: null });

    // And undone: the edit comes back.
    await nav(page, 'Rollback').click();
    await page.getByTestId('rollback-row').first().getByRole('button', { name: 'Undo' }).click();
    await page.getByRole('dialog', { name: /^Undo the rollback to / }).getByRole('button', { name: 'Undo rollback' }).click();
    await page.getByTestId('rollback-job').waitFor();
    await ui.server.app.runJobs(ws.id);
    await page.getByTestId('rollback-job').getByRole('heading', { name: /^Undo finished: 1 contact rolled back to / }).waitFor();
    expect((await ws.api('GET', `/contacts/${grace.id}`)).body).toMatchObject({ firstName: 'Amazing Grace', phone: '+1 555 0199' });
    await expect(page.getByTestId('rollback-row').nth(1).locator('td:nth-child(4)').innerText()).resolves.toBe('done\nundone');
    await expect(page.getByTestId('rollback-row').nth(1).getByRole('button', { name: 'Undo' }).count()).resolves.toBe(0);
    await page.context().close();
  });

  it('previews a contact whose old email another contact now holds as left alone, with the holder', async () => {
    const ws = await aWorkspace(ui.server.app);
    const mary = await aContact(ws, { email: 'mary@skip.example', firstName: 'Mary', lastName: 'Jackson' });
    const at = aPoint();
    await ws.api('PATCH', `/contacts/${mary.id}`, { email: 'mary.jackson@skip.example' });
    await aContact(ws, { email: 'mary@skip.example', firstName: 'Other', lastName: 'Mary' });
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await pickPoint(page, at);
    await page.getByLabel('Search contacts by name or email').fill('Jackson');
    await page.getByLabel('Pick mary.jackson@skip.example').check();
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    await expect(page.getByTestId('preview').getByTestId('contact-counts').innerText()).resolves.toBe('Contacts\t0\t0\t0\t1');
    const skipped = page.getByRole('table', { name: 'Skipped contacts' }).locator('tbody');
    expect(await settledText(skipped, 'Mary Jackson (mary.jackson@skip.example)\tAnother contact now holds its email, and will still hold it after the rollback. See Other Mary (mary@skip.example).')).toBe(
      'Mary Jackson (mary.jackson@skip.example)\tAnother contact now holds its email, and will still hold it after the rollback. See Other Mary (mary@skip.example).',
    );
    await page.context().close();
  });

  it('previews the deals a partial rollback leaves: a new primary, or deleted with no active contact left', async () => {
    const ws = await aWorkspace(ui.server.app);
    const ann = await aContact(ws, { email: 'ann@deals.example', firstName: 'Ann', lastName: 'Lee' });
    const at = aPoint();
    const late = await aContact(ws, { email: 'late@deals.example', firstName: 'Late', lastName: 'Lead' });
    await ws.api('POST', '/deals', { title: 'Shared', contactIds: [late.id, ann.id], primaryContactId: late.id });
    await ws.api('POST', '/deals', { title: 'Alone', contactIds: [late.id] });
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await pickPoint(page, at);
    await page.getByLabel('Search contacts by name or email').fill('Lead');
    await page.getByLabel('Pick late@deals.example').check();
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    await expect(page.getByTestId('preview').getByTestId('contact-counts').innerText()).resolves.toBe('Contacts\t0\t0\t1\t0');
    await expect(page.getByTestId('preview').getByTestId('deal-mends').innerText()).resolves.toBe(
      'Deals these contacts leave, as when contacts are deleted: a new primary contact on 1 deal; 1 deal with no active contact left deleted.',
    );
    await page.context().close();
  });

  it('offers the nearest recoverable point for a point older than the window, and previews from it', async () => {
    const ws = await aWorkspace(ui.server.app);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    const tooOld = new Date(Math.floor(ui.server.app.clock.now().getTime() / 1000) * 1000 - 100 * 3_600_000).toISOString();
    await pickPoint(page, tooOld);
    await expect(page.locator('.point-picker .error-text').innerText()).resolves.toContain('outside the window and is not a retained snapshot');
    await page.getByRole('radio', { name: /The whole workspace/ }).check();
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    await expect(page.getByTestId('rollback-error').innerText()).resolves.toMatch(/^That point can no longer be rolled back to\. Recoverable points are the recent window \(any second from .+\)/);
    await page.getByRole('alert').getByRole('button', { name: /^Use / }).click();
    await expect(page.locator('.point-picker .error-text').count()).resolves.toBe(0);
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    await expect(page.getByTestId('preview-note').innerText()).resolves.toContain('This is a preview: nothing has changed.');
    await page.context().close();
  });

  it('a full rollback waits for a second admin: the requester’s own approval is refused, another admin’s runs it', async () => {
    const ws = await aWorkspace(ui.server.app);
    const ada = await aContact(ws, { email: 'ada@full.example', firstName: 'Ada', lastName: 'Lovelace' });
    const at = aPoint();
    await ws.api('PATCH', `/contacts/${ada.id}`, { lastName: 'King' });
    await aContact(ws, { email: 'late@full.example', firstName: 'Late', lastName: 'Comer' });
    const second = await ws.userWithRole('admin');

    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await pickPoint(page, at);
    await page.getByRole('radio', { name: /The whole workspace/ }).check();
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    await expect(page.getByTestId('preview').getByTestId('contact-counts').innerText()).resolves.toBe('Contacts\t0\t1\t1\t0');
    const late = page.getByTestId('sample-contact').filter({ hasText: 'Late Comer (late@full.example)' });
    await expect(late.locator('p').innerText()).resolves.toBe('Created after the point: it goes to the recycle bin with its data, and can be restored from there.');
    await page.getByRole('button', { name: 'Request full rollback…' }).click();
    const dialog = page.getByRole('dialog', { name: /^Request a full rollback to / });
    await expect(dialog.innerText()).resolves.toContain('A second admin must approve it');
    await dialog.getByRole('button', { name: 'Request full rollback' }).click();
    await expect(page.getByTestId('rollback-job').getByRole('heading').innerText()).resolves.toMatch(/^Full rollback to .+ is awaiting approval by a second admin$/);
    const row = page.getByTestId('rollback-row').first();
    await expect(row.locator('td:nth-child(4)').innerText()).resolves.toBe('awaiting approval by a second admin');
    await row.getByRole('button', { name: 'Approve' }).click();
    await expect(page.getByTestId('rollback-error').innerText()).resolves.toBe(
      'You requested this rollback, so you cannot approve it yourself: a full rollback needs a second admin (four eyes). Ask another admin to approve it.',
    );
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await screenshot(page, 'rollback-list');
    await page.context().close();

    const other = await signedIn(ui.browser, ui.server.base, second.token);
    await nav(other, 'Rollback').click();
    const pending = other.getByTestId('rollback-row').first();
    await pending.getByRole('button', { name: 'Approve' }).click();
    await other.getByTestId('rollback-job').waitFor();
    await ui.server.app.runJobs(ws.id);
    await other.getByTestId('rollback-job').getByRole('heading', { name: /^Full rollback finished: 2 contacts rolled back to / }).waitFor();
    await expect(pending.locator('td:nth-child(5)').innerText()).resolves.toBe(`${(await ws.api('GET', '/users')).body.data.find((u: any) => u.id === second.id).email} (you)`);
    expect((await ws.api('GET', `/contacts/${ada.id}`)).body.lastName).toBe('Lovelace');
    expect((await ws.api('GET', '/contacts?q=late@full.example&status=deleted')).body.data).toHaveLength(1);
    await other.context().close();
  });

  it('an admin rejects a full rollback awaiting approval from the list, and it can no longer be approved', async () => {
    const ws = await aWorkspace(ui.server.app);
    const requested = await ws.api('POST', '/rollbacks', { at: aPoint(), scope: { type: 'workspace' } });
    const second = await ws.userWithRole('admin');
    const page = await signedIn(ui.browser, ui.server.base, second.token);
    await nav(page, 'Rollback').click();
    const row = page.getByTestId('rollback-row').first();
    await row.getByRole('button', { name: 'Reject' }).click();
    await row.getByText('rejected', { exact: true }).waitFor();
    await expect(row.getByRole('button', { name: 'Approve' }).count()).resolves.toBe(0);
    expect((await ws.api('GET', `/rollbacks/${requested.body.id}`)).body).toMatchObject({ status: 'failed', error: `rejected by ${second.id}` });
    await page.context().close();
  });

  it('a manager does not see Rollback in the navigation, and the page says which permission it needs', async () => {
    const ws = await aWorkspace(ui.server.app);
    const manager = await ws.userWithRole('manager');
    const page = await signedIn(ui.browser, ui.server.base, manager.token);
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts()).resolves.toEqual(['Contacts', 'Imports', 'Restore contacts', 'Archived contacts', 'Deleted objects', 'Snapshots']);
    await page.goto(`${ui.server.base}/rollback`);
    await expect(page.getByRole('alert').innerText()).resolves.toBe('This page needs the permission “rollbacks.request”, which your role does not have.');
    await nav(page, 'Snapshots').click();
    await page.getByRole('heading', { name: 'Snapshots', level: 1 }).waitFor();
    await expect(page.getByRole('button', { name: 'Take snapshot' }).count()).resolves.toBe(0);
    await page.context().close();
  });
});

describe('web UI: snapshots', () => {
  it('takes a labelled manual snapshot, lists it, and rolls back to its exact moment from its row', async () => {
    const ws = await aWorkspace(ui.server.app);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await nav(page, 'Snapshots').click();
    await page.getByRole('heading', { name: 'Snapshots', level: 1 }).waitFor();
    await expect(page.locator('main td.empty').innerText()).resolves.toBe('No snapshot is retained yet.');
    await hourlySnapshots(ws);
    const hourly = (await ws.api('GET', '/snapshots')).body.data.length;
    expect(hourly).toBeGreaterThanOrEqual(2);
    await page.getByLabel('Snapshot label').fill('Before the spring import');
    await page.getByRole('button', { name: 'Take snapshot' }).click();
    await expect(page.getByRole('status').first().locator('.notice-text').innerText()).resolves.toMatch(/^Snapshot taken at .+ \(“Before the spring import”\)\. It is kept until .+ unless deleted\.$/);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="snapshot-row"]').length === n, hourly + 1);
    const row = page.getByTestId('snapshot-row').first();
    const [snapshot] = (await ws.api('GET', '/snapshots')).body.data;
    await expect(page.getByTestId('snapshot-row').nth(1).locator('td').nth(1).innerText()).resolves.toBe('Hourly');
    expect(await row.locator('td').allInnerTexts()).toEqual([
      expect.any(String),
      'Manual',
      'Before the spring import',
      new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(snapshot.expiresAt)),
      expect.stringMatching(/^admin\d+@example\.com \(you\)$/),
      expect.stringContaining('Roll back to this'),
    ]);
    await expect(page.getByLabel('Keep hourly snapshots for (hours)').inputValue()).resolves.toBe('72');
    await screenshot(page, 'snapshots');

    await page.getByTestId('snapshot-row').nth(1).getByRole('button', { name: /^Delete/ }).click();
    await page.getByRole('dialog', { name: 'Delete this snapshot?' }).getByRole('button', { name: 'Delete snapshot' }).click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="snapshot-row"]').length === n, hourly);
    expect((await ws.api('GET', '/snapshots')).body.data).toHaveLength(hourly);
    await page.getByLabel('Keep hourly snapshots for (hours)').fill('48');
    await page.getByLabel('Weekly snapshots on').uncheck();
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await page.getByText('Schedule saved.').waitFor();
    expect((await ws.api('GET', '/snapshots/settings')).body).toEqual({ hourly: { enabled: true, keepHours: 48 }, weekly: { enabled: false, keepDays: 31 }, monthly: { enabled: true, keepDays: 365 } });

    await row.getByRole('link', { name: 'Roll back to this' }).click();
    await page.getByRole('heading', { name: 'Rollback', level: 1 }).waitFor();
    await expect(page.getByTestId('picked-point').innerText()).resolves.toContain(`the manual snapshot (${snapshot.takenAt})`);
    await page.context().close();
  });
});
