import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { aContact, aWorkspace, type TestWorkspace } from '../../src/test-support/harness.js';
import { navLink as nav, openUi, screenshot, settledText, signedIn } from './browser.js';

const ui = openUi();

const backupRows = (page: Page) => page.getByTestId('backup-row');
/** A row's cells, once its snapshot (looked up after the list) is shown. */
async function cellsOf(page: Page, row: number): Promise<string[]> {
  await backupRows(page).nth(row).locator('td:nth-child(2) .badge').waitFor();
  return backupRows(page).nth(row).locator('td').allInnerTexts();
}
const news = (page: Page) => page.locator('main .notice .notice-text').first();

/** A point as the page shows it: the ui.browser runs in en-GB and UTC (signedIn). */
const shown = (iso: string) => new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'UTC' }).format(new Date(iso));
/** A size as the page shows it (format.ts formatBytes; a test workspace's backup is a few kB). */
const size = (bytes: number) => (bytes < 1000 ? `${bytes} bytes` : `${(bytes / 1000).toFixed(1)} kB`);

async function aWorkspaceWithContacts(count: number): Promise<TestWorkspace> {
  const ws = await aWorkspace(ui.server.app);
  for (let i = 1; i <= count; i += 1) await aContact(ws, { email: `person${i}@backup.example`, firstName: 'Person', lastName: String(i) });
  return ws;
}

async function openBackups(page: Page) {
  await nav(page, 'Backups').click();
  await page.getByRole('heading', { name: 'Backups', level: 1 }).waitFor();
}

