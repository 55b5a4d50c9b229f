import { sql } from 'kysely';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { aContact, aWorkspace, type TestWorkspace } from '../../src/test-support/harness.js';
import { seedWorkspace } from '../../src/seed/workspace.js';
import { navLink as nav, openUi, screenshot, settledText, signedIn } from './browser.js';

const ui = openUi();

const day = 86_400;

/** A contact with a list (and status), an account (with job title), a shared deal and a tag. */
async function aConnectedContact(ws: TestWorkspace, person: { email: string; firstName: string; lastName: string }, links: { listId: string; accountId: string; tagId: string; partnerId: string }) {
  const contact = await aContact(ws, { ...person, tags: [links.tagId] });
  await ws.api('PUT', `/lists/${links.listId}/contacts/${contact.id}`, { status: 'subscribed' });
  await ws.api('PUT', `/accounts/${links.accountId}/contacts/${contact.id}`, { jobTitle: 'CTO' });
  await ws.api('POST', '/deals', { title: `${person.lastName} renewal`, value: 12000, stage: 'proposal', contactIds: [contact.id, links.partnerId], primaryContactId: contact.id });
  return contact;
}

async function crmWorkspace(options: { activeContactLimit?: number; seeded?: number } = {}) {
  const ws = await aWorkspace(ui.server.app, options);
  if (options.seeded) await seedWorkspace(ui.server.app.ctx.db, { workspaceId: ws.id, actorId: null, origin: 'import', at: ui.server.app.clock.now() }, { contacts: options.seeded });
  const links = {
    listId: (await ws.api('POST', '/lists', { name: 'Board updates' })).body.id,
    accountId: (await ws.api('POST', '/accounts', { name: 'Analytical Engines Ltd' })).body.id,
    tagId: (await ws.api('POST', '/tags', { name: 'pioneer' })).body.id,
    partnerId: (await aContact(ws, { email: 'charles@keep.example', firstName: 'Charles', lastName: 'Babbage' })).id,
  };
  return { ws, links };
}

const rowsOf = (page: Page) => page.locator('main table:not(.restored-data) tbody tr');
const columnTexts = async (page: Page, column: number) => rowsOf(page).locator(`td:nth-child(${column})`).allInnerTexts();

