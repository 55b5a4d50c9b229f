import { describe, expect, it } from 'vitest';
import { aContact, aWorkspace, type TestWorkspace } from '../../src/test-support/harness.js';
import { navLink as nav, openUi, screenshot, settledText, signedIn } from './browser.js';

const ui = openUi();

async function statuses(ws: TestWorkspace, ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await ws.api('GET', `/contacts/${id}`)).body.status));
}

/** Runs the workspace's jobs until `done` holds (the page polls meanwhile), a few seconds at most. */
async function runJobsUntil(ws: TestWorkspace, done: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    await ui.server.app.runJobs(ws.id);
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('web UI: undo by cause', () => {
  it('charts the activity, names the cause in words, and undoing it from the Activity page brings the contacts back', async () => {
    const ws = await aWorkspace(ui.server.app);
    const ids: string[] = [];
    for (let i = 1; i <= 3; i += 1) ids.push((await aContact(ws, { email: `cause${i}@activity.example`, firstName: 'Cause', lastName: String(i) })).id);
    const manager = await ws.userWithRole('manager');
    const managerEmail = (await ws.api('GET', '/users')).body.data.find((u: { id: string }) => u.id === manager.id).email;
    expect((await manager.api('POST', '/contacts/delete', { ids: ids.slice(0, 2) })).status).toBe(200);

    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await nav(page, 'Activity').click();
    await page.getByRole('heading', { name: 'Activity', level: 1 }).waitFor();
    const chart = page.getByTestId('activity-chart');
    await chart.locator('canvas').waitFor();
    // The three contacts made and the two deleted, by the admin's and the manager's hands.
    await expect(chart.getAttribute('data-total')).resolves.not.toBe('0');
    const cause = page.getByTestId('cause').filter({ hasText: managerEmail });
    await expect(cause.locator('.cause-text').innerText()).resolves.toMatch(new RegExp(`^${managerEmail.replace(/[.+]/g, '\\$&')} deleted 2 contacts, \\d\\d:\\d\\d$`));
    await screenshot(page, 'activity');

    await cause.getByRole('button', { name: 'Undo…' }).click();
    const dialog = page.getByTestId('undo-flow');
    await expect(settledText(dialog.getByTestId('contact-counts'), 'Contacts\t2\t0\t0\t0')).resolves.toBe('Contacts\t2\t0\t0\t0');
    await expect(dialog.getByText('No conflicts: nobody changed these records since.').count()).resolves.toBe(1);
    await screenshot(page, 'undo-preview');
    expect(await statuses(ws, ids)).toEqual(['deleted', 'deleted', 'active']);
    await dialog.getByRole('button', { name: 'Undo, keeping later changes' }).click();
    await dialog.getByTestId('undo-job').waitFor();
    await runJobsUntil(ws, async () => (await statuses(ws, ids))[0] === 'active');
    expect(await settledText(dialog.getByTestId('undo-status'), 'Undone')).toBe('Undone');
    expect(await statuses(ws, ids)).toEqual(['active', 'active', 'active']);
    await screenshot(page, 'undo-result');
    await page.context().close();
  });

  it('imports a CSV mapped over its first rows, shows its progress and its bad row by line, and undoes the import', async () => {
    const ws = await aWorkspace(ui.server.app);
    const page = await signedIn(ui.browser, ui.server.base, ws.adminToken);
    await nav(page, 'Imports').click();
    await page.getByRole('heading', { name: 'Imports', level: 1 }).waitFor();
    const csv = 'Email,First name,Company\nada@import.example,Ada,Acme\nnot-an-email,Bob,Globex\ncy@import.example,Cy,Initech\n';
    await page.getByLabel('CSV file').setInputFiles({ name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    const mapping = page.getByRole('table', { name: 'Column mapping' });
    await mapping.waitFor();
    // Guessed from the headers; the preview shows the rows as the file has them.
    await expect(page.getByLabel('Map Email').inputValue()).resolves.toBe('email');
    await expect(page.getByLabel('Map First name').inputValue()).resolves.toBe('firstName');
    await expect(page.getByLabel('Map Company').inputValue()).resolves.toBe('account');
    await expect(mapping.locator('tbody tr').allInnerTexts()).resolves.toEqual(['ada@import.example\tAda\tAcme', 'not-an-email\tBob\tGlobex', 'cy@import.example\tCy\tInitech']);
    await screenshot(page, 'import-mapping');
    await page.getByRole('button', { name: 'Import', exact: true }).click();

    const job = page.getByTestId('import-job');
    await job.getByRole('progressbar', { name: 'Import progress' }).waitFor();
    const imported = async () => ((await ws.api('GET', '/imports')).body.data[0]?.status ?? '') === 'succeeded';
    await runJobsUntil(ws, imported);
    expect(await settledText(job.getByTestId('import-status'), 'people.csv: Finished')).toBe('people.csv: Finished');
    await expect(job.getByTestId('import-counts').innerText()).resolves.toMatch(/^3 rows read · 2 created · 0 updated · 1 bad · /);
    const bad = job.getByTestId('bad-row');
    await bad.waitFor();
    await expect(bad.locator('td').first().innerText()).resolves.toBe('3');
    await expect(bad.count()).resolves.toBe(1);
    await screenshot(page, 'import-result');

    const made = (await ws.api('GET', '/contacts?q=import.example')).body.data as { id: string; email: string; status: string }[];
    expect(made.map((c) => c.email).sort()).toEqual(['ada@import.example', 'cy@import.example']);
    await job.getByRole('button', { name: 'Undo this import…' }).click();
    const dialog = page.getByTestId('undo-flow');
    await expect(settledText(dialog.getByTestId('contact-counts'), 'Contacts\t0\t0\t2\t0')).resolves.toBe('Contacts\t0\t0\t2\t0');
    await dialog.getByRole('button', { name: 'Undo, keeping later changes' }).click();
    await runJobsUntil(ws, async () => (await statuses(ws, made.map((c) => c.id))).every((s) => s === 'deleted'));
    expect(await settledText(dialog.getByTestId('undo-status'), 'Undone')).toBe('Undone');
    expect(await statuses(ws, made.map((c) => c.id))).toEqual(['deleted', 'deleted']);
    await page.context().close();
  });
});