describe('web UI: backups', () => {
  it('an admin backs up now and sees the backup verified, with its snapshot, size and contact count, newest first', async () => {
    const ws = await aWorkspaceWithContacts(3);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await openBackups(page);
    await expect(page.locator('main .page-header p').innerText()).resolves.toBe(
      'A backup is the workspace as of a snapshot, copied out to the backup store; it can be restored into an empty database with retrace backup restore, without the people erased or purged since.',
    );
    await expect(page.locator('main td.empty').innerText()).resolves.toBe('No backup yet.');

    await page.getByRole('button', { name: 'Back up now' }).click();
    await backupRows(page).first().waitFor();
    const [backup] = (await ws.api('GET', '/backups')).body.data;
    expect(backup).toMatchObject({ status: 'verified', rowCounts: { contacts: 3 } });
    await expect(news(page).innerText()).resolves.toBe(`Backed up the workspace as of ${shown(backup.takenAt)} (3 contacts, ${size(backup.byteSize)}), and verified it.`);
    expect(await cellsOf(page, 0)).toEqual([shown(backup.takenAt), 'Manual\nTaken for a backup', size(backup.byteSize), '3', `Verified\n${shown(backup.verifiedAt)}`, 'Verify again Delete']);
    await screenshot(page, 'backups');

    // A later one comes first.
    ui.server.app.clock.advance(60);
    await aContact(ws, { email: 'person4@backup.example', firstName: 'Person', lastName: '4' });
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="backup-row"]').length === 2);
    const [newer] = (await ws.api('GET', '/backups')).body.data;
    expect(await backupRows(page).locator('td:nth-child(1)').allInnerTexts()).toEqual([shown(newer.takenAt), shown(backup.takenAt)]);
    expect(await backupRows(page).locator('td:nth-child(4)').allInnerTexts()).toEqual(['4', '3']);
    await page.context().close();
  });

  it('turns scheduled backups on and off and sets how many are kept, saying what happens next', async () => {
    const ws = await aWorkspaceWithContacts(1);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await openBackups(page);
    const schedule = page.getByLabel('Back up on its own');
    await expect(schedule.inputValue()).resolves.toBe('off');
    await schedule.selectOption('weekly');
    const weekly = 'From the next maintenance pass on, the newest weekly snapshot is exported to the backup store on its own, and verified; every one is kept until deleted here.';
    expect(await settledText(news(page), weekly)).toBe(weekly);
    expect((await ws.api('GET', '/backups/schedule')).body).toEqual({ export: 'weekly', keep: null });
    await page.getByLabel('Scheduled backups kept').selectOption('30');
    const kept = 'From the next maintenance pass on, the newest weekly snapshot is exported to the backup store on its own, and verified; only the newest 30 so made are kept.';
    expect(await settledText(news(page), kept)).toBe(kept);
    expect((await ws.api('GET', '/backups/schedule')).body).toEqual({ export: 'weekly', keep: 30 });
    await schedule.selectOption('off');
    expect(await settledText(news(page), 'Scheduled backups are off: backups are made only when asked.')).toBe('Scheduled backups are off: backups are made only when asked.');
    expect((await ws.api('GET', '/backups/schedule')).body).toEqual({ export: 'off', keep: 30 });
    await page.context().close();
  });

  it('verify again shows the new time, and a backup whose file is gone as failed with why', async () => {
    const ws = await aWorkspaceWithContacts(2);
    const created = (await ws.api('POST', '/backups')).body;
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await openBackups(page);
    const status = backupRows(page).first().getByTestId('backup-status');
    await expect(status.innerText()).resolves.toBe(`Verified\n${shown(created.verifiedAt)}`);

    ui.server.app.clock.advance(3600);
    await page.getByRole('button', { name: `Verify the backup of ${shown(created.takenAt)} again` }).click();
    // The time the server recorded (a clock read here could fall in the next second).
    const verifiedAt = async () => (await ws.api('GET', `/backups/${created.id}`)).body.verifiedAt as string;
    await expect.poll(verifiedAt).not.toBe(created.verifiedAt);
    const again = await verifiedAt();
    expect(Date.parse(again) - Date.parse(created.verifiedAt)).toBeGreaterThanOrEqual(3600_000);
    expect(await settledText(status, `Verified\n${shown(again)}`)).toBe(`Verified\n${shown(again)}`);
    await expect(news(page).innerText()).resolves.toBe(`The backup of ${shown(created.takenAt)} is intact: verified again at ${shown(again)}.`);

    rmSync(path.join(ui.server.app.ctx.config.backupDir, created.fileName));
    await page.getByRole('button', { name: `Verify the backup of ${shown(created.takenAt)} again` }).click();
    expect(await settledText(status, 'Failed\nthe file is missing from the backup store')).toBe('Failed\nthe file is missing from the backup store');
    await expect(page.locator('main .notice.warning .notice-text').innerText()).resolves.toBe(`The backup of ${shown(created.takenAt)} failed verification: the file is missing from the backup store.`);
    expect((await ws.api('GET', `/backups/${created.id}`)).body).toMatchObject({ status: 'failed', error: 'the file is missing from the backup store' });
    await page.context().close();
  });

  it('delete asks first, then removes the backup and its file', async () => {
    const ws = await aWorkspaceWithContacts(1);
    const created = (await ws.api('POST', '/backups')).body;
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await openBackups(page);
    await page.getByRole('button', { name: `Delete the backup of ${shown(created.takenAt)}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this backup?' });
    await expect(dialog.locator('.dialog-body').innerText()).resolves.toBe(
      `The backup of ${shown(created.takenAt)} leaves the backup store, and it can no longer be restored. The snapshot it was made from, other backups and the workspace itself are not touched.`,
    );
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(backupRows(page).count()).resolves.toBe(1);

    await page.getByRole('button', { name: `Delete the backup of ${shown(created.takenAt)}` }).click();
    await dialog.getByRole('button', { name: 'Delete backup' }).click();
    await expect(page.locator('main td.empty').innerText()).resolves.toBe('No backup yet.');
    await expect(news(page).innerText()).resolves.toBe(`Deleted the backup of ${shown(created.takenAt)}.`);
    expect((await ws.api('GET', '/backups')).body.data).toEqual([]);
    expect((await ws.api('GET', `/backups/${created.id}`)).status).toBe(404);
    expect(existsSync(path.join(ui.server.app.ctx.config.backupDir, created.fileName))).toBe(false);
    await page.context().close();
  });

  it('backs up a snapshot from its row on the Snapshots page', async () => {
    const ws = await aWorkspaceWithContacts(2);
    const snapshot = (await ws.api('POST', '/snapshots', { label: 'Before the spring import' })).body;
    ui.server.app.clock.advance(60);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await nav(page, 'Snapshots').click();
    await page.getByRole('button', { name: `Back up the snapshot of ${shown(snapshot.takenAt)}` }).click();
    await page.getByRole('link', { name: 'See it in Backups' }).waitFor();
    const [backup] = (await ws.api('GET', '/backups')).body.data;
    expect(backup).toMatchObject({ snapshotId: snapshot.id, takenAt: snapshot.takenAt, status: 'verified', rowCounts: { contacts: 2 } });
    await expect(news(page).innerText()).resolves.toBe(`Backed up the workspace as of ${shown(snapshot.takenAt)} (2 contacts, ${size(backup.byteSize)}), and verified it. See it in Backups.`);
    // No new snapshot was taken for it.
    expect((await ws.api('GET', '/snapshots')).body.data.map((s: any) => s.id)).toEqual([snapshot.id]);

    await page.getByRole('link', { name: 'See it in Backups' }).click();
    await page.getByRole('heading', { name: 'Backups', level: 1 }).waitFor();
    await backupRows(page).first().waitFor();
    expect(await cellsOf(page, 0)).toEqual([shown(snapshot.takenAt), 'Manual\nBefore the spring import', size(backup.byteSize), '2', `Verified\n${shown(backup.verifiedAt)}`, 'Verify again Delete']);
    await page.context().close();
  });

  for (const role of ['manager', 'member']) {
    it(`a ${role} sees no Backups page, no Back up on snapshots, and never asks for backups`, async () => {
      const ws = await aWorkspaceWithContacts(1);
      await ws.api('POST', '/backups');
      const user = await ws.userWithRole(role);
      const page = await signedIn(ui.browser, ui.server.base, user.token);
      const backupCalls: string[] = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname.startsWith('/api/v1/backups')) backupCalls.push(request.url());
      });
      await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts()).resolves.toEqual(['Contacts', 'Imports', 'Restore contacts', 'Archived contacts', 'Deleted objects', 'Snapshots']);
      await nav(page, 'Snapshots').click();
      await page.getByTestId('snapshot-row').first().waitFor();
      await expect(page.locator('main').getByRole('button', { name: /Back up/ }).count()).resolves.toBe(0);
      await expect(page.getByTestId('snapshot-row').first().locator('td').count()).resolves.toBe(5);
      await page.goto(`${ui.server.base}/backups`);
      await expect(page.getByRole('alert').innerText()).resolves.toBe('This page needs the permission “snapshots.manage”, which your role does not have.');
      await expect(page.locator('main').getByRole('button').count()).resolves.toBe(0);
      expect(backupCalls).toEqual([]);
      await page.context().close();
    });
  }
});
