import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, commitWhileWaitedOn, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const day = 86_400;

async function restore(ws: TestWorkspace, body: Record<string, unknown>) {
  const res = await ws.api('POST', '/restore-jobs', body);
  if (res.status !== 202) return res;
  await app.runJobs(ws.id);
  return ws.api('GET', `/restore-jobs/${res.body.id}`);
}

describe('restoring deleted contacts (seed 002)', () => {
  it('brings back list memberships with their status, but not on a deleted list', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const kept = (await ws.api('POST', '/lists', { name: 'Kept' })).body;
    const gone = (await ws.api('POST', '/lists', { name: 'Gone' })).body;
    await ws.api('PUT', `/lists/${kept.id}/contacts/${c.id}`, { status: 'bounced' });
    await ws.api('PUT', `/lists/${gone.id}/contacts/${c.id}`, { status: 'subscribed' });
    await ws.api('DELETE', `/contacts/${c.id}`);
    await ws.api('DELETE', `/lists/${gone.id}`);
    const job = await restore(ws, { source: 'deleted', contactIds: [c.id] });
    expect(job.body).toMatchObject({ status: 'succeeded', requested: 1, restored: 1, skipped: [] });
    expect((await ws.api('GET', `/contacts/${c.id}/lists`)).body.data).toEqual([{ listId: kept.id, status: 'bounced' }]);
    // The membership of the deleted list went with the restore: the list, brought back
    // after it, does not have the contact again.
    expect((await ws.api('POST', '/deleted-objects/restore', { type: 'list', ids: [gone.id] })).body).toMatchObject({ restored: [gone.id] });
    expect((await ws.api('GET', `/contacts/${c.id}/lists`)).body.data).toEqual([{ listId: kept.id, status: 'bounced' }]);
  });

  it('brings back account links with their job title, but not to a deleted account', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const acme = (await ws.api('POST', '/accounts', { name: 'Acme' })).body;
    const gone = (await ws.api('POST', '/accounts', { name: 'Gone' })).body;
    await ws.api('PUT', `/accounts/${acme.id}/contacts/${c.id}`, { jobTitle: 'CTO' });
    await ws.api('PUT', `/accounts/${gone.id}/contacts/${c.id}`, { jobTitle: 'CEO' });
    await ws.api('DELETE', `/contacts/${c.id}`);
    await ws.api('DELETE', `/accounts/${gone.id}`);
    await restore(ws, { source: 'deleted', contactIds: [c.id] });
    expect((await ws.api('GET', `/contacts/${c.id}/accounts`)).body.data).toEqual([{ accountId: acme.id, jobTitle: 'CTO' }]);
  });

  it('adds the contact back to a shared deal in its place, never as primary, and leaves its sole deal deleted', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const other = await aContact(ws);
    const shared = (await ws.api('POST', '/deals', { title: 'Shared', contactIds: [c.id, other.id], primaryContactId: c.id })).body;
    const sole = (await ws.api('POST', '/deals', { title: 'Sole', contactIds: [c.id] })).body;
    await ws.api('DELETE', `/contacts/${c.id}`);
    await restore(ws, { source: 'deleted', contactIds: [c.id] });
    expect((await ws.api('GET', `/deals/${shared.id}`)).body).toMatchObject({ contactIds: [c.id, other.id], primaryContactId: other.id });
    expect((await ws.api('GET', `/deals/${sole.id}`)).body.deletedAt).toEqual(expect.any(String));
    expect((await ws.api('GET', `/contacts/${c.id}/deals`)).body.data.map((d: { id: string }) => d.id)).toEqual([shared.id]);
  });

  it('sets a deleted contact’s associations aside: its delete writes only the contact, and no list, account, deal or tag shows it until it is restored', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const other = await aContact(ws);
    const list = (await ws.api('POST', '/lists', { name: 'L' })).body;
    const account = (await ws.api('POST', '/accounts', { name: 'A' })).body;
    const tag = (await ws.api('POST', '/tags', { name: 'T' })).body;
    await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'subscribed' });
    await ws.api('PUT', `/lists/${list.id}/contacts/${other.id}`, { status: 'subscribed' });
    await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, { jobTitle: 'CTO' });
    await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: tag.id });
    const deal = (await ws.api('POST', '/deals', { title: 'D', contactIds: [c.id, other.id] })).body;
    await ws.api('DELETE', `/contacts/${c.id}`);

    const { rows: written } = await sql<{ table_name: string; op: string }>`
      SELECT table_name, op FROM history WHERE workspace_id = ${ws.id} AND contact_id = ${c.id}
        AND txid = (SELECT max(txid) FROM history WHERE workspace_id = ${ws.id} AND contact_id = ${c.id})`.execute(app.ctx.db);
    expect(written).toEqual([{ table_name: 'contacts', op: 'update' }]);
    expect((await ws.api('GET', `/lists/${list.id}`)).body.memberCount).toBe(1);
    expect((await ws.api('GET', '/lists')).body.data.find((l: { id: string }) => l.id === list.id).memberCount).toBe(1);
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toMatchObject({ contactIds: [other.id], primaryContactId: other.id });
    expect((await ws.api('GET', `/contacts/${c.id}`)).body.tags).toEqual([]);
    for (const path of ['lists', 'accounts', 'deals']) expect((await ws.api('GET', `/contacts/${c.id}/${path}`)).body.data).toEqual([]);

    await restore(ws, { source: 'deleted', contactIds: [c.id] });
    expect((await ws.api('GET', `/lists/${list.id}`)).body.memberCount).toBe(2);
    expect((await ws.api('GET', `/contacts/${c.id}/accounts`)).body.data).toEqual([{ accountId: account.id, jobTitle: 'CTO' }]);
    expect((await ws.api('GET', `/contacts/${c.id}`)).body.tags).toEqual([tag.id]);
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toMatchObject({ contactIds: [c.id, other.id], primaryContactId: other.id });
  });

  it('shows what a restore would bring back: the kept lists, accounts, live deals and tags, not those deleted since', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const other = await aContact(ws);
    const [kept, goneList] = [(await ws.api('POST', '/lists', { name: 'Kept' })).body, (await ws.api('POST', '/lists', { name: 'Gone' })).body];
    const account = (await ws.api('POST', '/accounts', { name: 'A' })).body;
    const [tag, goneTag] = [(await ws.api('POST', '/tags', { name: 'T' })).body, (await ws.api('POST', '/tags', { name: 'G' })).body];
    await ws.api('PUT', `/lists/${kept.id}/contacts/${c.id}`, { status: 'unsubscribed' });
    await ws.api('PUT', `/lists/${goneList.id}/contacts/${c.id}`, { status: 'subscribed' });
    await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, { jobTitle: 'CFO' });
    await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: tag.id });
    await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: goneTag.id });
    const shared = (await ws.api('POST', '/deals', { title: 'Shared', contactIds: [c.id, other.id] })).body;
    await ws.api('POST', '/deals', { title: 'Sole', contactIds: [c.id] });
    const path = `/contacts/${c.id}/restorable-associations`;
    expect(await ws.api('GET', path)).toMatchObject({ status: 409, body: { error: { code: 'invalid_state' } } });

    await ws.api('POST', '/contacts/archive', { ids: [c.id] });
    await ws.api('DELETE', `/lists/${goneList.id}`);
    await ws.api('DELETE', `/tags/${goneTag.id}`);
    const res = await ws.api('GET', path);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      lists: [{ listId: kept.id, status: 'unsubscribed' }],
      accounts: [{ accountId: account.id, jobTitle: 'CFO' }],
      deals: [{ ...shared, contactIds: [other.id], primaryContactId: other.id }],
      tags: [tag.id],
    });
    expect((await ws.api('GET', '/contacts/nope/restorable-associations')).status).toBe(404);
  });

  it('brings back tags unless deleted, and the original created date', async () => {
    const ws = await aWorkspace(app);
    const vip = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    const old = (await ws.api('POST', '/tags', { name: 'old' })).body;
    const c = await aContact(ws, { tags: [vip.id, old.id] });
    await ws.api('DELETE', `/contacts/${c.id}`);
    await ws.api('DELETE', `/tags/${old.id}`);
    app.clock.advance(day);
    await restore(ws, { source: 'deleted', contactIds: [c.id] });
    const back = (await ws.api('GET', `/contacts/${c.id}`)).body;
    expect(back).toMatchObject({ status: 'active', tags: [vip.id], createdAt: c.createdAt });
    expect(back.deletedAt).toBeUndefined();
  });

  it('brings back the tags the contact had when deleted, not one removed before', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const kept = (await ws.api('POST', '/tags', { name: 'Kept' })).body;
    const dropped = (await ws.api('POST', '/tags', { name: 'Dropped' })).body;
    await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: kept.id });
    await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: dropped.id });
    await ws.api('DELETE', `/contacts/${c.id}/tags/${dropped.id}`);
    await ws.api('DELETE', `/contacts/${c.id}`);
    await restore(ws, { source: 'deleted', contactIds: [c.id] });
    expect((await ws.api('GET', `/contacts/${c.id}`)).body.tags).toEqual([kept.id]);
  });

  it('skips with reasons: merged, purged, email_taken (naming the holder), not_deleted, not_found', async () => {
    const ws = await aWorkspace(app);
    const merged = await aContact(ws);
    const purged = await aContact(ws);
    const taken = await aContact(ws, { email: 'taken@example.com' });
    const active = await aContact(ws);
    await ws.api('POST', '/contacts/delete', { ids: [merged.id, purged.id, taken.id] });
    const holder = await aContact(ws, { email: 'TAKEN@example.com' });
    await sql`UPDATE contacts SET status = 'merged', merged_into = ${active.id} WHERE workspace_id = ${ws.id} AND id = ${merged.id}`.execute(app.ctx.db);
    await app.ctx.db.transaction().execute(async (tx) => {
      await sql`INSERT INTO contact_tombstones (workspace_id, contact_id, reason, at) VALUES (${ws.id}, ${purged.id}, 'purged', now())`.execute(tx);
      await sql`DELETE FROM contacts WHERE workspace_id = ${ws.id} AND id = ${purged.id}`.execute(tx);
    });
    const job = await restore(ws, { source: 'deleted', contactIds: [merged.id, purged.id, taken.id, active.id, 'no-such-contact'] });
    expect(job.body).toMatchObject({ status: 'succeeded', requested: 5, restored: 0 });
    expect(job.body.skipped).toEqual([
      { contactId: merged.id, reason: 'merged' },
      { contactId: purged.id, reason: 'purged' },
      { contactId: taken.id, reason: 'email_taken', takenBy: holder.id },
      { contactId: active.id, reason: 'not_deleted' },
      { contactId: 'no-such-contact', reason: 'not_found' },
    ]);
  });

  it('skips a contact whose email another contact takes while its restore runs, instead of failing the job', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws, { email: 'race@example.com' });
    await ws.api('DELETE', `/contacts/${c.id}`);
    const job = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [c.id] });
    await commitWhileWaitedOn(app, `INSERT INTO contacts (workspace_id, email) VALUES ('${ws.id}', 'race@example.com')`, () => app.runJobs(ws.id), 'UPDATE contacts SET status');
    const { rows } = await sql<{ id: string }>`SELECT id FROM contacts WHERE workspace_id = ${ws.id} AND email = 'race@example.com' AND status = 'active'`.execute(app.ctx.db);
    expect(rows).toHaveLength(1);
    expect((await ws.api('GET', `/restore-jobs/${job.body.id}`)).body).toMatchObject({
      status: 'succeeded',
      restored: 0,
      skipped: [{ contactId: c.id, reason: 'email_taken', takenBy: rows[0].id }],
    });
  });

  it('answers 409 email_taken, naming the contact, to a create that meets a contact coming back with that email', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws, { email: 'back@example.com' });
    await ws.api('DELETE', `/contacts/${c.id}`);
    // What a restore batch writes, committed while the create waits on the unique email index.
    const created = await commitWhileWaitedOn(
      app,
      `UPDATE contacts SET status = 'active', deleted_at = NULL, deleted_by = NULL WHERE workspace_id = '${ws.id}' AND id = '${c.id}'`,
      () => ws.api('POST', '/contacts', { email: 'back@example.com' }),
      'INSERT INTO contacts',
    );
    expect(created.status).toBe(409);
    expect(created.body.error).toMatchObject({ code: 'email_taken', details: { contactId: c.id } });
  });

  it('refuses more than 100 picked contacts with 422 too_many_contacts', async () => {
    const ws = await aWorkspace(app);
    const ids = Array.from({ length: 101 }, (_, i) => `id-${i}`);
    const res = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: ids });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'too_many_contacts', details: { max: 100, given: 101 } });
    const repeated = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [...ids.slice(0, 100), ids[0]] });
    expect(repeated.status).toBe(422);
    expect(repeated.body.error).toMatchObject({ code: 'too_many_contacts', details: { max: 100, given: 101 } });
    expect((await ws.api('GET', '/restore-jobs')).body.data).toEqual([]);
  });

  it('restores all deleted contacts matching the filter, and only those', async () => {
    const ws = await aWorkspace(app);
    const smiths = [await aContact(ws, { lastName: 'Smithson' }), await aContact(ws, { lastName: 'Smithers' })];
    const other = await aContact(ws, { lastName: 'Jones' });
    await ws.api('POST', '/contacts/delete', { ids: [...smiths.map((c) => c.id), other.id] });
    const job = await restore(ws, { source: 'deleted', all: true, filter: { q: 'smith' } });
    expect(job.body).toMatchObject({ status: 'succeeded', requested: 2, restored: 2 });
    expect((await ws.api('GET', '/deleted-contacts')).body.data.map((c: { id: string }) => c.id)).toEqual([other.id]);
  });

  it('lists deleted contacts newest deletion first with who deleted them, searchable by email and date', async () => {
    const ws = await aWorkspace(app);
    const first = await aContact(ws, { email: 'first@example.com' });
    const second = await aContact(ws, { email: 'second@example.com' });
    await ws.api('DELETE', `/contacts/${first.id}`);
    app.clock.advance(day);
    const between = app.clock.now().toISOString();
    app.clock.advance(day);
    await ws.api('DELETE', `/contacts/${second.id}`);
    const all = (await ws.api('GET', '/deleted-contacts')).body.data;
    expect(all.map((c: { id: string }) => c.id)).toEqual([second.id, first.id]);
    expect(all[0]).toMatchObject({ status: 'deleted', deletedBy: ws.adminId });
    expect((await ws.api('GET', '/deleted-contacts?q=FIRST@')).body.data.map((c: { id: string }) => c.id)).toEqual([first.id]);
    expect((await ws.api('GET', `/deleted-contacts?deletedFrom=${between}`)).body.data.map((c: { id: string }) => c.id)).toEqual([second.id]);
    expect((await ws.api('GET', '/deleted-contacts?deletedFrom=yesterday')).status).toBe(400);
  });

  it('counts the deleted contacts matching a filter on every page, as restore all would take them', async () => {
    const ws = await aWorkspace(app);
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await aContact(ws, { email: `gone${i}@example.com` })).id);
    await aContact(ws, { email: 'kept@example.com' });
    await ws.api('POST', '/contacts/delete', { ids });
    const between = app.clock.now().toISOString();
    app.clock.advance(day);
    const later = await aContact(ws, { email: 'later@example.com' });
    await ws.api('DELETE', `/contacts/${later.id}`);
    expect((await ws.api('GET', '/deleted-contacts/count')).body).toEqual({ total: 4 });
    expect((await ws.api('GET', '/deleted-contacts/count?q=gone')).body).toEqual({ total: 3 });
    expect((await ws.api('GET', `/deleted-contacts/count?deletedTo=${between}`)).body).toEqual({ total: 3 });
    expect((await ws.api('GET', '/deleted-contacts/count?deletedFrom=soon')).status).toBe(400);
    // A whole UTC day: from its first millisecond to its last.
    const firstDay = between.slice(0, 10);
    expect((await ws.api('GET', `/deleted-contacts/count?deletedFrom=${firstDay}&deletedTo=${firstDay}`)).body).toEqual({ total: 3 });
    expect((await ws.api('GET', '/deleted-contacts/count?deletedFrom=2026-02-30')).status).toBe(400);
    expect((await ws.api('GET', '/deleted-contacts/count?limit=2')).status).toBe(400);
  });

  it('allows one restore job at a time: of two simultaneous requests exactly one is accepted', async () => {
    const ws = await aWorkspace(app);
    const a = await aContact(ws);
    const b = await aContact(ws);
    await ws.api('POST', '/contacts/delete', { ids: [a.id, b.id] });
    const [one, two] = await Promise.all([
      ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [a.id] }),
      ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [b.id] }),
    ]);
    expect([one.status, two.status].sort()).toEqual([202, 409]);
    const accepted = one.status === 202 ? one : two;
    const refused = one.status === 202 ? two : one;
    expect(refused.body.error).toMatchObject({ code: 'restore_job_running', details: { jobId: accepted.body.id } });
  });

  it('with jobs run in the background, answers 409 to a restore sent right after another, then runs the first to its end', async () => {
    // A longer start than serve's 100 ms, so a loaded machine cannot let the job finish first.
    const background = await testApp({ autoRunJobs: true, jobStartDelayMs: 1000 });
    const ws = await aWorkspace(background);
    const ids: string[] = [];
    for (let i = 0; i < 20; i += 1) ids.push((await aContact(ws, { email: `bg${i}@example.com` })).id);
    await ws.api('POST', '/contacts/delete', { ids });
    const first = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: ids.slice(0, 10) });
    expect(first.status).toBe(202);
    const second = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: ids.slice(10) });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'restore_job_running', details: { jobId: first.body.id } });
    const finished = async (id: string) => {
      let job = (await ws.api('GET', `/restore-jobs/${id}`)).body;
      for (let polls = 0; job.status !== 'succeeded' && job.status !== 'failed' && polls < 200; polls += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        job = (await ws.api('GET', `/restore-jobs/${id}`)).body;
      }
      return job;
    };
    expect(await finished(first.body.id)).toMatchObject({ status: 'succeeded', restored: 10 });
    const then = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: ids.slice(10) });
    expect(then.status).toBe(202);
    expect(await finished(then.body.id)).toMatchObject({ status: 'succeeded', restored: 10 });
    await background.server.close();
  });

  it('asks for confirmation before going over the active contact limit', async () => {
    const ws = await aWorkspace(app, { activeContactLimit: 2 });
    const a = await aContact(ws);
    const b = await aContact(ws);
    await ws.api('DELETE', `/contacts/${a.id}`);
    await aContact(ws);
    const refused = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [a.id] });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'contact_limit_exceeded', details: { active: 2, limit: 2, wouldBe: 3 } });
    const job = await restore(ws, { source: 'deleted', contactIds: [a.id], confirmOverage: true });
    expect(job.body).toMatchObject({ status: 'succeeded', restored: 1 });
    expect((await ws.api('GET', '/workspace')).body.usage).toEqual({ active: 3, archived: 0, deleted: 0 });
    // Over the limit now, a restore that would bring nobody back needs no confirmation.
    const nobody = await restore(ws, { source: 'deleted', contactIds: [b.id] });
    expect(nobody.body).toMatchObject({ status: 'succeeded', restored: 0, skipped: [{ contactId: b.id, reason: 'not_deleted' }] });
    expect(b.status).toBe('active');
  });

  it('pages the contacts a restore job skipped from their table, in the order the job met them', async () => {
    const ws = await aWorkspace(app);
    const active = [];
    for (let i = 0; i < 70; i += 1) active.push((await aContact(ws)).id);
    const job = await restore(ws, { source: 'deleted', contactIds: active });
    expect(job.body).toMatchObject({ status: 'succeeded', restored: 0, skippedCount: 70, skippedNextCursor: null });
    const pages: { data: { contactId: string; reason: string }[]; nextCursor: string | null }[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: (typeof pages)[number]; status: number } = await ws.api('GET', `/restore-jobs/${job.body.id}/skipped?limit=30${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      pages.push(page.body);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pages.map((p) => p.data.length)).toEqual([30, 30, 10]);
    expect(pages.flatMap((p) => p.data)).toEqual(job.body.skipped);
    expect(new Set(pages.flatMap((p) => p.data.map((s) => s.contactId)))).toEqual(new Set(active));
    expect(pages.flatMap((p) => p.data).every((s) => s.reason === 'not_deleted')).toBe(true);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM restore_job_skips WHERE workspace_id = ${ws.id} AND job_id = ${job.body.id}`.execute(app.ctx.db);
    expect(rows[0].n).toBe(70);
    expect((await ws.api('GET', `/restore-jobs/${job.body.id}/skipped?cursor=not-a-cursor`)).status).toBe(400);
  });

  const jobContacts = async (workspaceId: string, jobId: string) => {
    const { rows } = await sql<{ contact_id: string }>`
      SELECT contact_id FROM restore_job_contacts WHERE workspace_id = ${workspaceId} AND job_id = ${jobId} ORDER BY position`.execute(app.ctx.db);
    return rows.map((r) => r.contact_id);
  };

  it('resumes a job stopped between batches and restores each contact exactly once, then forgets its list of contacts', async () => {
    const ws = await aWorkspace(app);
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await aContact(ws)).id);
    await ws.api('POST', '/contacts/delete', { ids });
    const accepted = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [ids[2], ids[0], ids[2], ids[1]] });
    expect(accepted.body.requested).toBe(3);
    expect(await jobContacts(ws.id, accepted.body.id)).toEqual([ids[2], ids[0], ids[1]]);
    await sql`UPDATE restore_jobs SET batch_size = 1 WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
    // A process that committed its first batch and then stopped leaves the job running.
    expect(await app.runJobs(ws.id, { maxSteps: 1 })).toBe(1);
    expect((await ws.api('GET', `/restore-jobs/${accepted.body.id}`)).body).toMatchObject({ status: 'running', restored: 1 });
    expect(await app.runJobs(ws.id)).toBe(2);
    const job = (await ws.api('GET', `/restore-jobs/${accepted.body.id}`)).body;
    expect(job).toMatchObject({ status: 'succeeded', requested: 3, restored: 3, skipped: [] });
    const audit = (await ws.api('GET', '/audit-log?action=contact.restored')).body.data;
    expect(audit.map((e: { targetId: string }) => e.targetId).sort()).toEqual([...ids].sort());
    expect(await jobContacts(ws.id, accepted.body.id)).toEqual([]);
  });

  it('forgets the list of contacts of a job that fails', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    await ws.api('DELETE', `/contacts/${c.id}`);
    const accepted = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [c.id] });
    // A job whose step throws ends failed, as one hit by a bug or a lost database would:
    // here the database refuses the batch's checkpoint.
    await sql.raw(`CREATE FUNCTION refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk lost'; END $$`).execute(app.ctx.db);
    await sql.raw(`CREATE TRIGGER refuse_checkpoint BEFORE UPDATE ON restore_jobs FOR EACH ROW WHEN (OLD.job_id = '${accepted.body.id}')
      EXECUTE FUNCTION refuse_checkpoint()`).execute(app.ctx.db);
    try {
      await app.runJobs(ws.id);
    } finally {
      await sql`DROP TRIGGER refuse_checkpoint ON restore_jobs`.execute(app.ctx.db);
      await sql`DROP FUNCTION refuse_checkpoint()`.execute(app.ctx.db);
    }
    expect((await ws.api('GET', `/restore-jobs/${accepted.body.id}`)).body.status).toBe('failed');
    expect(await jobContacts(ws.id, accepted.body.id)).toEqual([]);
  });

  it('sends nothing and enrols nobody when contacts come back', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    await ws.api('DELETE', `/contacts/${c.id}`);
    await restore(ws, { source: 'deleted', contactIds: [c.id] });
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM outbox WHERE workspace_id = ${ws.id} AND origin = 'restore'`.execute(app.ctx.db);
    expect(rows[0].n).toBe(0);
    expect((await ws.api('GET', `/messages?contactId=${c.id}`)).body.data).toEqual([]);
  });

  it('is admins only, from either source: managers and members get 403 contacts.restore', async () => {
    const ws = await aWorkspace(app);
    for (const role of ['manager', 'member']) {
      const user = await ws.userWithRole(role);
      for (const source of ['deleted', 'archived']) {
        const res = await user.api('POST', '/restore-jobs', { source, all: true });
        expect(res.status).toBe(403);
        expect(res.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'contacts.restore' } });
      }
    }
  });

  it('lists restore jobs newest first, a page at a time', async () => {
    const ws = await aWorkspace(app);
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const c = await aContact(ws);
      await ws.api('DELETE', `/contacts/${c.id}`);
      ids.push((await restore(ws, { source: 'deleted', contactIds: [c.id] })).body.id);
    }
    const first = (await ws.api('GET', '/restore-jobs?limit=2')).body;
    expect(first.data.map((j: { id: string }) => j.id)).toEqual([ids[2], ids[1]]);
    const second = (await ws.api('GET', `/restore-jobs?limit=2&cursor=${first.nextCursor}`)).body;
    expect(second).toEqual({ data: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
    expect((await ws.api('GET', '/restore-jobs?cursor=bogus')).status).toBe(400);
  });

  it('answers 404 for another workspace’s restore job', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const job = await ws.api('POST', '/restore-jobs', { source: 'deleted', all: true });
    expect((await other.api('GET', `/restore-jobs/${job.body.id}`)).status).toBe(404);
  });
});

describe('restoring archived contacts (seed 004)', () => {
  it('takes archived contacts off the active count and lists when they become restorable', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const archived = (await ws.api('POST', `/contacts/${c.id}/archive`)).body;
    expect((await ws.api('GET', '/workspace')).body.usage).toEqual({ active: 0, archived: 1, deleted: 0 });
    const listed = (await ws.api('GET', '/archived-contacts')).body.data[0];
    const at = Date.parse(archived.archivedAt);
    expect(listed).toMatchObject({
      id: c.id,
      archivedAt: archived.archivedAt,
      restorableFrom: new Date(at + 30 * day * 1000).toISOString(),
      restorableUntil: new Date(at + 365 * day * 1000).toISOString(),
    });
  });

  it('skips a contact archived 29 days ago as frozen and restores it on day 31', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    await ws.api('POST', `/contacts/${c.id}/archive`);
    app.clock.advance(29 * day);
    const early = await restore(ws, { source: 'archived', contactIds: [c.id] });
    expect(early.body).toMatchObject({ restored: 0, skipped: [{ contactId: c.id, reason: 'frozen' }] });
    app.clock.advance(2 * day);
    const later = await restore(ws, { source: 'archived', contactIds: [c.id] });
    expect(later.body).toMatchObject({ restored: 1, skipped: [] });
    expect((await ws.api('GET', '/workspace')).body.usage).toEqual({ active: 1, archived: 0, deleted: 0 });
  });

  it('counts archived contacts matching a filter and how many of them are still frozen', async () => {
    const ws = await aWorkspace(app);
    const old = await aContact(ws, { email: 'old@example.com' });
    await ws.api('POST', `/contacts/${old.id}/archive`);
    app.clock.advance(31 * day);
    const recent = await aContact(ws, { email: 'recent@example.com' });
    await ws.api('POST', `/contacts/${recent.id}/archive`);
    expect((await ws.api('GET', '/archived-contacts/count')).body).toEqual({ total: 2, frozen: 1 });
    expect((await ws.api('GET', '/archived-contacts/count?q=old')).body).toEqual({ total: 1, frozen: 0 });
  });

  it('does not count frozen archived contacts against the limit, since they will be skipped', async () => {
    const ws = await aWorkspace(app, { activeContactLimit: 1 });
    const frozen = await aContact(ws);
    const thawed = await aContact(ws);
    await ws.api('POST', `/contacts/${thawed.id}/archive`);
    app.clock.advance(31 * day);
    await ws.api('POST', `/contacts/${frozen.id}/archive`);
    await aContact(ws);
    const refused = await ws.api('POST', '/restore-jobs', { source: 'archived', contactIds: [frozen.id, thawed.id] });
    expect(refused.body.error).toMatchObject({ code: 'contact_limit_exceeded', details: { active: 1, limit: 1, wouldBe: 2 } });
    const accepted = await restore(ws, { source: 'archived', contactIds: [frozen.id] });
    expect(accepted.body).toMatchObject({ status: 'succeeded', restored: 0, skipped: [{ contactId: frozen.id, reason: 'frozen' }] });
  });

  it('skips a deleted contact when restoring from the archive as not_archived', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    await ws.api('DELETE', `/contacts/${c.id}`);
    const job = await restore(ws, { source: 'archived', contactIds: [c.id] });
    expect(job.body.skipped).toEqual([{ contactId: c.id, reason: 'not_archived' }]);
  });
});