describe('web UI: sign-in', () => {
  it('refuses a wrong token with a message, signs in with a right one, and the link signs in at once', async () => {
    const { ws } = await crmWorkspace();
    const context = await ui.browser.newContext({ viewport: { width: 1360, height: 860 }, locale: 'en-GB', timezoneId: 'UTC' });
    const page = await context.newPage();
    await page.goto(ui.server.base);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshot(page, 'sign-in');
    await page.getByLabel('API token').fill(`rt.${ws.id}.not-the-secret`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').innerText()).resolves.toBe('This API token is not valid. Check it and try again.');
    await page.getByLabel('API token').fill(ws.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Contacts', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/contacts');
    await expect(page.getByTestId('role').textContent()).resolves.toBe('admin');
    await context.close();

    const linked = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    expect(linked.url()).toBe(`${ui.server.base}/contacts`);
    await expect(linked.evaluate(() => window.localStorage.getItem('retrace.token'))).resolves.toBe(ws.adminToken);
    await linked.context().close();
  });
});

describe('web UI: delete and restore (seed 002)', () => {
  it('deletes three contacts, finds them by email on Restore contacts, restores two, and shows them back with their lists, accounts, deals, tags and history', async () => {
    const { ws, links } = await crmWorkspace({ seeded: 30 });
    const people = [
      { email: 'ada@restore.example', firstName: 'Ada', lastName: 'Lovelace' },
      { email: 'grace@restore.example', firstName: 'Grace', lastName: 'Hopper' },
      { email: 'alan@restore.example', firstName: 'Alan', lastName: 'Turing' },
    ];
    const contacts = [];
    for (const person of people) contacts.push(await aConnectedContact(ws, person, links));
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);

    // The overview: newest first, with its tags.
    await rowsOf(page).first().waitFor();
    await expect(columnTexts(page, 3)).resolves.toContain('ada@restore.example');
    await screenshot(page, 'contacts');

    // Delete the three from the overview, through the confirmation dialog.
    await page.getByLabel('Search by name or email').fill('restore.example');
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 3);
    await page.getByLabel('Select all shown').check();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const deleteDialog = page.getByRole('dialog', { name: 'Delete 3 contacts?' });
    await expect(deleteDialog.innerText()).resolves.toContain('restore them with those associations from Restore contacts for 30 days');
    await deleteDialog.getByRole('button', { name: 'Delete 3 contacts' }).click();
    await expect(page.getByRole('status').first().locator('.notice-text').innerText()).resolves.toBe('Deleted 3 contacts. They can be brought back from Restore contacts.');
    await expect(page.locator('main td.empty').innerText()).resolves.toBe('No active contact matches “restore.example”.');
    const usage = '31 active contacts · 0 archived · 3 in the recycle bin';
    expect(await settledText(page.getByTestId('usage'), usage)).toBe(usage);

    // Restore contacts: found by email, with who deleted them and when.
    await nav(page, 'Restore contacts').click();
    await page.getByRole('heading', { name: 'Restore contacts', level: 1 }).waitFor();
    await page.getByLabel('Search by name or email').fill('@restore.example');
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 3);
    expect((await columnTexts(page, 3)).sort()).toEqual(['ada@restore.example', 'alan@restore.example', 'grace@restore.example']);
    const adminEmail = (await ws.api('GET', '/users')).body.data[0].email;
    await page.getByText(`${adminEmail} (you)`).first().waitFor();
    expect(await page.getByTestId('removed-by').allInnerTexts()).toEqual([`by ${adminEmail} (you)`, `by ${adminEmail} (you)`, `by ${adminEmail} (you)`]);

    // Pick two and confirm: the dialog says how many, what comes back and what does not.
    await page.getByLabel('Select ada@restore.example').check();
    await page.getByLabel('Select grace@restore.example').check();
    await expect(page.getByTestId('selection-count').innerText()).resolves.toBe('2 of 100 selected');
    await page.getByRole('button', { name: 'Restore 2 contacts' }).click();
    const dialog = page.getByRole('dialog', { name: 'Restore 2 contacts?' });
    await expect(dialog.getByTestId('restore-count').innerText()).resolves.toMatch(/^2 contacts will come back from the recycle bin as active contacts: (Ada Lovelace, Grace Hopper|Grace Hopper, Ada Lovelace)\.$/);
    expect(await dialog.locator('.restored-data th').allInnerTexts()).toEqual(['Lists', 'Accounts', 'Deals', 'Tags', 'Created date']);
    await expect(dialog.locator('.restored-data').innerText()).resolves.toContain('never as the primary contact');
    await expect(dialog.innerText()).resolves.toContain('No automation runs and nothing is sent');
    await screenshot(page, 'restore-confirm');
    await dialog.getByRole('button', { name: 'Restore 2 contacts' }).click();

    // The job is queued (jobs run when the test says): leaving and coming back, even after a reload, still shows it.
    const job = page.getByTestId('restore-job');
    await expect(job.getByRole('heading').innerText()).resolves.toBe('Restore of 2 contacts from the recycle bin is queued');
    await screenshot(page, 'restore-progress');
    await nav(page, 'Contacts').click();
    await page.reload();
    expect(await settledText(page.getByTestId('job-chip'), 'Restoring 0/2')).toBe('Restoring 0/2');
    await nav(page, 'Restore contacts').click();
    await expect(job.getByRole('heading').innerText()).resolves.toBe('Restore of 2 contacts from the recycle bin is queued');
    await ui.server.app.runJobs(ws.id);
    await page.getByRole('heading', { name: 'Restore finished: 2 of 2 contacts restored' }).waitFor();
    await expect(job.getByRole('progressbar').getAttribute('aria-valuenow')).resolves.toBe('100');
    await expect(job.innerText()).resolves.toContain('2 of 2 processed · 2 restored · 0 skipped');
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 1);
    expect(await columnTexts(page, 3)).toEqual(['alan@restore.example']);
    await screenshot(page, 'restore-result');
    await expect(page.getByTestId('job-chip').count()).resolves.toBe(0);
    await page.getByTestId('restore-job').getByRole('button', { name: 'Done' }).click();
    await expect(page.getByTestId('restore-job').count()).resolves.toBe(0);
    await page.reload();
    await rowsOf(page).first().waitFor();
    await page.waitForLoadState('networkidle');
    await expect(page.getByTestId('restore-job').count()).resolves.toBe(0);

    // Back in the overview.
    await nav(page, 'Contacts').click();
    await page.getByLabel('Search by name or email').fill('restore.example');
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 2);
    expect((await columnTexts(page, 3)).sort()).toEqual(['ada@restore.example', 'grace@restore.example']);

    // Ada's page: associations back by seed 002's table, and the history as a timeline.
    await page.getByRole('link', { name: 'Ada Lovelace' }).click();
    await page.getByRole('heading', { name: 'Ada Lovelace', level: 1 }).waitFor();
    await page.getByRole('list', { name: 'History' }).locator('li.timeline-event').first().waitFor();
    expect(await settledText(page.getByTestId('contact-lists'), 'Board updates subscribed')).toBe('Board updates subscribed');
    expect(await settledText(page.getByTestId('contact-accounts'), 'Analytical Engines Ltd · CTO')).toBe('Analytical Engines Ltd · CTO');
    expect(await settledText(page.getByTestId('contact-deals'), 'Lovelace renewal · 12,000 · proposal')).toBe('Lovelace renewal · 12,000 · proposal');
    expect(await settledText(page.getByTestId('contact-tags'), 'pioneer')).toBe('pioneer');
    await page.getByText('Restored the contact from the recycle bin').waitFor();
    const events = page.getByRole('list', { name: 'History' }).locator('li.timeline-event');
    const newest = await events.first().innerText();
    expect(newest).toContain('Restored the contact from the recycle bin');
    expect(newest).toContain('restore');
    const all = await events.allInnerTexts();
    const deletion = all.find((text) => text.includes('Deleted the contact (moved to the recycle bin)'));
    expect(deletion).toContain(`${adminEmail} (you)`);
    // Its lists, accounts, deals and tags were set aside with it, not removed one by one.
    expect(deletion).not.toContain('Left list');
    expect(all[all.length - 1]).toContain('Created the contact “ada@restore.example”');
    await screenshot(page, 'contact');

    // Alan, still deleted, can be restored from his own page too.
    await page.goto(`${ui.server.base}/contacts/${contacts[2].id}`);
    await expect(page.getByRole('alert').innerText()).resolves.toMatch(new RegExp(`^Deleted .+ by ${adminEmail.replace('.', '\\.')} \\(you\\)\\. It can be restored from Restore contacts\\.$`));
    // His page shows what he kept while deleted, which comes back with him.
    expect(await settledText(page.getByTestId('contact-lists'), 'Board updates subscribed')).toBe('Board updates subscribed');
    expect(await settledText(page.getByTestId('contact-accounts'), 'Analytical Engines Ltd · CTO')).toBe('Analytical Engines Ltd · CTO');
    expect(await settledText(page.getByTestId('contact-deals'), 'Turing renewal · 12,000 · proposal')).toBe('Turing renewal · 12,000 · proposal');
    expect(await settledText(page.getByTestId('contact-tags'), 'pioneer')).toBe('pioneer');
    await expect(page.getByText('Kept while it is deleted; comes back when it is restored.').count()).resolves.toBe(4);
    await page.locator('main .page-actions').getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('dialog', { name: 'Restore 1 contact?' }).getByRole('button', { name: 'Restore 1 contact' }).click();
    await page.getByRole('heading', { name: 'Restore contacts', level: 1 }).waitFor();
    await ui.server.app.runJobs(ws.id);
    await page.getByRole('heading', { name: 'Restore finished: 1 of 1 contact restored' }).waitFor();
    expect((await ws.api('GET', `/contacts/${contacts[2].id}`)).body.status).toBe('active');
    await page.context().close();
  });

  it('refuses a 101st selection with a message, and offers “Restore all matching” for more', async () => {
    const ws = await aWorkspace(ui.server.app);
    await seedWorkspace(ui.server.app.ctx.db, { workspaceId: ws.id, actorId: null, origin: 'import', at: ui.server.app.clock.now() }, { contacts: 101 });
    const ids = (await ws.api('GET', '/contacts?limit=500')).body.data.map((c: any) => c.id);
    expect(ids).toHaveLength(101);
    expect((await ws.api('POST', '/contacts/delete', { ids })).body.deleted).toHaveLength(101);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await page.goto(`${ui.server.base}/restore/deleted`);
    await rowsOf(page).first().waitFor();
    await page.getByLabel('Rows per page').selectOption('100');
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 100);
    await page.getByLabel('Select all shown').check();
    await expect(page.getByTestId('selection-count').innerText()).resolves.toBe('100 of 100 selected');
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 1);
    const last = rowsOf(page).first().getByRole('checkbox');
    await last.click();
    await expect(page.getByRole('alert').locator('.notice-text').innerText()).resolves.toBe('You can select up to 100 contacts at a time. To restore more, use “Restore all matching”.');
    await expect(last.isChecked()).resolves.toBe(false);
    await expect(page.getByTestId('selection-count').innerText()).resolves.toBe('100 of 100 selected');
    await page.getByRole('button', { name: 'Restore all matching' }).click();
    const dialog = page.getByRole('dialog', { name: 'Restore 101 contacts?' });
    await expect(dialog.getByTestId('restore-count').innerText()).resolves.toBe('All 101 contacts matching the current search and dates will come back from the recycle bin as active contacts.');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(page.getByRole('dialog').count()).resolves.toBe(0);
    await page.context().close();
  });
});

