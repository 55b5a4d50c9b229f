import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { aContact, aWorkspace, commitWhileWaitedOn, postImportAs, testApp, testConfig, type TestApp, type TestWorkspace, type Upload } from '../test-support/harness.js';
import { importBatchSize, importJobHandler } from './service.js';
import { runPendingJobs, type JobHandler } from '../jobs/service.js';
import { inTransaction, type ChangeContext } from '../db/database.js';
import { claimEmails, forgetEmails } from './queries.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

/** POST /imports as multipart/form-data, the way a browser's FormData sends it. */
const postImport = (token: string, upload: Upload, on: TestApp = app) => postImportAs(on, token, upload);

/** CSV text of rows, quoted where needed. */
const csvOf = (rows: string[][]) => rows.map((r) => r.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')).join('\n') + '\n';

/** Uploads the file, runs the workspace's jobs to the end, and answers the finished import. */
async function imported(ws: TestWorkspace, csv: string, mapping: object) {
  const res = await postImport(ws.adminToken, { csv, mapping });
  expect(res.status).toBe(202);
  await app.runJobs(ws.id);
  return (await ws.api('GET', `/imports/${res.body.id}`)).body;
}

async function errorsOf(ws: TestWorkspace, importId: string) {
  const res = await ws.api('GET', `/imports/${importId}/errors?limit=500`);
  expect(res.status).toBe(200);
  return res.body.data.map((e: { line: number; reason: string }) => ({ line: e.line, reason: e.reason }));
}

async function contactsOf(ws: TestWorkspace, status = 'active') {
  const res = await ws.api('GET', `/contacts?status=${status}&limit=500`);
  return res.body.data as { id: string; email: string; firstName: string | null; lastName: string | null; phone: string | null; fields: object; tags: string[] }[];
}

const byListId = (a: { listId: string }, b: { listId: string }) => a.listId.localeCompare(b.listId);

const contactWith = async (ws: TestWorkspace, email: string) => (await contactsOf(ws)).find((c) => c.email === email);

/** Files the import store holds for the workspace. */
const storedFiles = async (ws: TestWorkspace) => (await readdir(testConfig.importDir).catch(() => [] as string[])).filter((f) => f.includes(ws.id));

const basic = { mode: 'create', columns: { Email: 'email', First: 'firstName', Last: 'lastName', Phone: 'phone' } };

describe('POST /imports', () => {
  it('answers 202 with the queued import once the file is stored and the job committed', async () => {
    const ws = await aWorkspace(app);
    const res = await postImport(ws.adminToken, { csv: csvOf([['Email'], ['a@import.test']]), mapping: { mode: 'create', columns: { Email: 'email' } } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'queued', rows: 0, created: 0, updated: 0, failed: 0, createdBy: ws.adminId, finishedAt: null, mode: 'create', fileName: 'contacts.csv' });
    expect(await storedFiles(ws)).toEqual([`${ws.id}.${res.body.id}.csv`]);
    expect((await ws.api('GET', '/imports')).body.data.map((i: { id: string }) => i.id)).toEqual([res.body.id]);
  });

  it('loads the good rows of a file and reports each bad one with its line and reason', async () => {
    const ws = await aWorkspace(app);
    const done = await imported(
      ws,
      csvOf([
        ['Email', 'First', 'Last', 'Phone'],
        ['ada@import.test', 'Ada', 'Lovelace', '+44 1'],
        ['not-an-email', 'X', 'Y', ''],
        ['', 'No', 'Email', ''],
        ['grace@import.test', 'Grace', 'Hopper', ''],
        ['ADA@import.test', 'Ada', 'Again', ''],
        ['long@import.test', 'x'.repeat(201), '', ''],
        ['short@import.test', 'Only'],
        ['alan@import.test', 'Alan', 'Turing', ''],
      ]),
      basic,
    );
    expect(done).toMatchObject({ status: 'succeeded', rows: 8, created: 3, updated: 0, failed: 5 });
    expect(await errorsOf(ws, done.id)).toEqual([
      { line: 3, reason: 'invalid_email' },
      { line: 4, reason: 'missing_email' },
      { line: 6, reason: 'duplicate_email' },
      { line: 7, reason: 'invalid_value' },
      { line: 8, reason: 'wrong_cell_count' },
    ]);
    expect((await contactsOf(ws)).map((c) => [c.email, c.firstName, c.lastName, c.phone]).sort()).toEqual([
      ['ada@import.test', 'Ada', 'Lovelace', '+44 1'],
      ['alan@import.test', 'Alan', 'Turing', null],
      ['grace@import.test', 'Grace', 'Hopper', null],
    ]);
    expect(await storedFiles(ws)).toEqual([]);
  });

  it('creates no contact in create mode for an email another contact holds, active or archived', async () => {
    const ws = await aWorkspace(app);
    const active = await aContact(ws, { email: 'Held@import.test' });
    const away = await aContact(ws, { email: 'away@import.test' });
    await ws.api('POST', `/contacts/${away.id}/archive`);
    const done = await imported(ws, csvOf([['Email'], ['held@IMPORT.test'], ['away@import.test'], ['new@import.test']]), { mode: 'create', columns: { Email: 'email' } });
    expect(done).toMatchObject({ created: 1, updated: 0, failed: 2 });
    const errors = (await ws.api('GET', `/imports/${done.id}/errors`)).body.data;
    expect(errors).toEqual([
      { line: 2, reason: 'email_taken', message: `the active contact ${active.id} has this email` },
      { line: 3, reason: 'email_taken', message: `the archived contact ${away.id} has this email` },
    ]);
  });

  it('reports a row whose email another contact takes while its batch runs as email_taken, instead of failing the job', async () => {
    const ws = await aWorkspace(app);
    const res = await postImport(ws.adminToken, { csv: csvOf([['Email'], ['race@import.test'], ['other@import.test']]), mapping: { mode: 'create', columns: { Email: 'email' } } });
    await commitWhileWaitedOn(app, `INSERT INTO contacts (workspace_id, email) VALUES ('${ws.id}', 'race@import.test')`, () => app.runJobs(ws.id), 'INSERT INTO contacts');
    const { rows } = await sql<{ id: string }>`SELECT id FROM contacts WHERE workspace_id = ${ws.id} AND email = 'race@import.test'`.execute(app.ctx.db);
    expect(rows).toHaveLength(1);
    expect((await ws.api('GET', `/imports/${res.body.id}`)).body).toMatchObject({ status: 'succeeded', created: 1, failed: 1 });
    expect((await ws.api('GET', `/imports/${res.body.id}/errors`)).body.data).toEqual([
      { line: 2, reason: 'email_taken', message: `the active contact ${rows[0].id} has this email` },
    ]);
  });

  it('updates only the active contacts whose email matches in update mode: given cells replace, empty ones keep, fields merge', async () => {
    const ws = await aWorkspace(app);
    const ada = (await ws.api('POST', '/contacts', { email: 'ada@import.test', firstName: 'Old', lastName: 'Lovelace', fields: { plan: 'free', since: '2020' } })).body;
    const away = await aContact(ws, { email: 'away@import.test' });
    await ws.api('POST', `/contacts/${away.id}/archive`);
    const done = await imported(
      ws,
      csvOf([
        ['Email', 'First', 'Last', 'Plan'],
        ['ADA@import.test', 'Ada', '', 'pro'],
        ['nobody@import.test', 'No', 'Body', ''],
        ['away@import.test', 'Away', '', ''],
      ]),
      { mode: 'update', columns: { Email: 'email', First: 'firstName', Last: 'lastName', Plan: 'fields.plan' } },
    );
    expect(done).toMatchObject({ status: 'succeeded', rows: 3, created: 0, updated: 1, failed: 2 });
    expect(await errorsOf(ws, done.id)).toEqual([
      { line: 3, reason: 'contact_not_found' },
      { line: 4, reason: 'contact_not_active' },
    ]);
    expect((await ws.api('GET', `/contacts/${ada.id}`)).body).toMatchObject({ email: 'ada@import.test', firstName: 'Ada', lastName: 'Lovelace', fields: { plan: 'pro', since: '2020' } });
    expect((await contactsOf(ws)).map((c) => c.email)).toEqual(['ada@import.test']);
  });

  it('creates the new contacts and updates the others in upsert mode', async () => {
    const ws = await aWorkspace(app);
    const ada = await aContact(ws, { email: 'ada@import.test', firstName: 'Old' });
    const done = await imported(ws, csvOf([['Email', 'First'], ['ada@import.test', 'Ada'], ['grace@import.test', 'Grace']]), {
      mode: 'upsert',
      columns: { Email: 'email', First: 'firstName' },
    });
    expect(done).toMatchObject({ created: 1, updated: 1, failed: 0 });
    expect((await ws.api('GET', `/contacts/${ada.id}`)).body.firstName).toBe('Ada');
    expect((await contactWith(ws, 'grace@import.test'))?.firstName).toBe('Grace');
  });

  it('writes nothing for a row that changes nothing, but counts it as updated', async () => {
    const ws = await aWorkspace(app);
    const ada = await aContact(ws, { email: 'ada@import.test', firstName: 'Ada' });
    const done = await imported(ws, csvOf([['Email', 'First'], ['ada@import.test', 'Ada']]), { mode: 'update', columns: { Email: 'email', First: 'firstName' } });
    expect(done).toMatchObject({ updated: 1, failed: 0 });
    expect((await ws.api('GET', `/contacts/${ada.id}/history`)).body.data.map((v: { op: string }) => v.op)).toEqual(['insert']);
  });

  it('sets list memberships with their status, and creates tags and accounts named in the file once each', async () => {
    const ws = await aWorkspace(app);
    const news = (await ws.api('POST', '/lists', { name: 'News' })).body.id;
    const promo = (await ws.api('POST', '/lists', { name: 'Promo' })).body.id;
    const vip = (await ws.api('POST', '/tags', { name: 'VIP' })).body.id;
    const done = await imported(
      ws,
      csvOf([
        ['Email', 'News', 'Promo', 'Tags', 'Company', 'Title'],
        ['a@import.test', 'subscribed', 'Unsubscribed', 'vip; Early', 'Acme', 'CTO'],
        ['b@import.test', 'yes', '', 'early', 'acme', ''],
        ['c@import.test', '', 'bounced', '', 'Globex', 'CEO'],
      ]),
      {
        mode: 'create',
        listStatus: 'subscribed',
        columns: { Email: 'email', News: `list:${news}`, Promo: `list:${promo}`, Tags: 'tag', Company: 'account', Title: 'jobTitle' },
      },
    );
    expect(done).toMatchObject({ created: 3, failed: 0, tagsCreated: 1, accountsCreated: 2 });
    const tags = (await ws.api('GET', '/tags')).body.data.map((t: { id: string; name: string }) => [t.name, t.id]);
    expect(tags.map(([name]: string[]) => name)).toEqual(['VIP', 'Early']);
    const early = tags[1][1];
    const accounts = new Map<string, string>((await ws.api('GET', '/accounts')).body.data.map((a: { id: string; name: string }) => [a.id, a.name]));
    expect([...accounts.values()].sort()).toEqual(['Acme', 'Globex']);
    const associations = async (email: string) => {
      const c = await contactWith(ws, email);
      // Written in one statement, a contact's lists and tags share their time: compared by id.
      const lists = (await ws.api('GET', `/contacts/${c?.id}/lists`)).body.data.sort(byListId);
      const links = (await ws.api('GET', `/contacts/${c?.id}/accounts`)).body.data.map((l: { accountId: string; jobTitle: string | null }) => [accounts.get(l.accountId), l.jobTitle]);
      return { lists, tags: c?.tags.sort(), links };
    };
    expect(await associations('a@import.test')).toEqual({
      lists: [{ listId: news, status: 'subscribed' }, { listId: promo, status: 'unsubscribed' }].sort(byListId),
      tags: [vip, early].sort(),
      links: [['Acme', 'CTO']],
    });
    expect(await associations('b@import.test')).toEqual({ lists: [{ listId: news, status: 'subscribed' }], tags: [early], links: [['Acme', null]] });
    expect(await associations('c@import.test')).toEqual({ lists: [{ listId: promo, status: 'bounced' }], tags: [], links: [['Globex', 'CEO']] });
  });

  it('reports a list cell that is no status, and one for a list deleted after the upload, as bad rows', async () => {
    const ws = await aWorkspace(app);
    const news = (await ws.api('POST', '/lists', { name: 'News' })).body.id;
    const gone = (await ws.api('POST', '/lists', { name: 'Gone' })).body.id;
    const res = await postImport(ws.adminToken, {
      csv: csvOf([['Email', 'News', 'Gone'], ['a@import.test', 'yes', ''], ['b@import.test', '', 'subscribed'], ['c@import.test', 'bounced', '']]),
      mapping: { mode: 'create', columns: { Email: 'email', News: `list:${news}`, Gone: `list:${gone}` } },
    });
    await ws.api('DELETE', `/lists/${gone}`);
    await app.runJobs(ws.id);
    expect(await errorsOf(ws, res.body.id)).toEqual([
      { line: 2, reason: 'invalid_list_status' },
      { line: 3, reason: 'list_not_found' },
    ]);
    expect((await contactsOf(ws)).map((c) => c.email)).toEqual(['c@import.test']);
  });

  it('fails the rows that would take the workspace over its active contact limit, unless the mapping confirms the overage', async () => {
    const ws = await aWorkspace(app, { activeContactLimit: 2 });
    const ada = await aContact(ws, { email: 'ada@import.test', firstName: 'Old' });
    const rows = csvOf([['Email', 'First'], ['ada@import.test', 'Ada'], ['b@import.test', 'B'], ['c@import.test', 'C'], ['d@import.test', 'D']]);
    const done = await imported(ws, rows, { mode: 'upsert', columns: { Email: 'email', First: 'firstName' } });
    expect(done).toMatchObject({ created: 1, updated: 1, failed: 2 });
    expect(await errorsOf(ws, done.id)).toEqual([
      { line: 4, reason: 'contact_limit_exceeded' },
      { line: 5, reason: 'contact_limit_exceeded' },
    ]);
    expect((await ws.api('GET', `/contacts/${ada.id}`)).body.firstName).toBe('Ada');
    const confirmed = await imported(ws, rows, { mode: 'upsert', confirmOverage: true, columns: { Email: 'email', First: 'firstName' } });
    expect(confirmed).toMatchObject({ created: 2, updated: 2, failed: 0 });
  });

  it('resumes an import stopped between batches where it stopped, loading every row once', async () => {
    const ws = await aWorkspace(app);
    const batch = importBatchSize[app.ctx.database.engine];
    const rows = [['Email', 'First']];
    for (let i = 0; i < batch * 2 + 1000; i += 1) rows.push([`p${i}@import.test`, `P${i}`]);
    // In the second batch, the email of line 3 again.
    rows[batch + 500] = ['P1@import.test', 'Again'];
    const total = rows.length - 1;
    const res = await postImport(ws.adminToken, { csv: csvOf(rows), mapping: { mode: 'create', columns: { Email: 'email', First: 'firstName' } } });
    expect(await app.runJobs(ws.id, { maxSteps: 1 })).toBe(1);
    expect((await ws.api('GET', `/imports/${res.body.id}`)).body).toMatchObject({ status: 'running', rows: batch, created: batch });
    await app.runJobs(ws.id, { maxSteps: 1 });
    const halfway = (await ws.api('GET', `/imports/${res.body.id}`)).body;
    expect(halfway).toMatchObject({ status: 'running', rows: batch * 2, created: batch * 2 - 1, failed: 1 });
    expect(halfway.bytesRead).toBeLessThan(halfway.byteSize);
    await app.runJobs(ws.id);
    const done = (await ws.api('GET', `/imports/${res.body.id}`)).body;
    expect(done).toMatchObject({ status: 'succeeded', rows: total, created: total - 1, failed: 1, bytesRead: done.byteSize });
    expect(await errorsOf(ws, done.id)).toEqual([{ line: batch + 501, reason: 'duplicate_email' }]);
    expect((await ws.api('GET', '/workspace')).body.usage.active).toBe(total - 1);
  });

  it('loads each row once, and makes a new tag once, when a batch is tried again after its step failed', async () => {
    const ws = await aWorkspace(app);
    const rows = [['Email', 'First', 'Tag']];
    for (let i = 0; i < 40; i += 1) rows.push([`again${i}@import.test`, `A${i}`, 'Fresh']);
    rows.push(['not an email', 'X', 'Fresh']);
    const res = await postImport(ws.adminToken, { csv: csvOf(rows), mapping: { mode: 'create', columns: { Email: 'email', First: 'firstName', Tag: 'tag' } } });
    let failed = 0;
    // On PostgreSQL the batch's parts have committed when its step fails; the runner
    // tries the batch again, as after a serialization failure.
    const failingOnce: JobHandler = {
      ...importJobHandler,
      async step(tx, job, change, ctx) {
        if (failed === 0) {
          failed += 1;
          throw Object.assign(new Error('could not serialize access'), { code: '40001' });
        }
        return importJobHandler.step(tx, job, change, ctx);
      },
    };
    await runPendingJobs(app.ctx, [failingOnce], { workspaceId: ws.id });
    expect(failed).toBe(1);
    expect((await ws.api('GET', `/imports/${res.body.id}`)).body).toMatchObject({ status: 'succeeded', rows: 41, created: 40, updated: 0, failed: 1, tagsCreated: 1 });
    expect(await errorsOf(ws, res.body.id)).toEqual([{ line: 42, reason: 'invalid_email' }]);
    expect((await ws.api('GET', '/tags')).body.data.map((t: { name: string }) => t.name)).toEqual(['Fresh']);
    expect((await contactsOf(ws)).length).toBe(40);
    const { rows: notes } = await sql`SELECT 1 FROM import_batch_parts WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
    expect(notes).toEqual([]);
  });

  it('finishes in its step the part of a batch whose connection was lost, loading each row once', async () => {
    const ws = await aWorkspace(app);
    const rows = [['Email', 'First']];
    for (let i = 0; i < 30; i += 1) rows.push([`cut${i}@import.test`, `C${i}`]);
    const res = await postImport(ws.adminToken, { csv: csvOf(rows), mapping: { mode: 'create', columns: { Email: 'email', First: 'firstName' } } });
    if (app.ctx.database.engine === 'pglite') {
      // One connection: no parts; the step loads the batch whole.
      expect(await app.runJobs(ws.id, { maxSteps: 1 })).toBe(1);
    } else {
      const { rows: at } = await sql<{ offset: string }>`SELECT progress->>'offset' AS offset FROM jobs WHERE workspace_id = ${ws.id} AND id = ${res.body.id}`.execute(app.ctx.db);
      await app.ctx.database.withScriptSession(async (session) => {
        // The second part waits on its hold, and its connection is ended there.
        await session.exec(`BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('${ws.id}:${res.body.id}:${at[0].offset}:1', 0))`);
        const running = app.runJobs(ws.id, { maxSteps: 1 });
        let ended = false;
        for (let tries = 0; tries < 200 && !ended; tries += 1) {
          await session.exec('SELECT pg_stat_clear_snapshot()');
          const [waiting] = await session.rows<{ ended: boolean | null }>(
            `SELECT bool_or(pg_terminate_backend(pid)) AS ended FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%'`,
          );
          ended = waiting.ended === true;
          if (!ended) await new Promise((resolve) => setTimeout(resolve, 25));
        }
        expect(ended).toBe(true);
        await session.exec('COMMIT');
        expect(await running).toBe(1);
      });
    }
    expect((await ws.api('GET', `/imports/${res.body.id}`)).body).toMatchObject({ status: 'running', rows: 30, created: 30, failed: 0 });
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/imports/${res.body.id}`)).body).toMatchObject({ status: 'succeeded', rows: 30, created: 30, failed: 0 });
    expect(await errorsOf(ws, res.body.id)).toEqual([]);
    expect((await contactsOf(ws)).map((c) => c.email).sort()).toEqual(rows.slice(1).map((r) => r[0]).sort());
  });

  it('counts, when it fails, the rows its batch’s parts loaded after the last checkpoint', async () => {
    const ws = await aWorkspace(app);
    const rows = [['Email']];
    for (let i = 0; i < 30; i += 1) rows.push([`counted${i}@import.test`]);
    const res = await postImport(ws.adminToken, { csv: csvOf(rows), mapping: { mode: 'create', columns: { Email: 'email' } } });
    const failingStep: JobHandler = {
      ...importJobHandler,
      async step() {
        throw new Error('the disk is gone');
      },
    };
    await runPendingJobs(app.ctx, [failingStep], { workspaceId: ws.id });
    // On PostgreSQL the parts loaded every row before the step failed; PGlite loads a batch in its step.
    const loaded = app.ctx.database.engine === 'postgres' ? 30 : 0;
    expect((await contactsOf(ws)).length).toBe(loaded);
    expect((await ws.api('GET', `/imports/${res.body.id}`)).body).toMatchObject({ status: 'failed', rows: loaded, created: loaded, failed: 0 });
    const finished = (await ws.api('GET', `/audit-log?targetId=${res.body.id}&action=import.finished`)).body.data;
    expect(finished.map((e: { details: object }) => e.details)).toEqual([{ status: 'failed', rows: loaded, created: loaded, updated: 0, failed: 0, tagsCreated: 0, accountsCreated: 0 }]);
  });

  it('cuts its batches as it was queued, whatever the settings of the server that runs it', async () => {
    const ws = await aWorkspace(app);
    const rows = [['Email']];
    for (let i = 0; i < 25; i += 1) rows.push([`cut-as-queued${i}@import.test`]);
    const queuedBy = await testApp({ database: app.ctx.database, config: { jobBatchSize: 10, importParts: 3 } });
    const res = await postImport(ws.adminToken, { csv: csvOf(rows), mapping: { mode: 'create', columns: { Email: 'email' } } }, queuedBy);
    expect(await app.runJobs(ws.id, { maxSteps: 1 })).toBe(1);
    expect((await ws.api('GET', `/imports/${res.body.id}`)).body).toMatchObject({ status: 'running', rows: 10, created: 10 });
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/imports/${res.body.id}`)).body).toMatchObject({ status: 'succeeded', rows: 25, created: 25, failed: 0 });
    await queuedBy.server.close();
  });

  it('writes the import.created and import.finished audit entries, not one per row, and history with origin import', async () => {
    const ws = await aWorkspace(app);
    const done = await imported(ws, csvOf([['Email'], ['a@import.test'], ['b@import.test'], ['bad']]), { mode: 'create', columns: { Email: 'email' } });
    const entries = (await ws.api('GET', `/audit-log?targetId=${done.id}`)).body.data;
    expect(entries.map((e: { action: string; actorId: string }) => [e.action, e.actorId])).toEqual([
      ['import.finished', ws.adminId],
      ['import.created', ws.adminId],
    ]);
    expect(entries[0].details).toEqual({ status: 'succeeded', rows: 3, created: 2, updated: 0, failed: 1, tagsCreated: 0, accountsCreated: 0 });
    expect((await ws.api('GET', '/audit-log?action=contact.created')).body.data).toEqual([]);
    const a = await contactWith(ws, 'a@import.test');
    expect((await ws.api('GET', `/contacts/${a?.id}/history`)).body.data).toMatchObject([{ op: 'insert', origin: 'import', actorId: ws.adminId }]);
  });

  it('enrols no imported contact in an automation', async () => {
    const ws = await aWorkspace(app);
    const automation = (await ws.api('POST', '/automations', { name: 'Welcome', trigger: { type: 'contact.created' }, steps: [{ type: 'send_email', subject: 'Hi' }] })).body;
    await imported(ws, csvOf([['Email'], ['a@import.test']]), { mode: 'create', columns: { Email: 'email' } });
    await ws.api('POST', '/maintenance/run');
    expect((await ws.api('GET', `/automations/${automation.id}/enrollments`)).body.data).toEqual([]);
    expect((await ws.api('GET', '/messages')).body.data).toEqual([]);
  });

  it('neither waits for a restore nor holds one up: both are queued at once', async () => {
    const ws = await aWorkspace(app);
    const gone = await aContact(ws);
    await ws.api('DELETE', `/contacts/${gone.id}`);
    const first = await postImport(ws.adminToken, { csv: csvOf([['Email'], ['a@import.test']]), mapping: { mode: 'create', columns: { Email: 'email' } } });
    expect(first.status).toBe(202);
    const restore = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [gone.id] });
    expect(restore.status).toBe(202);
    const second = await postImport(ws.adminToken, { csv: csvOf([['Email'], ['b@import.test']]), mapping: { mode: 'create', columns: { Email: 'email' } } });
    expect(second.status).toBe(202);
    expect((await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [gone.id] })).body).toMatchObject({
      error: { code: 'restore_job_running', details: { jobId: restore.body.id } },
    });
    await app.runJobs(ws.id);
    expect((await contactsOf(ws)).map((c) => c.email).sort()).toEqual(['a@import.test', 'b@import.test', gone.email].sort());
  });

  it('fails the import, saying why, when its file is gone from the import store, and audits that it ended', async () => {
    const ws = await aWorkspace(app);
    const res = await postImport(ws.adminToken, { csv: csvOf([['Email'], ['a@import.test']]), mapping: { mode: 'create', columns: { Email: 'email' } } });
    await rm(path.join(testConfig.importDir, `${ws.id}.${res.body.id}.csv`));
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/imports/${res.body.id}`)).body).toMatchObject({ status: 'failed', error: 'the uploaded file is no longer in the import store', created: 0 });
    expect((await ws.api('GET', `/audit-log?action=import.finished`)).body.data).toMatchObject([{ targetId: res.body.id, details: { status: 'failed', rows: 0 } }]);
  });

  it('answers 404 for another workspace’s import, its errors and their CSV, and for a job that is no import', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const done = await imported(ws, csvOf([['Email'], ['bad']]), { mode: 'create', columns: { Email: 'email' } });
    const gone = await aContact(ws);
    await ws.api('DELETE', `/contacts/${gone.id}`);
    const restore = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [gone.id] });
    expect((await ws.api('GET', `/imports/${restore.body.id}`)).status).toBe(404);
    for (const url of [`/imports/${done.id}`, `/imports/${done.id}/errors`, `/imports/${done.id}/errors?format=csv`, '/imports/no-such-import']) {
      expect((await other.api('GET', url)).status).toBe(404);
    }
    expect((await other.api('GET', '/imports')).body.data).toEqual([]);
  });

  it('needs contacts.write to import and contacts.read to read imports and export', async () => {
    const ws = await aWorkspace(app);
    await ws.api('POST', '/roles', { name: 'Reader', permissions: ['contacts.read'] });
    await ws.api('POST', '/roles', { name: 'Nobody', permissions: [] });
    const reader = await ws.userWithRole('Reader');
    const nobody = await ws.userWithRole('Nobody');
    const refused = await postImport(reader.token, { csv: csvOf([['Email'], ['a@import.test']]), mapping: { mode: 'create', columns: { Email: 'email' } } });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'forbidden', details: { permission: 'contacts.write' } } } });
    expect(await storedFiles(ws)).toEqual([]);
    const done = await imported(ws, csvOf([['Email'], ['a@import.test']]), { mode: 'create', columns: { Email: 'email' } });
    expect((await reader.api('GET', `/imports/${done.id}`)).status).toBe(200);
    for (const url of ['/imports', `/imports/${done.id}`, `/imports/${done.id}/errors`, '/contacts/export']) {
      expect((await nobody.api('GET', url)).body).toMatchObject({ error: { code: 'forbidden', details: { permission: 'contacts.read' } } });
    }
  });

  const mappingOf = (columns: Record<string, string>, mode = 'create') => ({ mode, columns });
  const file = csvOf([['Email', 'First', 'Title'], ['a@import.test', 'A', 'CTO']]);
  const badInputs: [string, Upload, (string | number)[]][] = [
    ['a mapping that is not JSON', { csv: file, mapping: 'columns: Email' }, ['mapping']],
    ['a mapping naming a header the file does not have', { csv: file, mapping: mappingOf({ Mail: 'email' }) }, ['mapping', 'columns', 'Mail']],
    ['two columns mapped to email', { csv: file, mapping: mappingOf({ Email: 'email', First: 'email' }) }, ['mapping', 'columns', 'First']],
    ['no email column', { csv: file, mapping: mappingOf({ First: 'firstName' }, 'upsert') }, ['mapping', 'columns']],
    ['an unknown mode', { csv: file, mapping: mappingOf({ Email: 'email' }, 'replace') }, ['mapping', 'mode']],
    ['an unknown target', { csv: file, mapping: mappingOf({ Email: 'email', First: 'nickname' }) }, ['mapping', 'columns', 'First']],
    ['a job title without an account', { csv: file, mapping: mappingOf({ Email: 'email', Title: 'jobTitle' }) }, ['mapping', 'columns', 'Title']],
    ['a list the workspace does not have', { csv: file, mapping: mappingOf({ Email: 'email', First: 'list:no-such-list' }) }, ['mapping', 'columns', 'First']],
    ['no file part', { mapping: mappingOf({ Email: 'email' }) }, ['file']],
    ['no mapping part', { csv: file }, ['mapping']],
    ['a file that is not UTF-8', { csv: Buffer.from('Email,First\na@import.test,Ren\xe9\n', 'latin1'), mapping: mappingOf({ Email: 'email' }) }, ['file']],
    ['an empty file', { csv: '', mapping: mappingOf({ Email: 'email' }) }, ['file']],
    ['a part it does not know', { csv: file, mapping: mappingOf({ Email: 'email' }), parts: [{ name: 'notes', value: 'hello' }] }, ['notes']],
  ];
  it.each(badInputs)('answers 400 to %s, naming the problem, and keeps nothing', async (_what, upload, path) => {
    const ws = await aWorkspace(app);
    const res = await postImport(ws.adminToken, upload);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.details.issues.map((i: { path: unknown[] }) => i.path)).toContainEqual(path);
    expect((await ws.api('GET', '/imports')).body.data).toEqual([]);
    expect(await storedFiles(ws)).toEqual([]);
  });

  it('answers 400 to a body that is not multipart', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/imports');
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
  });

  it('answers 413 file_too_large to a file over the import size limit, and keeps nothing', async () => {
    const small = await testApp();
    small.ctx.config = { ...small.ctx.config, importMaxBytes: 64 };
    const ws = await aWorkspace(small);
    const res = await postImport(ws.adminToken, { csv: csvOf([['Email'], ...Array.from({ length: 20 }, (_, i) => [`p${i}@import.test`])]), mapping: { mode: 'create', columns: { Email: 'email' } } }, small);
    expect(res).toMatchObject({ status: 413, body: { error: { code: 'file_too_large', details: { maxBytes: 64 } } } });
    expect(await storedFiles(ws)).toEqual([]);
    expect((await ws.api('GET', '/imports')).body.data).toEqual([]);
  });
});

describe('GET /imports/:id/errors', () => {
  it('pages the bad rows in line order, and gives them all as CSV when asked', async () => {
    const ws = await aWorkspace(app);
    const done = await imported(ws, csvOf([['Email', 'First'], ['=HYPERLINK("x")', ''], ['ok@import.test', ''], ['', 'Nobody']]), {
      mode: 'create',
      columns: { Email: 'email', First: 'firstName' },
    });
    const first = (await ws.api('GET', `/imports/${done.id}/errors?limit=1`)).body;
    expect(first.data).toEqual([{ line: 2, reason: 'invalid_email', message: '"=HYPERLINK(\\"x\\")" is not an email address' }]);
    const second = (await ws.api('GET', `/imports/${done.id}/errors?limit=1&cursor=${first.nextCursor}`)).body;
    expect(second).toEqual({ data: [{ line: 4, reason: 'missing_email', message: 'the row has no email' }], nextCursor: null });

    for (const asked of [{ url: `/imports/${done.id}/errors?format=csv`, headers: {} }, { url: `/imports/${done.id}/errors`, headers: { accept: 'text/csv' } }]) {
      const raw = await app.server.inject({ method: 'GET', url: `/api/v1${asked.url}`, headers: { authorization: `Bearer ${ws.adminToken}`, ...asked.headers } });
      expect(raw.statusCode).toBe(200);
      expect(raw.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(parse(raw.body)).toEqual([
        ['line', 'reason', 'message'],
        ['2', 'invalid_email', '"=HYPERLINK(\\"x\\")" is not an email address'],
        ['4', 'missing_email', 'the row has no email'],
      ]);
    }
  });
});

describe('GET /contacts/export', () => {
  async function exported(ws: TestWorkspace, query = '') {
    const raw = await app.server.inject({ method: 'GET', url: `/api/v1/contacts/export${query}`, headers: { authorization: `Bearer ${ws.adminToken}` } });
    expect(raw.statusCode).toBe(200);
    expect(raw.headers['content-type']).toBe('text/csv; charset=utf-8');
    return { text: raw.body, rows: parse(raw.body) as string[][] };
  }

  it('streams the contacts GET /contacts lists as CSV, header row first, formulas escaped', async () => {
    const ws = await aWorkspace(app);
    const vip = (await ws.api('POST', '/tags', { name: 'VIP' })).body.id;
    const ada = (await ws.api('POST', '/contacts', { email: 'ada@export.test', firstName: '=cmd()', phone: '+44 20', fields: { plan: 'pro', seats: 5 }, tags: [vip] })).body;
    const grace = (await ws.api('POST', '/contacts', { email: 'grace@export.test', lastName: 'Hopper, Jr.' })).body;
    const away = await aContact(ws, { email: 'away@export.test' });
    await ws.api('POST', `/contacts/${away.id}/archive`);
    const { rows } = await exported(ws);
    expect(rows).toEqual([
      ['id', 'email', 'firstName', 'lastName', 'phone', 'status', 'createdAt', 'updatedAt', 'tags', 'fields.plan', 'fields.seats'],
      [grace.id, 'grace@export.test', '', 'Hopper, Jr.', '', 'active', grace.createdAt, grace.updatedAt, '', '', ''],
      [ada.id, 'ada@export.test', "'=cmd()", '', "'+44 20", 'active', ada.createdAt, ada.updatedAt, 'VIP', 'pro', '5'],
    ]);
    expect((await exported(ws, '?status=archived')).rows.map((r) => r[1])).toEqual(['email', 'away@export.test']);
    expect((await exported(ws, '?q=grace&status=')).rows.map((r) => r[1])).toEqual(['email', 'grace@export.test']);
  });

  it('pages through more contacts than one page holds, each once, newest first', async () => {
    const ws = await aWorkspace(app);
    await imported(ws, csvOf([['Email'], ...Array.from({ length: 4500 }, (_, i) => [`p${i}@export.test`])]), { mode: 'create', columns: { Email: 'email' } });
    const { rows } = await exported(ws);
    expect(rows.length).toBe(4501);
    expect(new Set(rows.slice(1).map((r) => r[0])).size).toBe(4500);
  });

  it('round-trips through an import: another workspace gets the same contacts, fields and tags', async () => {
    const from = await aWorkspace(app);
    const vip = (await from.api('POST', '/tags', { name: 'VIP' })).body.id;
    await from.api('POST', '/contacts', { email: 'ada@export.test', firstName: '-Ada-', lastName: 'Lovelace', phone: '+44 20', fields: { plan: 'pro' }, tags: [vip] });
    await from.api('POST', '/contacts', { email: 'grace@export.test', firstName: 'Grace', lastName: 'Line\nbreak', fields: { note: 'says "hi", twice' } });
    const { text } = await exported(from);
    const to = await aWorkspace(app);
    const done = await imported(to, text, {
      mode: 'upsert',
      columns: { email: 'email', firstName: 'firstName', lastName: 'lastName', phone: 'phone', tags: 'tag', 'fields.plan': 'fields.plan', 'fields.note': 'fields.note' },
    });
    expect(done).toMatchObject({ created: 2, failed: 0 });
    const shape = async (ws: TestWorkspace) => {
      const tagNames = new Map((await ws.api('GET', '/tags')).body.data.map((t: { id: string; name: string }) => [t.id, t.name]));
      return (await contactsOf(ws))
        .map((c) => ({ email: c.email, firstName: c.firstName, lastName: c.lastName, phone: c.phone, fields: c.fields, tags: c.tags.map((t) => tagNames.get(t)) }))
        .sort((a, b) => a.email.localeCompare(b.email));
    };
    expect(await shape(to)).toEqual(await shape(from));
  });
});

describe('telling admins', () => {
  it('writes import.finished with the import’s counts in the transaction that ends it', async () => {
    const ws = await aWorkspace(app);
    const res = await postImport(ws.adminToken, { csv: 'Email\nx@told.test\nnot-an-email\n', mapping: { mode: 'create', columns: { Email: 'email' } } });
    await app.runJobs(ws.id);
    const { rows } = await sql<{ body: string }>`
      SELECT body FROM notification_events WHERE workspace_id = ${ws.id} AND event = 'import.finished'`.execute(app.ctx.db);
    expect(rows.map((r) => JSON.parse(r.body))).toEqual([
      expect.objectContaining({ event: 'import.finished', data: expect.objectContaining({ importId: res.body.id, status: 'succeeded', rows: 2, created: 1, failed: 1 }) }),
    ]);
  });
});

describe('an import’s noted emails', () => {
  it('are forgotten a step’s limit at a time, first down the key, leaving another import’s', async () => {
    const ws = await aWorkspace(app);
    const change: ChangeContext = { workspaceId: ws.id, actorId: null, origin: 'system', at: app.clock.now() };
    const ours = ['g', 'c', 'e', 'a', 'f', 'b', 'd'].map((n) => `${n}@noted.test`);
    const noted = (importId: string) => sql<{ email: string }>`SELECT email FROM import_emails WHERE workspace_id = ${ws.id} AND import_id = ${importId} ORDER BY email`.execute(app.ctx.db);
    await inTransaction(app.ctx.db, change, async (tx) => {
      await claimEmails(tx, ws.id, 'ours', ours, ours.map((_, i) => i + 2));
      await claimEmails(tx, ws.id, 'theirs', ['a@noted.test', 'h@noted.test'], [2, 3]);
    });
    expect(await inTransaction(app.ctx.db, change, (tx) => forgetEmails(tx, ws.id, 'ours', 3))).toBe(3);
    expect((await noted('ours')).rows.map((r) => r.email)).toEqual(['d', 'e', 'f', 'g'].map((n) => `${n}@noted.test`));
    expect(await inTransaction(app.ctx.db, change, (tx) => forgetEmails(tx, ws.id, 'ours', Number.MAX_SAFE_INTEGER))).toBe(4);
    expect(await inTransaction(app.ctx.db, change, (tx) => forgetEmails(tx, ws.id, 'ours', 3))).toBe(0);
    expect((await noted('ours')).rows).toEqual([]);
    expect((await noted('theirs')).rows.map((r) => r.email)).toEqual(['a@noted.test', 'h@noted.test']);
  });
});
