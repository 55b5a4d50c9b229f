import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedWorkspace } from '../seed/workspace.js';
import { aWorkspace, forgetStatistics, oneConnectionDatabase, rowsRead, testApp, type TestApp } from '../test-support/harness.js';

/**
 * Issue 15's rule for imports: with no planner statistics, no statement of a batch may
 * read the workspace; each row's contact is read a few times (its holder lookup, its lock,
 * its update, the foreign-key checks of its associations). Counted in rows read, as
 * PostgreSQL counts them.
 */
const contacts = 20_000;
const rows = 2_000;
const capturedTables = ['contacts', 'list_memberships', 'contact_tags', 'tags', 'lists'];
const workTables = ['jobs', 'import_emails', 'import_errors', 'audit_log', 'audit_heads', 'contact_history', 'history_entries'];

describe(`an import into a workspace of ${contacts.toLocaleString('en')} contacts, with no planner statistics`, () => {
  let app: TestApp;
  let release: () => Promise<void>;
  let ws: Awaited<ReturnType<typeof aWorkspace>>;
  let emails: string[];

  beforeAll(async () => {
    const one = await oneConnectionDatabase();
    release = one.release;
    app = await testApp({ database: one.database });
    ws = await aWorkspace(app);
    await seedWorkspace(app.ctx.db, { workspaceId: ws.id, actorId: ws.adminId, origin: 'import', at: app.clock.now() }, { contacts });
    const { rows: seeded } = await sql<{ email: string }>`SELECT email FROM contacts WHERE workspace_id = ${ws.id} ORDER BY id LIMIT ${rows / 2}`.execute(app.ctx.db);
    emails = seeded.map((c) => c.email);
    await forgetStatistics(app.ctx.database, [...capturedTables, ...workTables]);
  });

  afterAll(async () => {
    await release();
  });

  it('reads each row’s contact a few times in upsert mode, not the workspace for each batch', async () => {
    const list = (await ws.api('POST', '/lists', { name: 'Imported' })).body.id;
    const lines = ['Email,First,List,Tags'];
    for (let i = 0; i < rows; i += 1) lines.push(`${i < rows / 2 ? emails[i] : `new${i}@scale.test`},F${i},subscribed,Scale;Test`);
    const form = new FormData();
    form.append('mapping', JSON.stringify({ mode: 'upsert', columns: { Email: 'email', First: 'firstName', List: `list:${list}`, Tags: 'tag' } }));
    form.append('file', new Blob([`${lines.join('\n')}\n`]), 'scale.csv');
    const request = new Request('http://retrace.test/', { method: 'POST', body: form });
    const read = await rowsRead(app.ctx.database, capturedTables, async () => {
      const res = await app.server.inject({
        method: 'POST',
        url: '/api/v1/imports',
        headers: { authorization: `Bearer ${ws.adminToken}`, 'content-type': request.headers.get('content-type') ?? '' },
        payload: Buffer.from(await request.arrayBuffer()),
      });
      expect(res.statusCode).toBe(202);
      await app.runJobs(ws.id);
    });
    expect((await ws.api('GET', '/imports')).body.data[0]).toMatchObject({ status: 'succeeded', created: rows / 2, updated: rows / 2, failed: 0 });
    expect(read.contacts).toBeLessThan(rows * 6);
    expect(read.list_memberships + read.contact_tags).toBeLessThan(rows * 4);
  });

  it('exports them reading each contact once, a page at a time', async () => {
    const read = await rowsRead(app.ctx.database, ['contacts'], async () => {
      const res = await app.server.inject({ method: 'GET', url: '/api/v1/contacts/export', headers: { authorization: `Bearer ${ws.adminToken}` } });
      expect(res.statusCode).toBe(200);
      expect(res.body.split('\r\n').length).toBe(contacts + rows / 2 + 2);
    });
    expect(read.contacts).toBeLessThan((contacts + rows / 2) * 3);
  });
});