describe('web UI: archived contacts (seed 004)', () => {
  it('shows restorable from/until, marks frozen contacts, warns of the overage and restores on confirmation, skipping the frozen one', async () => {
    const { ws } = await crmWorkspace({ activeContactLimit: 2 });
    await aContact(ws, { email: 'keep@archive.example', firstName: 'Kept', lastName: 'Active' });
    const old = [
      await aContact(ws, { email: 'mary@archive.example', firstName: 'Mary', lastName: 'Jackson' }),
      await aContact(ws, { email: 'katherine@archive.example', firstName: 'Katherine', lastName: 'Johnson' }),
    ];
    const recent = await aContact(ws, { email: 'dorothy@archive.example', firstName: 'Dorothy', lastName: 'Vaughan' });
    await ws.api('POST', '/contacts/archive', { ids: old.map((c) => c.id) });
    ui.server.app.clock.advance(31 * day);
    await ws.api('POST', '/contacts/archive', { ids: [recent.id] });
    const archived = (await ws.api('GET', '/archived-contacts')).body.data;

    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await page.clock.setFixedTime(ui.server.app.clock.now());
    await page.goto(`${ui.server.base}/restore/archived`);
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 3);
    const frozenRow = rowsOf(page).filter({ hasText: 'dorothy@archive.example' });
    const frozenFrom = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(archived[0].restorableFrom));
    await expect(frozenRow.locator('.badge.frozen').innerText()).resolves.toBe(`Frozen until ${frozenFrom}`);
    await expect(frozenRow.getByRole('checkbox').isDisabled()).resolves.toBe(true);
    await expect(frozenRow.getByRole('button', { name: 'Restore' }).isDisabled()).resolves.toBe(true);
    const maryRow = rowsOf(page).filter({ hasText: 'mary@archive.example' });
    const until = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(archived.find((c: any) => c.id === old[0].id).restorableUntil));
    await expect(maryRow.locator('td:nth-child(6)').innerText()).resolves.toBe(until);
    await expect(maryRow.getByRole('checkbox').isDisabled()).resolves.toBe(false);
    await screenshot(page, 'archived-contacts');

    await page.getByRole('button', { name: 'Restore all matching' }).click();
    const dialog = page.getByRole('dialog', { name: 'Restore 3 contacts?' });
    await expect(dialog.innerText()).resolves.toContain('1 contact of these was archived less than 30 days ago and will be skipped as frozen.');
    await expect(dialog.innerText()).resolves.toContain('Restored contacts count toward your active contact limit at once.');
    await dialog.getByRole('button', { name: 'Restore 3 contacts' }).click();
    const overage = page.getByRole('dialog', { name: 'This goes over your active contact limit' });
    await expect(overage.getByTestId('overage').innerText()).resolves.toBe(
      'The workspace has 2 active contacts and a limit of 2. After this restore it would have 4, 2 over the limit. Restored contacts count toward the limit at once, and the overage may be billed.',
    );
    expect((await ws.api('GET', '/restore-jobs')).body.data).toHaveLength(0);
    await overage.getByRole('button', { name: 'Confirm overage and restore' }).click();
    await page.getByTestId('restore-job').waitFor();
    await ui.server.app.runJobs(ws.id);
    await page.getByRole('heading', { name: 'Restore finished: 2 of 3 contacts restored' }).waitFor();
    const skipped = page.getByRole('table', { name: 'Skipped contacts' });
    await expect(skipped.locator('tbody').innerText()).resolves.toBe('Dorothy Vaughan (dorothy@archive.example)\tIt was archived less than 30 days ago (still frozen).');
    await screenshot(page, 'archived-result');
    expect((await ws.api('GET', `/contacts/${old[1].id}`)).body.status).toBe('active');
    await page.context().close();
  });
});

