import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedWorkspace } from '../seed/workspace.js';
import { aWorkspace, forgetStatistics, oneConnectionDatabase, rowsRead, testApp, type TestApp } from '../test-support/harness.js';

/**
 * Issue 15: without planner statistics, a restore request of 20,000 contacts joined its
 * fresh rows back to contacts by a plan that read every deleted contact for each of them
 * (46 s to answer), and each batch of bulk deletes and restores read the whole workspace.
 * Here the work is counted in rows read, as PostgreSQL counts them: a plan that grows
 * with the square reads tens of times more rows than there are contacts.
 */
const contacts = 20_000;
const capturedTables = ['contacts', 'list_memberships', 'account_contacts', 'deal_contacts', 'contact_tags', 'enrollments', 'deals'];
const workTables = ['contact_search', 'restore_jobs', 'restore_job_contacts', 'restore_job_skips', 'jobs', 'audit_log', 'audit_heads', 'contact_history', 'history_entries'];

describe(`${contacts.toLocaleString('en')} contacts deleted in bulk and restored, with no planner statistics`, () => {
  let app: TestApp;
  let release: () => Promise<void>;
  let ws: Awaited<ReturnType<typeof aWorkspace>>;
  let ids: string[];

  beforeAll(async () => {
    const one = await oneConnectionDatabase();
    release = one.release;
    app = await testApp({ database: one.database });
    ws = await aWorkspace(app, { activeContactLimit: contacts * 2 });
    await seedWorkspace(app.ctx.db, { workspaceId: ws.id, actorId: ws.adminId, origin: 'import', at: app.clock.now() }, { contacts });
    const { rows } = await sql<{ id: string }>`SELECT id FROM contacts WHERE workspace_id = ${ws.id} ORDER BY created_at, id`.execute(app.ctx.db);
    ids = rows.map((r) => r.id);
    // The admin deletes them all within minutes: past the mass-delete guard's limits
    // (src/held-deletes), raised here to let this one deliberate mass delete through.
    await sql`UPDATE workspaces SET mass_delete_max_contacts = ${contacts}, mass_delete_max_percent = 100 WHERE id = ${ws.id}`.execute(app.ctx.db);
    await forgetStatistics(app.ctx.database, [...capturedTables, ...workTables]);
  });

  afterAll(async () => {
    await release();
  });

  it('deletes them 1,000 a request reading each contact a few times, not the workspace for each request', async () => {
    const read = await rowsRead(app.ctx.database, capturedTables, async () => {
      for (let i = 0; i < ids.length; i += 1000) {
        const res = await ws.api('POST', '/contacts/delete', { ids: ids.slice(i, i + 1000) });
        expect(res.status).toBe(200);
      }
    });
    expect((await ws.api('GET', '/workspace')).body.usage).toMatchObject({ active: 0, deleted: contacts });
    expect(read.contacts).toBeLessThan(contacts * 6);
    expect(read.deal_contacts + read.deals).toBeLessThan(contacts * 6);
  });

  it('pages the recycle bin newest deletion first reading about a page of contacts, not every contact deleted at the same moment', async () => {
    // Each request deleted its 1,000 contacts at one time: ordering a page by (time, id)
    // from an index of the time alone sorted all 1,000 for 51 (migration 091).
    const pages: { id: string; deletedAt: string }[][] = [];
    const read = await rowsRead(app.ctx.database, ['contacts'], async () => {
      const first = await ws.api('GET', '/deleted-contacts?limit=50');
      const next = await ws.api('GET', `/deleted-contacts?limit=50&cursor=${encodeURIComponent(first.body.nextCursor)}`);
      pages.push(first.body.data, next.body.data);
    });
    const seen = pages.flat();
    expect(seen).toHaveLength(100);
    expect(new Set(seen.map((c) => c.id)).size).toBe(100);
    const key = (c: { id: string; deletedAt: string }) => `${c.deletedAt} ${c.id}`;
    expect(seen.map(key)).toEqual(seen.map(key).sort().reverse());
    expect(read.contacts).toBeLessThan(300);
  });

  it('searches the bin for a rare email reading its matches, not every deleted contact', async () => {
    // The first contacts deleted are the last in the bin's order: read in that order, a
    // search for one of them read all 20,000 (1.4 s at 1,000,000; migration 093).
    const { rows } = await sql<{ email: string }>`SELECT email FROM contacts WHERE workspace_id = ${ws.id} AND id = ${ids[5]}`.execute(app.ctx.db);
    let found: { id: string }[] = [];
    const read = await rowsRead(app.ctx.database, ['contacts', 'contact_search'], async () => {
      const res = await ws.api('GET', `/deleted-contacts?q=${encodeURIComponent(rows[0].email.toUpperCase())}`);
      expect(res.status).toBe(200);
      found = res.body.data;
    });
    expect(found.map((c) => c.id)).toEqual([ids[5]]);
    expect(read.contacts + read.contact_search).toBeLessThan(2500);
  });

  it('answers a request to restore them all without writing down its contacts, and reads them once to count them', async () => {
    let id = '';
    const read = await rowsRead(app.ctx.database, capturedTables, async () => {
      const res = await ws.api('POST', '/restore-jobs', { source: 'deleted', all: true });
      expect(res.status).toBe(202);
      expect(res.body.requested).toBe(contacts);
      id = res.body.id;
    });
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM restore_job_contacts WHERE workspace_id = ${ws.id} AND job_id = ${id}`.execute(app.ctx.db);
    expect(rows[0].n).toBe(0);
    expect(read.contacts).toBeLessThan(contacts * 3);
  });

  it('restores them in batches of 500 reading each contact a few times, not the workspace for each batch', async () => {
    await sql`UPDATE restore_jobs SET batch_size = 500 WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
    const read = await rowsRead(app.ctx.database, capturedTables, async () => {
      await app.runJobs(ws.id);
    });
    const job = (await ws.api('GET', '/restore-jobs')).body.data[0];
    expect(job).toMatchObject({ status: 'succeeded', requested: contacts, restored: contacts, skipped: [], skippedCount: 0 });
    expect(read.contacts).toBeLessThan(contacts * 6);
    expect(read.list_memberships + read.account_contacts + read.deal_contacts + read.contact_tags).toBeLessThan(contacts * 12);
  });
});
