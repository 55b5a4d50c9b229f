import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aPoint, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { inTransaction } from '../db/database.js';
import { findJob } from '../jobs/service.js';
import { planChunks } from './plan.js';
import { rollbackPlanSteps, selectRollbackJob, stepRollback } from './service.js';

/**
 * Issue 19 point 2: a rollback's plan is made a chunk a step (contacts, the other tables,
 * the skips), each chunk committed with the job's checkpoint, so a job stopped while
 * planning keeps what it computed and goes on from the next chunk.
 */
let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

/** Two contacts on a list with a tag, then, after the point, edited, unsubscribed, untagged and deleted. */
async function aWorkspaceChangedSince() {
  const ws = await aWorkspace(app);
  const ann = await aContact(ws, { email: 'ann@example.com', firstName: 'Ann' });
  const bob = await aContact(ws, { email: 'bob@example.com', firstName: 'Bob' });
  const list = (await ws.api('POST', '/lists', { name: 'Newsletter' })).body;
  const tag = (await ws.api('POST', '/tags', { name: 'VIP' })).body;
  for (const c of [ann, bob]) await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'subscribed' });
  await ws.api('POST', `/contacts/${ann.id}/tags`, { tagId: tag.id });
  const at = aPoint(app);
  await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Annie' });
  await ws.api('PUT', `/lists/${list.id}/contacts/${ann.id}`, { status: 'unsubscribed' });
  await ws.api('DELETE', `/contacts/${ann.id}/tags/${tag.id}`);
  await ws.api('POST', '/contacts/delete', { ids: [bob.id] });
  return { ws, ann, bob, list, tag, at };
}

/** The plan's rows so far, each with the transaction that wrote it. */
async function plannedRows(ws: TestWorkspace, rollbackId: string) {
  const { rows } = await sql<{ table_name: string; row_key: string; xmin: string }>`
    SELECT table_name, row_key, xmin::text AS xmin FROM rollback_targets
    WHERE workspace_id = ${ws.id} AND rollback_id = ${rollbackId} ORDER BY table_name, row_key`.execute(app.ctx.db);
  return rows;
}

async function progressOf(ws: TestWorkspace, id: string) {
  const { checkpoint } = await selectRollbackJob(app.ctx.db, ws.id, id);
  return { phase: checkpoint.phase, planned: checkpoint.planned };
}

describe('a rollback stopped while planning', () => {
  it('keeps the chunks of its plan it committed, redoes only the one cut short, and ends as an uninterrupted rollback', async () => {
    const { ws, ann, bob, list, tag, at } = await aWorkspaceChangedSince();
    const scope = { type: 'contacts', contactIds: [ann.id, bob.id] };
    const preview = (await ws.api('POST', '/rollbacks/preview', { at, scope })).body;
    const id = (await ws.api('POST', '/rollbacks', { at, scope })).body.id as string;

    // The first chunk, committed: the contacts' rows.
    expect(await app.runJobs(ws.id, { maxSteps: 1 })).toBe(1);
    expect(await progressOf(ws, id)).toMatchObject({ phase: 'plan', planned: ['contacts'] });
    const afterContacts = await plannedRows(ws, id);
    expect(afterContacts.map((r) => r.table_name)).toEqual(['contacts', 'contacts']);

    // The second chunk cut short, as by a SIGKILL: its transaction never commits.
    const job = await findJob(app.ctx.db, ws.id, id);
    if (!job) throw new Error('the rollback is gone');
    const change = { workspaceId: ws.id, actorId: null, origin: 'rollback' as const, at: app.clock.now() };
    const killed = new Error('killed');
    await expect(
      inTransaction(app.ctx.db, change, async (tx) => {
        await stepRollback(tx, job, change);
        expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM rollback_targets WHERE workspace_id = ${ws.id} AND rollback_id = ${id}`.execute(tx)).rows[0].n).toBeGreaterThan(2);
        throw killed;
      }),
    ).rejects.toBe(killed);
    expect(await plannedRows(ws, id)).toEqual(afterContacts);
    expect(await progressOf(ws, id)).toMatchObject({ phase: 'plan', planned: ['contacts'] });

    // Resumed: the next chunk only; the contacts' rows are those the first chunk wrote.
    expect(await app.runJobs(ws.id, { maxSteps: 1 })).toBe(1);
    expect(await progressOf(ws, id)).toMatchObject({ phase: 'plan', planned: ['contacts', 'others'] });
    const afterOthers = await plannedRows(ws, id);
    expect(afterOthers.filter((r) => r.table_name === 'contacts')).toEqual(afterContacts);
    expect(new Set(afterOthers.filter((r) => r.table_name !== 'contacts').map((r) => r.table_name))).toEqual(new Set(['list_memberships', 'contact_tags']));

    expect(await app.runJobs(ws.id, { maxSteps: 1 })).toBe(1);
    expect(await progressOf(ws, id)).toMatchObject({ phase: 'parents', planned: [...planChunks] });
    // The plan the job made in three transactions is the one the preview made in one.
    expect((await ws.api('GET', `/rollbacks/${id}`)).body.counts).toEqual(preview.counts);

    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/rollbacks/${id}`)).body).toMatchObject({ status: 'succeeded', counts: preview.counts });
    expect((await ws.api('GET', `/contacts/${ann.id}`)).body).toMatchObject({ firstName: 'Ann', status: 'active' });
    expect((await ws.api('GET', `/contacts/${bob.id}`)).body).toMatchObject({ firstName: 'Bob', status: 'active' });
    const members = (await ws.api('GET', `/lists/${list.id}/contacts`)).body.data;
    expect(members.map((m: { contactId?: string; id?: string; status: string }) => m.status)).toEqual(['subscribed', 'subscribed']);
    const tagged = (await ws.api('GET', `/contacts/${ann.id}`)).body;
    expect(JSON.stringify(tagged)).toContain(tag.id);
  });

  it('plans in as many steps as it has chunks even when nothing changed since the point, and ends', async () => {
    const ws = await aWorkspace(app);
    const ann = await aContact(ws);
    const at = aPoint(app);
    const id = (await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [ann.id] } })).body.id as string;
    expect(await app.runJobs(ws.id, { maxSteps: rollbackPlanSteps })).toBe(rollbackPlanSteps);
    expect(await progressOf(ws, id)).toMatchObject({ phase: 'parents', planned: [...planChunks] });
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/rollbacks/${id}`)).body).toMatchObject({ status: 'succeeded', progress: { contactsDone: 0, contactsTotal: 0 } });
  });
});
