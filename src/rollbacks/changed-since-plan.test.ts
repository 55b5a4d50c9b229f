import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aPoint, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { rollbackPlanSteps } from './service.js';

/**
 * Issue 19 point 1: a change committed after a rollback made its plan and before the
 * rollback reached the row is kept and reported, never overwritten in silence. Each test
 * runs the job's plan alone (its steps: rollbackPlanSteps; an undo by cause's: one), changes
 * rows, then runs the rest.
 */
let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

async function skippedOf(ws: TestWorkspace, path: string) {
  const page = await ws.api('GET', path);
  expect(page.status).toBe(200);
  return page.body.data;
}

/** A full rollback requested by the workspace's admin and approved by a second one, planned but not yet written. */
async function aPlannedFullRollback(ws: TestWorkspace, at: string) {
  // four eyes: the approver must exist before the request
  const approver = await ws.userWithRole('admin');
  const requested = await ws.api('POST', '/rollbacks', { at, scope: { type: 'workspace' } });
  expect(requested.status).toBe(202);
  expect((await approver.api('POST', `/rollbacks/${requested.body.id}/approve`)).status).toBe(200);
  expect(await app.runJobs(ws.id, { maxSteps: rollbackPlanSteps })).toBe(rollbackPlanSteps);
  expect((await ws.api('GET', `/rollbacks/${requested.body.id}`)).body).toMatchObject({ status: 'running', phase: 'parents' });
  return requested.body.id as string;
}