describe('web UI: what each role sees', () => {
  it('a manager sees deleted contacts but no restore action, and no audit log', async () => {
    const { ws } = await crmWorkspace();
    const gone = await aContact(ws, { email: 'gone@roles.example', firstName: 'Gone', lastName: 'Person' });
    await ws.api('DELETE', `/contacts/${gone.id}`);
    const manager = await ws.userWithRole('manager');
    const page = await signedIn(ui.browser, ui.server.base, manager.token);
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts()).resolves.toEqual(['Contacts', 'Imports', 'Restore contacts', 'Archived contacts', 'Deleted objects', 'Snapshots']);
    await nav(page, 'Restore contacts').click();
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 1);
    expect(await columnTexts(page, 2)).toEqual(['gone@roles.example']);
    await expect(page.getByRole('status').first().locator('.notice-text').innerText()).resolves.toContain('Only users whose role has the permission “contacts.restore” (admins, by default) can restore contacts.');
    await expect(page.locator('main').getByRole('button', { name: /Restore/ }).count()).resolves.toBe(0);
    await expect(page.locator('main').getByRole('checkbox').count()).resolves.toBe(0);
    await page.goto(`${ui.server.base}/audit-log`);
    await expect(page.getByRole('alert').innerText()).resolves.toBe('This page needs the permission “audit.read”, which your role does not have.');
    await page.context().close();
  });

  it('a member sees no delete, archive or selection; a manager does', async () => {
    const { ws, links } = await crmWorkspace();
    const member = await ws.userWithRole('member');
    const manager = await ws.userWithRole('manager');
    const memberPage = await signedIn(ui.browser, ui.server.base, member.token);
    await memberPage.getByRole('link', { name: 'Charles Babbage' }).click();
    await memberPage.getByRole('heading', { name: 'Charles Babbage', level: 1 }).waitFor();
    await expect(memberPage.locator('main').getByRole('button', { name: /Delete|Archive/ }).count()).resolves.toBe(0);
    await nav(memberPage, 'Contacts').click();
    await rowsOf(memberPage).first().waitFor();
    await expect(memberPage.locator('main').getByRole('checkbox').count()).resolves.toBe(0);
    await memberPage.context().close();

    const managerPage = await signedIn(ui.browser, ui.server.base, manager.token);
    await managerPage.goto(`${ui.server.base}/contacts/${links.partnerId}`);
    await managerPage.getByRole('heading', { name: 'Charles Babbage', level: 1 }).waitFor();
    await expect(managerPage.locator('main .page-actions').getByRole('button').allInnerTexts()).resolves.toEqual(['Archive', 'Delete']);
    await managerPage.context().close();
  });
});