describe('a change made after a rollback planned', () => {
  it('keeps a contact edited between the plan and its batch, and reports it with who and when', async () => {
    const ws = await aWorkspace(app);
    const ann = await aContact(ws, { firstName: 'Ann' });
    const bob = await aContact(ws, { firstName: 'Bob' });
    const at = aPoint(app);
    await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Annie' });
    await ws.api('PATCH', `/contacts/${bob.id}`, { firstName: 'Robert' });
    const id = await aPlannedFullRollback(ws, at);

    const editor = await ws.userWithRole('manager');
    app.clock.advance(5);
    const editedAt = app.clock.now().toISOString();
    const edit = await editor.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Ann-Marie' });
    expect(edit.status).toBe(200);
    await app.runJobs(ws.id);

    expect((await ws.api('GET', `/contacts/${ann.id}`)).body.firstName).toBe('Ann-Marie');
    expect((await ws.api('GET', `/contacts/${bob.id}`)).body.firstName).toBe('Bob');
    const done = (await ws.api('GET', `/rollbacks/${id}`)).body;
    expect(done).toMatchObject({ status: 'succeeded', counts: { skipped: { contacts: 1, changedSincePlan: 1 } } });
    expect(done.skipped).toEqual([{ contactId: ann.id, reason: 'changed_since_plan' }]);
    const [skip, ...others] = await skippedOf(ws, `/rollbacks/${id}/skipped`);
    expect(others).toEqual([]);
    expect(skip).toEqual({ contactId: ann.id, reason: 'changed_since_plan', changedAt: expect.any(String), changedBy: editor.id, changedOrigin: 'user' });
    // The test clock runs on from where it was set: the edit's time is when it answered, give or take.
    expect(Math.abs(Date.parse(skip.changedAt) - Date.parse(editedAt))).toBeLessThan(1000);
  });

  it('keeps a contact whose list membership changed after the plan, with the contact’s other rows', async () => {
    const ws = await aWorkspace(app);
    const ann = await aContact(ws, { firstName: 'Ann' });
    const list = (await ws.api('POST', '/lists', { name: 'Newsletter' })).body;
    await ws.api('PUT', `/lists/${list.id}/contacts/${ann.id}`, { status: 'subscribed' });
    const at = aPoint(app);
    await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Annie' });
    await ws.api('PUT', `/lists/${list.id}/contacts/${ann.id}`, { status: 'unsubscribed' });
    const requested = await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [ann.id] } });
    expect(await app.runJobs(ws.id, { maxSteps: rollbackPlanSteps })).toBe(rollbackPlanSteps);

    await ws.api('PUT', `/lists/${list.id}/contacts/${ann.id}`, { status: 'subscribed' });
    await app.runJobs(ws.id);

    expect((await ws.api('GET', `/contacts/${ann.id}`)).body.firstName).toBe('Annie');
    expect((await ws.api('GET', `/contacts/${ann.id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'subscribed' }]);
    const skipped = await skippedOf(ws, `/rollbacks/${requested.body.id}/skipped`);
    expect(skipped).toEqual([
      expect.objectContaining({ contactId: ann.id, reason: 'changed_since_plan', record: { table: 'list_memberships', key: `${list.id}:${ann.id}` }, changedBy: ws.adminId }),
    ]);
  });

  it('keeps a list changed between a full rollback’s plan and its writes (here by SQL), and reports the list', async () => {
    const ws = await aWorkspace(app);
    const at = aPoint(app);
    const list = (await ws.api('POST', '/lists', { name: 'Newsletter' })).body;
    const id = await aPlannedFullRollback(ws, at);
    await sql`UPDATE lists SET name = 'Monthly' WHERE workspace_id = ${ws.id} AND id = ${list.id}`.execute(app.ctx.db);
    await app.runJobs(ws.id);

    const { rows } = await sql<{ name: string; deleted_at: Date | null }>`SELECT name, deleted_at FROM lists WHERE workspace_id = ${ws.id} AND id = ${list.id}`.execute(app.ctx.db);
    expect(rows).toEqual([{ name: 'Monthly', deleted_at: null }]);
    expect(await skippedOf(ws, `/rollbacks/${id}/skipped`)).toEqual([
      expect.objectContaining({ contactId: null, reason: 'changed_since_plan', record: { table: 'lists', key: list.id }, changedBy: null, changedOrigin: 'sql' }),
    ]);
    expect((await ws.api('GET', `/rollbacks/${id}`)).body.counts.skipped).toEqual({ contacts: 0, changedSincePlan: 1 });
  });

  it('keeps a contact made after the point and edited after the plan out of the bin', async () => {
    const ws = await aWorkspace(app);
    const at = aPoint(app);
    const newcomer = await aContact(ws, { firstName: 'New' });
    const id = await aPlannedFullRollback(ws, at);
    await ws.api('PATCH', `/contacts/${newcomer.id}`, { firstName: 'Still here' });
    await app.runJobs(ws.id);

    expect((await ws.api('GET', `/contacts/${newcomer.id}`)).body).toMatchObject({ status: 'active', firstName: 'Still here' });
    expect(await skippedOf(ws, `/rollbacks/${id}/skipped`)).toEqual([expect.objectContaining({ contactId: newcomer.id, reason: 'changed_since_plan' })]);
  });

  it('keeps a contact edited between an undo’s plan and its batch, and reports it', async () => {
    const ws = await aWorkspace(app);
    const ann = await aContact(ws, { firstName: 'Ann' });
    const bob = await aContact(ws, { firstName: 'Bob' });
    const editor = await ws.userWithRole('manager');
    app.clock.advance(60);
    const from = app.clock.now().toISOString();
    for (const x of [ann, bob]) await editor.api('PATCH', `/contacts/${x.id}`, { firstName: 'Wrong' });
    const to = app.clock.now().toISOString();
    app.clock.advance(60);
    const requested = await ws.api('POST', '/undos', { cause: { actorId: editor.id, from, to } });
    expect(requested.status).toBe(202);
    expect(await app.runJobs(ws.id, { maxSteps: 1 })).toBe(1);
    await ws.api('PATCH', `/contacts/${ann.id}`, { lastName: 'Later' });
    await app.runJobs(ws.id);

    expect((await ws.api('GET', `/contacts/${ann.id}`)).body).toMatchObject({ firstName: 'Wrong', lastName: 'Later' });
    expect((await ws.api('GET', `/contacts/${bob.id}`)).body.firstName).toBe('Bob');
    const undo = (await ws.api('GET', `/undos/${requested.body.id}`)).body;
    expect(undo).toMatchObject({ status: 'succeeded', skipped: [{ contactId: ann.id, reason: 'changed_since_plan' }] });
    expect(await skippedOf(ws, `/undos/${requested.body.id}/skipped`)).toEqual([
      expect.objectContaining({ contactId: ann.id, reason: 'changed_since_plan', changedBy: ws.adminId, changedOrigin: 'user' }),
    ]);
  });

  it('lists the skips of another kind of job as 404', async () => {
    const ws = await aWorkspace(app);
    const requested = await ws.api('POST', '/undos', { cause: { actorId: ws.adminId, from: aPoint(app), to: aPoint(app) } });
    expect((await ws.api('GET', `/rollbacks/${requested.body.id}/skipped`)).status).toBe(404);
    expect((await ws.api('GET', '/undos/nope/skipped')).status).toBe(404);
  });
});