describe('web UI: audit log', () => {
  it('lists entries with filters and shows the chain verified, or where it is broken', async () => {
    const { ws } = await crmWorkspace();
    const doomed = await aContact(ws, { email: 'audited@audit.example', firstName: 'Audit', lastName: 'Trail' });
    await ws.api('DELETE', `/contacts/${doomed.id}`);
    const verdict = (await ws.api('GET', '/audit-log/verify')).body;
    expect(verdict.ok).toBe(true);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await nav(page, 'Audit log').click();
    await expect(page.getByTestId('chain').innerText()).resolves.toBe(`Chain verified: all ${verdict.entries} entries are intact.`);
    await page.waitForFunction((n) => document.querySelectorAll('main tbody tr').length === n, verdict.entries);
    expect((await columnTexts(page, 3))[0]).toBe('contact.deleted');
    await screenshot(page, 'audit-log');

    await page.getByLabel('Action').fill('contact.created');
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 2);
    expect(await columnTexts(page, 3)).toEqual(['contact.created', 'contact.created']);
    await page.getByLabel('Target id').fill(doomed.id);
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 1);

    const created = (await ws.api('GET', `/audit-log?action=contact.created&targetId=${doomed.id}`)).body.data[0];
    await sql`UPDATE audit_log SET details = '{"email":"forged@audit.example"}' WHERE workspace_id = ${ws.id} AND id = ${Number(created.id)}`.execute(ui.server.app.ctx.db);
    await page.getByRole('button', { name: 'Verify again' }).click();
    const broken = `Chain broken at entry ${created.id} (of ${verdict.entries} entries): it, or the one before it, was changed or removed outside Retrace.`;
    expect(await settledText(page.getByTestId('chain'), broken)).toBe(broken);
    await page.context().close();
  });
});
