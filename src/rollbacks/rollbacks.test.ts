import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aPoint, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { rollbackPlanSteps } from './service.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

async function runRollback(ws: TestWorkspace, id: string) {
  await app.runJobs(ws.id);
  return (await ws.api('GET', `/rollbacks/${id}`)).body;
}

const rolledBackTables = ['contacts', 'lists', 'accounts', 'deals', 'tags', 'list_memberships', 'account_contacts', 'deal_contacts', 'contact_tags'];

/** Every row of the workspace's contact data, as the database holds it. */
async function dump(workspaceId: string): Promise<Record<string, Record<string, unknown>[]>> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const table of rolledBackTables) {
    const { rows } = await sql<{ row: Record<string, unknown> }>`
      SELECT to_jsonb(t) AS row FROM ${sql.table(table)} t WHERE workspace_id = ${workspaceId} ORDER BY to_jsonb(t)::text`.execute(app.ctx.db);
    out[table] = rows.map((r) => r.row);
  }
  return out;
}

/** A workspace with two contacts on a list, an account, a deal and a tag. */
async function aPopulatedWorkspace() {
  const ws = await aWorkspace(app);
  const ann = await aContact(ws, { email: 'ann@example.com', firstName: 'Ann' });
  const bob = await aContact(ws, { email: 'bob@example.com', firstName: 'Bob' });
  const list = (await ws.api('POST', '/lists', { name: 'Newsletter' })).body;
  const account = (await ws.api('POST', '/accounts', { name: 'Acme' })).body;
  const tag = (await ws.api('POST', '/tags', { name: 'VIP' })).body;
  await ws.api('PUT', `/lists/${list.id}/contacts/${ann.id}`, { status: 'subscribed' });
  await ws.api('PUT', `/lists/${list.id}/contacts/${bob.id}`, { status: 'subscribed' });
  await ws.api('PUT', `/accounts/${account.id}/contacts/${ann.id}`, { jobTitle: 'CTO' });
  await ws.api('POST', `/contacts/${ann.id}/tags`, { tagId: tag.id });
  const deal = (await ws.api('POST', '/deals', { title: 'Renewal', contactIds: [ann.id, bob.id], primaryContactId: ann.id })).body;
  return { ws, ann, bob, list, account, tag, deal };
}

describe('partial rollback (contacts scope)', () => {
  it('puts the picked contacts’ fields and associations back as they were, and leaves other contacts alone', async () => {
    const { ws, ann, bob, list, account, tag } = await aPopulatedWorkspace();
    const at = aPoint(app);
    await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Annie', phone: '+1 555 0100' });
    await ws.api('PUT', `/lists/${list.id}/contacts/${ann.id}`, { status: 'unsubscribed' });
    await ws.api('DELETE', `/contacts/${ann.id}/tags/${tag.id}`);
    await ws.api('PATCH', `/contacts/${bob.id}`, { firstName: 'Robert' });

    const preview = await ws.api('POST', '/rollbacks/preview', { at, scope: { type: 'contacts', contactIds: [ann.id] } });
    expect(preview.status).toBe(200);
    expect(preview.body.counts).toMatchObject({
      contacts: { revive: 0, revert: 1, remove: 0 },
      listMemberships: { add: 0, change: 1, remove: 0 },
      contactTags: { add: 1, change: 0, remove: 0 },
      accountLinks: { add: 0, change: 0, remove: 0 },
      skipped: { contacts: 0 },
    });
    expect(preview.body.sample).toHaveLength(1);
    expect(preview.body.sample[0]).toMatchObject({
      contactId: ann.id, email: 'ann@example.com', firstName: 'Annie', lastName: ann.lastName, change: 'revert', lastChange: { actorId: ws.adminId, origin: 'user' },
    });
    expect(preview.body.sample[0].differences).toEqual(
      expect.arrayContaining([{ field: 'firstName', now: 'Annie', then: 'Ann' }, { field: 'phone', now: '+1 555 0100', then: null }]),
    );

    const accepted = await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [ann.id] } });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ status: 'queued', at, scope: { type: 'contacts', contactIds: [ann.id] } });
    const done = await runRollback(ws, accepted.body.id);
    expect(done).toMatchObject({ status: 'succeeded', counts: preview.body.counts, skipped: [] });

    expect((await ws.api('GET', `/contacts/${ann.id}`)).body).toMatchObject({ firstName: 'Ann', phone: null, tags: [tag.id], status: 'active' });
    expect((await ws.api('GET', `/contacts/${ann.id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'subscribed' }]);
    expect((await ws.api('GET', `/contacts/${ann.id}/accounts`)).body.data).toEqual([{ accountId: account.id, jobTitle: 'CTO' }]);
    expect((await ws.api('GET', `/contacts/${bob.id}`)).body.firstName).toBe('Robert');
  });

  it('changes nothing when previewed', async () => {
    const { ws, ann } = await aPopulatedWorkspace();
    const at = aPoint(app);
    await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Annie' });
    const before = await dump(ws.id);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM history WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
    expect((await ws.api('POST', '/rollbacks/preview', { at, scope: { type: 'workspace' } })).status).toBe(200);
    expect(await dump(ws.id)).toEqual(before);
    const after = await sql<{ n: number }>`SELECT count(*)::int AS n FROM history WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
    expect(after.rows[0].n).toBe(rows[0].n);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM rollback_targets WHERE workspace_id = ${ws.id}`.execute(app.ctx.db)).rows[0].n).toBe(0);
  });

  it('skips a contact whose email another contact outside the scope now holds, naming the holder', async () => {
    const ws = await aWorkspace(app);
    const ann = await aContact(ws, { email: 'ann@old.example' });
    const at = aPoint(app);
    await ws.api('PATCH', `/contacts/${ann.id}`, { email: 'ann@new.example' });
    const newcomer = await aContact(ws, { email: 'ann@old.example' });
    const scope = { type: 'contacts', contactIds: [ann.id] };
    const preview = (await ws.api('POST', '/rollbacks/preview', { at, scope })).body;
    expect(preview.skipped).toEqual([{ contactId: ann.id, reason: 'email_taken', takenBy: newcomer.id }]);
    expect(preview.counts.contacts).toEqual({ revive: 0, revert: 0, remove: 0 });
    const done = await runRollback(ws, (await ws.api('POST', '/rollbacks', { at, scope })).body.id);
    expect(done).toMatchObject({ status: 'succeeded', skipped: [{ contactId: ann.id, reason: 'email_taken', takenBy: newcomer.id }] });
    expect((await ws.api('GET', `/contacts/${ann.id}`)).body.email).toBe('ann@new.example');
  });

  it('previews past its sample of 20 what it then does: the counts, every skip, and each sampled contact whole', async () => {
    const ws = await aWorkspace(app);
    const people: { id: string; email: string; firstName: string }[] = [];
    for (let i = 0; i < 30; i += 1) people.push(await aContact(ws, { email: `p${i}@example.com`, firstName: `P${i}` }));
    const at = aPoint(app);
    const renamed = people.slice(0, 24);
    for (const p of renamed) await ws.api('PATCH', `/contacts/${p.id}`, { firstName: `${p.firstName}!` });
    // Six give up their email after the point, and a contact outside the scope takes it.
    const moved = people.slice(24);
    const holders = new Map<string, string>();
    for (const [i, p] of moved.entries()) {
      await ws.api('PATCH', `/contacts/${p.id}`, { email: `moved${i}@example.com` });
      holders.set(p.id, (await aContact(ws, { email: p.email })).id);
    }
    const scope = { type: 'contacts', contactIds: people.map((p) => p.id) };
    const preview = (await ws.api('POST', '/rollbacks/preview', { at, scope })).body;
    expect(preview.counts.contacts).toEqual({ revive: 0, revert: 24, remove: 0 });
    expect(preview.counts.skipped).toEqual({ contacts: 6 });
    const skips = moved.map((p) => ({ contactId: p.id, reason: 'email_taken', takenBy: holders.get(p.id) }));
    const byContact = (a: { contactId: string }, b: { contactId: string }) => (a.contactId < b.contactId ? -1 : 1);
    expect([...preview.skipped].sort(byContact)).toEqual([...skips].sort(byContact));
    expect(preview.sample).toHaveLength(20);
    for (const record of preview.sample as { contactId: string; differences: { field: string; now: unknown; then: unknown }[] }[]) {
      const person = people.find((p) => p.id === record.contactId);
      if (!person) throw new Error(`the sample holds ${record.contactId}, outside the scope`);
      const changed = renamed.includes(person)
        ? { field: 'firstName', now: `${person.firstName}!`, then: person.firstName }
        : { field: 'email', now: expect.stringMatching(/^moved\d@example\.com$/), then: person.email };
      expect(record.differences.map((d) => d.field).sort()).toEqual([changed.field, 'updatedAt'].sort());
      expect(record.differences).toContainEqual(changed);
    }
    const done = await runRollback(ws, (await ws.api('POST', '/rollbacks', { at, scope })).body.id);
    expect(done.counts).toEqual(preview.counts);
    expect([...done.skipped].sort(byContact)).toEqual([...skips].sort(byContact));
    for (const p of renamed) expect((await ws.api('GET', `/contacts/${p.id}`)).body.firstName).toBe(p.firstName);
  });

  it('sends a contact created after the point to the recycle bin, from which it comes back with its tags', async () => {
    const ws = await aWorkspace(app);
    const at = aPoint(app);
    const late = await aContact(ws, { email: 'late@example.com' });
    const tag = (await ws.api('POST', '/tags', { name: 'Webinar' })).body;
    await ws.api('POST', `/contacts/${late.id}/tags`, { tagId: tag.id });
    const scope = { type: 'contacts', contactIds: [late.id] };
    const preview = (await ws.api('POST', '/rollbacks/preview', { at, scope })).body;
    expect(preview.sample).toEqual([expect.objectContaining({ contactId: late.id, email: 'late@example.com', change: 'remove', differences: [] })]);
    const done = await runRollback(ws, (await ws.api('POST', '/rollbacks', { at, scope })).body.id);
    expect(done).toMatchObject({ phase: 'done', counts: { contacts: { revive: 0, revert: 0, remove: 1 } } });
    const deleted = (await ws.api('GET', '/deleted-contacts?q=late@example.com')).body.data;
    expect(deleted).toEqual([expect.objectContaining({ id: late.id, deletedBy: ws.adminId, tags: [] })]);
    const restored = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [late.id] });
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/restore-jobs/${restored.body.id}`)).body).toMatchObject({ status: 'succeeded', restored: 1 });
    expect((await ws.api('GET', `/contacts/${late.id}`)).body).toMatchObject({ status: 'active', tags: [tag.id] });
  });

  it('leaves deals by the deal rule when it sends their contacts to the bin, and its undo puts those deals back', async () => {
    const { ws, ann } = await aPopulatedWorkspace();
    const at = aPoint(app);
    const lead = await aContact(ws, { email: 'lead@example.com' });
    const solo = await aContact(ws, { email: 'solo@example.com' });
    const shared = (await ws.api('POST', '/deals', { title: 'Shared', contactIds: [lead.id, ann.id], primaryContactId: lead.id })).body;
    const alone = (await ws.api('POST', '/deals', { title: 'Alone', contactIds: [solo.id] })).body;
    const beforeRollback = await dump(ws.id);

    const scope = { type: 'contacts', contactIds: [lead.id, solo.id] };
    const preview = (await ws.api('POST', '/rollbacks/preview', { at, scope })).body;
    expect(preview.counts).toMatchObject({ contacts: { revive: 0, revert: 0, remove: 2 }, deals: { add: 0, change: 1, remove: 1 } });
    expect(await dump(ws.id)).toEqual(beforeRollback);
    const accepted = await ws.api('POST', '/rollbacks', { at, scope });
    expect(await app.runJobs(ws.id, { maxSteps: rollbackPlanSteps })).toBe(rollbackPlanSteps);
    expect((await ws.api('GET', `/rollbacks/${accepted.body.id}`)).body).toMatchObject({ status: 'running', phase: 'parents', counts: preview.counts });
    expect(await runRollback(ws, accepted.body.id)).toMatchObject({ status: 'succeeded', counts: preview.counts });
    expect((await ws.api('GET', `/deals/${shared.id}`)).body).toMatchObject({ contactIds: [ann.id], primaryContactId: ann.id });
    expect((await ws.api('GET', `/deals/${alone.id}`)).body).toMatchObject({ contactIds: [], deletedAt: expect.any(String) });
    const audit = (await ws.api('GET', `/audit-log?targetId=${alone.id}`)).body.data;
    expect(audit[0]).toMatchObject({ action: 'deal.deleted', details: { reason: 'last_contact_rolled_back', rollbackId: accepted.body.id } });

    const undo = await ws.api('POST', `/rollbacks/${accepted.body.id}/undo`);
    expect(await runRollback(ws, undo.body.id)).toMatchObject({ status: 'succeeded', counts: { contacts: { revive: 2, revert: 0, remove: 0 }, deals: { add: 0, change: 2, remove: 0 } } });
    expect(await dump(ws.id)).toEqual(beforeRollback);
    expect((await ws.api('GET', `/deals/${shared.id}`)).body).toMatchObject({ contactIds: [lead.id, ann.id], primaryContactId: lead.id });
  });

  it('undone after a contact it binned lost its email to another, leaves that contact’s deal deleted', async () => {
    const ws = await aWorkspace(app);
    const at = aPoint(app);
    const solo = await aContact(ws, { email: 'solo@example.com' });
    const alone = (await ws.api('POST', '/deals', { title: 'Alone', contactIds: [solo.id] })).body;
    const rollback = await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [solo.id] } });
    await runRollback(ws, rollback.body.id);
    const holder = await aContact(ws, { email: 'solo@example.com' });

    const undo = await ws.api('POST', `/rollbacks/${rollback.body.id}/undo`);
    const done = await runRollback(ws, undo.body.id);
    expect(done).toMatchObject({ status: 'succeeded', skipped: [{ contactId: solo.id, reason: 'email_taken', takenBy: holder.id }] });
    expect((await ws.api('GET', `/contacts/${solo.id}`)).body.status).toBe('deleted');
    expect((await ws.api('GET', `/deals/${alone.id}`)).body).toMatchObject({ contactIds: [], deletedAt: expect.any(String) });
  });

  it('undone after a deal it mended was deleted by a later delete, leaves that deal deleted', async () => {
    const { ws, ann } = await aPopulatedWorkspace();
    const at = aPoint(app);
    const lead = await aContact(ws, { email: 'lead@example.com' });
    const shared = (await ws.api('POST', '/deals', { title: 'Shared', contactIds: [lead.id, ann.id], primaryContactId: lead.id })).body;
    const rollback = await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [lead.id] } });
    await runRollback(ws, rollback.body.id);
    expect((await ws.api('GET', `/deals/${shared.id}`)).body).toMatchObject({ contactIds: [ann.id], primaryContactId: ann.id });
    await ws.api('DELETE', `/contacts/${ann.id}`);
    expect((await ws.api('GET', `/deals/${shared.id}`)).body.deletedAt).toEqual(expect.any(String));

    const undo = await ws.api('POST', `/rollbacks/${rollback.body.id}/undo`);
    expect(await runRollback(ws, undo.body.id)).toMatchObject({ status: 'succeeded', counts: { contacts: { revive: 1 }, deals: { add: 0, change: 0, remove: 0 } } });
    expect((await ws.api('GET', `/contacts/${lead.id}`)).body.status).toBe('active');
    expect((await ws.api('GET', `/deals/${shared.id}`)).body).toMatchObject({ contactIds: [lead.id], deletedAt: expect.any(String) });
  });

  it('keeps a deal alive with a contact it brings back while the deal’s primary leaves for the archive', async () => {
    const ws = await aWorkspace(app);
    const bea = await aContact(ws, { email: 'bea@example.com' });
    const cal = await aContact(ws, { email: 'cal@example.com' });
    const deal = (await ws.api('POST', '/deals', { title: 'Pair', contactIds: [bea.id, cal.id], primaryContactId: bea.id })).body;
    await ws.api('POST', '/contacts/archive', { ids: [cal.id] });
    app.clock.advance(31 * 86_400);
    const at = aPoint(app);
    const unarchived = await ws.api('POST', '/restore-jobs', { source: 'archived', contactIds: [cal.id] });
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/restore-jobs/${unarchived.body.id}`)).body).toMatchObject({ status: 'succeeded', restored: 1 });
    await ws.api('DELETE', `/contacts/${bea.id}`);
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toMatchObject({ contactIds: [cal.id], primaryContactId: cal.id });

    const scope = { type: 'contacts', contactIds: [bea.id, cal.id] };
    const preview = (await ws.api('POST', '/rollbacks/preview', { at, scope })).body;
    expect(preview.counts).toMatchObject({ contacts: { revive: 1, revert: 1, remove: 0 }, deals: { add: 0, change: 1, remove: 0 } });
    const done = await runRollback(ws, (await ws.api('POST', '/rollbacks', { at, scope })).body.id);
    expect(done).toMatchObject({ status: 'succeeded', counts: preview.counts });
    expect((await ws.api('GET', `/contacts/${cal.id}`)).body.status).toBe('archived');
    const after = (await ws.api('GET', `/deals/${deal.id}`)).body;
    expect(after).toMatchObject({ contactIds: [bea.id], primaryContactId: bea.id });
    expect(after.deletedAt).toBeUndefined();
  });

  it('leaves deals by the deal rule when it takes back deal links added after the point', async () => {
    const { ws, ann, bob } = await aPopulatedWorkspace();
    const at = aPoint(app);
    const annsOwn = (await ws.api('POST', '/deals', { title: 'Ann alone', contactIds: [ann.id] })).body;
    const led = (await ws.api('POST', '/deals', { title: 'Ann leads', contactIds: [ann.id, bob.id], primaryContactId: ann.id })).body;

    const scope = { type: 'contacts', contactIds: [ann.id] };
    const preview = (await ws.api('POST', '/rollbacks/preview', { at, scope })).body;
    expect(preview.counts).toMatchObject({ dealContacts: { add: 0, change: 0, remove: 2 }, deals: { add: 0, change: 1, remove: 1 } });
    const done = await runRollback(ws, (await ws.api('POST', '/rollbacks', { at, scope })).body.id);
    expect(done).toMatchObject({ status: 'succeeded', counts: preview.counts });
    expect((await ws.api('GET', `/deals/${annsOwn.id}`)).body).toMatchObject({ contactIds: [], deletedAt: expect.any(String) });
    expect((await ws.api('GET', `/deals/${led.id}`)).body).toMatchObject({ contactIds: [bob.id], primaryContactId: bob.id });
    expect((await ws.api('GET', `/contacts/${ann.id}`)).body.status).toBe('active');
  });

  it('revives a contact deleted after the point with its associations, sending nothing and leaving its automation paused', async () => {
    const { ws, ann, list } = await aPopulatedWorkspace();
    const automation = (await ws.api('POST', '/automations', {
      name: 'Welcome', trigger: { type: 'list.subscribed', listId: list.id }, steps: [{ type: 'send_email', subject: 'Hello' }, { type: 'wait', seconds: 3600 }, { type: 'send_email', subject: 'Again' }],
    })).body;
    const carl = await aContact(ws, { email: 'carl@example.com' });
    await ws.api('PUT', `/lists/${list.id}/contacts/${carl.id}`, { status: 'subscribed' });
    await ws.api('POST', '/maintenance/run');
    const sentBefore = (await ws.api('GET', `/messages?contactId=${carl.id}`)).body.data.length;
    const at = aPoint(app);
    await ws.api('DELETE', `/contacts/${carl.id}`);
    const done = await runRollback(ws, (await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [carl.id, ann.id] } })).body.id);
    expect(done.counts.contacts).toEqual({ revive: 1, revert: 0, remove: 0 });
    expect((await ws.api('GET', `/contacts/${carl.id}`)).body.status).toBe('active');
    expect((await ws.api('GET', `/contacts/${carl.id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'subscribed' }]);
    await ws.api('POST', '/maintenance/run');
    expect((await ws.api('GET', `/messages?contactId=${carl.id}`)).body.data).toHaveLength(sentBefore);
    const enrollments = (await ws.api('GET', `/automations/${automation.id}/enrollments`)).body.data;
    expect(enrollments.find((e: { contactId: string }) => e.contactId === carl.id)).toMatchObject({ status: 'paused' });
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE workspace_id = ${ws.id} AND origin = 'rollback'`.execute(app.ctx.db);
    expect(rows[0].n).toBe(0);
  });

  it('resumes a revived contact’s automation at its saved step when asked, without sending a step twice', async () => {
    const ws = await aWorkspace(app);
    const list = (await ws.api('POST', '/lists', { name: 'Onboarding' })).body;
    await ws.api('POST', '/automations', {
      name: 'Drip', trigger: { type: 'list.subscribed', listId: list.id }, steps: [{ type: 'send_email', subject: 'One' }, { type: 'wait', seconds: 60 }, { type: 'send_email', subject: 'Two' }],
    });
    const dora = await aContact(ws, { email: 'dora@example.com' });
    await ws.api('PUT', `/lists/${list.id}/contacts/${dora.id}`, { status: 'subscribed' });
    await ws.api('POST', '/maintenance/run');
    const at = aPoint(app);
    await ws.api('DELETE', `/contacts/${dora.id}`);
    await runRollback(ws, (await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [dora.id] }, resumeAutomations: true })).body.id);
    app.clock.advance(120);
    await ws.api('POST', '/maintenance/run');
    const subjects = (await ws.api('GET', `/messages?contactId=${dora.id}`)).body.data.map((m: { subject: string }) => m.subject);
    expect(subjects.sort()).toEqual(['One', 'Two']);
  });

  it('resumes a rollback stopped between batches and ends with every contact rolled back once', async () => {
    const ws = await aWorkspace(app);
    const contacts = [];
    for (let i = 0; i < 3; i += 1) contacts.push(await aContact(ws, { firstName: `Before${i}` }));
    const at = aPoint(app);
    for (const c of contacts) await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'After' });
    const accepted = await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: contacts.map((c) => c.id) } });
    await sql`UPDATE rollback_jobs SET batch_size = 1 WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
    // the plan's steps, parents, an empty release pass, then the first contact: and the process stops.
    expect(await app.runJobs(ws.id, { maxSteps: rollbackPlanSteps + 3 })).toBe(rollbackPlanSteps + 3);
    expect((await ws.api('GET', `/rollbacks/${accepted.body.id}`)).body).toMatchObject({ status: 'running', phase: 'contacts', progress: { contactsDone: 1, contactsTotal: 3 } });
    const done = await runRollback(ws, accepted.body.id);
    expect(done).toMatchObject({ status: 'succeeded', progress: { contactsDone: 3, contactsTotal: 3 } });
    for (const [i, c] of contacts.entries()) expect((await ws.api('GET', `/contacts/${c.id}`)).body.firstName).toBe(`Before${i}`);
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM history WHERE workspace_id = ${ws.id} AND table_name = 'contacts' AND origin = 'rollback'`.execute(app.ctx.db);
    expect(rows[0].n).toBe(3);
  });
  it('removes its plan when it fails, and the next rollback to the same point succeeds', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws, { firstName: 'Before' });
    const at = aPoint(app);
    await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'After' });
    const scope = { type: 'contacts', contactIds: [c.id] };
    const broken = await ws.api('POST', '/rollbacks', { at, scope });
    expect(await app.runJobs(ws.id, { maxSteps: rollbackPlanSteps })).toBe(rollbackPlanSteps);
    const planned = sql<{ n: number }>`SELECT count(*)::int AS n FROM rollback_targets WHERE workspace_id = ${ws.id}`;
    expect((await planned.execute(app.ctx.db)).rows[0].n).toBe(1);
    // A job whose next step throws ends failed, as one hit by a bug or a lost database would.
    await sql`UPDATE rollback_jobs SET phase = 'bogus' WHERE workspace_id = ${ws.id} AND job_id = ${broken.body.id}`.execute(app.ctx.db);
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/rollbacks/${broken.body.id}`)).body).toMatchObject({ status: 'failed', error: expect.stringContaining('unknown phase') });
    expect((await planned.execute(app.ctx.db)).rows[0].n).toBe(0);
    const next = await runRollback(ws, (await ws.api('POST', '/rollbacks', { at, scope })).body.id);
    expect(next.status).toBe('succeeded');
    expect((await planned.execute(app.ctx.db)).rows[0].n).toBe(0);
    expect((await ws.api('GET', `/contacts/${c.id}`)).body.firstName).toBe('Before');
  });

  it('never writes back a contact erased while the rollback runs', async () => {
    const ws = await aWorkspace(app);
    const eve = await aContact(ws, { email: 'eve@example.com', firstName: 'Eve' });
    const at = aPoint(app);
    await ws.api('PATCH', `/contacts/${eve.id}`, { firstName: 'Evelyn' });
    const accepted = await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [eve.id] } });
    expect(await app.runJobs(ws.id, { maxSteps: rollbackPlanSteps })).toBe(rollbackPlanSteps);
    expect((await ws.api('POST', `/contacts/${eve.id}/erase`)).status).toBe(200);
    expect((await runRollback(ws, accepted.body.id)).status).toBe('succeeded');
    expect((await ws.api('GET', `/contacts/${eve.id}`)).status).toBe(404);
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM history WHERE workspace_id = ${ws.id} AND contact_id = ${eve.id}`.execute(app.ctx.db);
    expect(rows[0].n).toBe(0);
  });

  it('swaps emails back between two contacts without tripping over the unique email', async () => {
    const ws = await aWorkspace(app);
    const a = await aContact(ws, { email: 'first@example.com' });
    const b = await aContact(ws, { email: 'second@example.com' });
    const at = aPoint(app);
    await ws.api('PATCH', `/contacts/${a.id}`, { email: 'temp@example.com' });
    await ws.api('PATCH', `/contacts/${b.id}`, { email: 'first@example.com' });
    await ws.api('PATCH', `/contacts/${a.id}`, { email: 'second@example.com' });
    const accepted = await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [a.id, b.id] } });
    await sql`UPDATE rollback_jobs SET batch_size = 1 WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
    expect(await runRollback(ws, accepted.body.id)).toMatchObject({ status: 'succeeded', skipped: [], counts: { contacts: { revive: 0, revert: 2, remove: 0 } } });
    expect((await ws.api('GET', `/contacts/${a.id}`)).body).toMatchObject({ email: 'first@example.com', status: 'active' });
    expect((await ws.api('GET', `/contacts/${b.id}`)).body).toMatchObject({ email: 'second@example.com', status: 'active' });
  });
});

describe('full rollback (workspace scope)', () => {
  it('waits for a second admin: the requester gets 403 four_eyes_required, a manager cannot approve', async () => {
    const ws = await aWorkspace(app);
    const second = await ws.userWithRole('admin');
    const at = aPoint(app);
    const accepted = await ws.api('POST', '/rollbacks', { at, scope: { type: 'workspace' } });
    expect(accepted.status).toBe(202);
    expect(accepted.body.status).toBe('awaiting_approval');
    const own = await ws.api('POST', `/rollbacks/${accepted.body.id}/approve`);
    expect(own.status).toBe(403);
    expect(own.body.error.code).toBe('four_eyes_required');
    const manager = await ws.userWithRole('manager');
    const denied = await manager.api('POST', `/rollbacks/${accepted.body.id}/approve`);
    expect(denied.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'rollbacks.approve' } });
    expect(await app.runJobs(ws.id)).toBe(0);
    const approved = await second.api('POST', `/rollbacks/${accepted.body.id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'queued', approvedBy: second.id, requestedBy: ws.adminId });
    expect((await second.api('POST', `/rollbacks/${accepted.body.id}/approve`)).body.error.code).toBe('invalid_state');
    expect((await runRollback(ws, accepted.body.id)).status).toBe('succeeded');
    const audit = (await ws.api('GET', `/audit-log?targetId=${accepted.body.id}`)).body.data.map((e: { action: string }) => e.action);
    expect(audit).toEqual(['rollback.completed', 'rollback.approved', 'rollback.requested']);
  });

  it('can be rejected while awaiting approval, and then neither approved nor undone', async () => {
    const ws = await aWorkspace(app);
    const accepted = await ws.api('POST', '/rollbacks', { at: aPoint(app), scope: { type: 'workspace' } });
    const approver = await ws.userWithRole('admin');
    const rejected = await approver.api('POST', `/rollbacks/${accepted.body.id}/reject`);
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ status: 'failed', error: `rejected by ${approver.id}` });
    expect((await approver.api('POST', `/rollbacks/${accepted.body.id}/approve`)).body.error).toMatchObject({ code: 'invalid_state', details: { status: 'failed' } });
    expect((await approver.api('POST', `/rollbacks/${accepted.body.id}/reject`)).body.error.code).toBe('invalid_state');
    expect((await ws.api('POST', `/rollbacks/${accepted.body.id}/undo`)).body.error.code).toBe('invalid_state');
    const manager = await ws.userWithRole('manager');
    expect((await manager.api('POST', `/rollbacks/${accepted.body.id}/reject`)).body.error).toMatchObject({ code: 'forbidden', details: { permission: 'rollbacks.approve' } });
    expect(await app.runJobs(ws.id)).toBe(0);
    const audit = (await ws.api('GET', `/audit-log?targetId=${accepted.body.id}`)).body.data.map((e: { action: string }) => e.action);
    expect(audit).toEqual(['rollback.rejected', 'rollback.requested']);
  });

  it('returns every field and association to the point exactly, and its undo returns to the state before', async () => {
    const { ws, ann, bob, list, account, tag, deal } = await aPopulatedWorkspace();
    const approver = await ws.userWithRole('admin');
    const at = aPoint(app);
    const atPoint = await dump(ws.id);
    // Everything a workspace lives through after the point.
    await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Annie', fields: { plan: 'pro' } });
    await ws.api('DELETE', `/contacts/${bob.id}`);
    await ws.api('DELETE', `/lists/${list.id}`);
    await ws.api('DELETE', `/tags/${tag.id}`);
    await ws.api('PUT', `/accounts/${account.id}/contacts/${ann.id}`, { jobTitle: 'CEO' });
    const late = await aContact(ws, { email: 'late@example.com' });
    const newList = (await ws.api('POST', '/lists', { name: 'Later' })).body;
    await ws.api('PUT', `/lists/${newList.id}/contacts/${ann.id}`, { status: 'subscribed' });
    await ws.api('POST', '/deals', { title: 'New deal', contactIds: [late.id, ann.id] });
    const beforeRollback = await dump(ws.id);

    const preview = (await ws.api('POST', '/rollbacks/preview', { at, scope: { type: 'workspace' } })).body;
    const accepted = await ws.api('POST', '/rollbacks', { at, scope: { type: 'workspace' } });
    // While it awaits approval, its counts are its preview's: what the approver approves.
    expect(accepted.body).toMatchObject({ status: 'awaiting_approval', counts: preview.counts });
    await approver.api('POST', `/rollbacks/${accepted.body.id}/approve`);
    const done = await runRollback(ws, accepted.body.id);
    expect(done).toMatchObject({ status: 'succeeded', counts: preview.counts, skipped: [] });
    expect(preview.counts.contacts).toEqual({ revive: 1, revert: 1, remove: 1 });
    expect(preview.counts.lists).toEqual({ add: 0, change: 1, remove: 1 });

    // What did not exist at the point is in the bin or marked deleted, and nothing else differs.
    const after = await dump(ws.id);
    const existedAtPoint = (table: string) => new Set(atPoint[table].map((r) => `${r.id}`));
    for (const table of ['contacts', 'lists', 'accounts', 'deals', 'tags']) {
      const newer = after[table].filter((r) => !existedAtPoint(table).has(`${r.id}`));
      for (const row of newer) expect(table === 'contacts' ? row.status : row.deleted_at !== null).toBe(table === 'contacts' ? 'deleted' : true);
      expect(after[table].filter((r) => existedAtPoint(table).has(`${r.id}`))).toEqual(atPoint[table]);
    }
    // A contact that did not exist at the point went to the bin with its associations set
    // aside, as any deleted contact keeps them; every other association row is as it was.
    const newContacts = new Set(after.contacts.filter((r) => !existedAtPoint('contacts').has(`${r.id}`)).map((r) => `${r.id}`));
    for (const table of ['list_memberships', 'account_contacts', 'deal_contacts', 'contact_tags']) {
      expect(after[table].filter((r) => !newContacts.has(`${r.contact_id}`))).toEqual(atPoint[table]);
    }
    expect(after.deal_contacts.filter((r) => newContacts.has(`${r.contact_id}`)).map((r) => r.contact_id)).toEqual([late.id]);
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toMatchObject({ contactIds: [ann.id, bob.id], primaryContactId: ann.id });

    const undo = await ws.api('POST', `/rollbacks/${accepted.body.id}/undo`);
    expect(undo.status).toBe(202);
    expect(undo.body).toMatchObject({ status: 'awaiting_approval', undoOf: accepted.body.id });
    await approver.api('POST', `/rollbacks/${undo.body.id}/approve`);
    const undone = await runRollback(ws, undo.body.id);
    expect(undone).toMatchObject({ status: 'succeeded', counts: undo.body.counts });
    expect(undo.body.counts.contacts).toEqual({ revive: 1, revert: 1, remove: 1 });
    expect(await dump(ws.id)).toEqual(beforeRollback);
    expect((await ws.api('GET', `/rollbacks/${accepted.body.id}`)).body.undoneBy).toBe(undo.body.id);
    expect((await ws.api('GET', '/rollbacks')).body.data.map((r: { id: string; undoneBy: string | null }) => [r.id, r.undoneBy])).toEqual([
      [undo.body.id, null],
      [accepted.body.id, undo.body.id],
    ]);
    const again = await ws.api('POST', `/rollbacks/${accepted.body.id}/undo`);
    expect(again.body.error).toMatchObject({ code: 'invalid_state', details: { undoneBy: undo.body.id } });
  });
});

describe('recoverable points and access', () => {
  it('accepts any point in the last 72 hours and refuses older or future ones with 422 point_not_recoverable', async () => {
    const ws = await aWorkspace(app);
    const now = app.clock.now().getTime();
    const scope = { type: 'workspace' };
    const inside = new Date(now - 72 * 3600_000 + 60_000).toISOString();
    expect((await ws.api('POST', '/rollbacks/preview', { at: inside, scope })).status).toBe(200);
    for (const at of [new Date(now - 72 * 3600_000 - 60_000).toISOString(), new Date(now + 3600_000).toISOString()]) {
      const res = await ws.api('POST', '/rollbacks', { at, scope });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('point_not_recoverable');
      expect(res.body.error.details.nearest).toEqual(expect.arrayContaining([expect.any(String)]));
    }
    expect((await ws.api('GET', '/rollbacks')).body.data).toEqual([]);
  });

  it('rolls back to a snapshot older than the window after history compaction, exactly', async () => {
    const ws = await aWorkspace(app);
    const approver = await ws.userWithRole('admin');
    const ann = await aContact(ws, { email: 'ann@example.com', firstName: 'Ann' });
    const list = (await ws.api('POST', '/lists', { name: 'Customers' })).body;
    await ws.api('PUT', `/lists/${list.id}/contacts/${ann.id}`, { status: 'subscribed' });
    app.clock.advance(1);
    const snapshot = (await ws.api('POST', '/snapshots', { label: 'before the import' })).body;
    const atSnapshot = await dump(ws.id);
    app.clock.advance(1);
    await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Annie' });
    await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Annabel' });
    await ws.api('PUT', `/lists/${list.id}/contacts/${ann.id}`, { status: 'unsubscribed' });
    const late = await aContact(ws, { email: 'late@example.com' });
    app.clock.advance(80 * 3600);
    await ws.api('POST', '/maintenance/run');
    // Compaction kept one of Ann's versions: the first change after the snapshot, which
    // holds her as she was then. Her insert and the change from 'Annie' are needed by no
    // retained point.
    const { rows } = await sql<{ first_name: string }>`
      SELECT (before).first_name FROM contact_history
      WHERE workspace_id = ${ws.id} AND id = ${ann.id} ORDER BY version`.execute(app.ctx.db);
    expect(rows.map((r) => r.first_name)).toEqual(['Ann']);
    await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Anna' });

    const justAfter = new Date(Date.parse(snapshot.takenAt) + 1000).toISOString();
    expect((await ws.api('POST', '/rollbacks/preview', { at: justAfter, scope: { type: 'workspace' } })).body.error).toMatchObject({
      code: 'point_not_recoverable', details: { nearest: expect.arrayContaining([snapshot.takenAt]) },
    });
    const accepted = await ws.api('POST', '/rollbacks', { at: snapshot.takenAt, scope: { type: 'workspace' } });
    await approver.api('POST', `/rollbacks/${accepted.body.id}/approve`);
    expect((await runRollback(ws, accepted.body.id)).counts.contacts).toEqual({ revive: 0, revert: 1, remove: 1 });
    const after = await dump(ws.id);
    expect(after.contacts.filter((c) => c.id !== late.id)).toEqual(atSnapshot.contacts);
    expect(after.list_memberships).toEqual(atSnapshot.list_memberships);
    expect((await ws.api('GET', `/contacts/${late.id}`)).body.status).toBe('deleted');
  });

  it('refuses bad input with 400 and changes nothing', async () => {
    const ws = await aWorkspace(app);
    const at = aPoint(app);
    for (const body of [
      { at, scope: { type: 'contacts', contactIds: [] } },
      { at, scope: { type: 'everything' } },
      { at: 'yesterday', scope: { type: 'workspace' } },
      { at, scope: { type: 'workspace' }, extra: true },
      { scope: { type: 'workspace' } },
    ]) {
      const res = await ws.api('POST', '/rollbacks', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await ws.api('GET', '/rollbacks')).body.data).toEqual([]);
  });

  it('is for admins: managers and members get 403 rollbacks.request', async () => {
    const ws = await aWorkspace(app);
    const at = aPoint(app);
    for (const role of ['manager', 'member']) {
      const user = await ws.userWithRole(role);
      for (const url of ['/rollbacks/preview', '/rollbacks']) {
        const res = await user.api('POST', url, { at, scope: { type: 'workspace' } });
        expect(res.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'rollbacks.request' } });
      }
    }
  });

  it('answers 404 for another workspace’s rollback', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const accepted = await ws.api('POST', '/rollbacks', { at: aPoint(app), scope: { type: 'workspace' } });
    for (const [method, url] of [['GET', ''], ['POST', '/approve'], ['POST', '/reject'], ['POST', '/undo']] as const) {
      expect((await other.api(method, `/rollbacks/${accepted.body.id}${url}`)).status).toBe(404);
    }
  });

  it('allows one rollback or restore at a time per workspace', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const at = aPoint(app);
    await ws.api('DELETE', `/contacts/${c.id}`);
    const restore = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [c.id] });
    const res = await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [c.id] } });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'restore_job_running', details: { jobId: restore.body.id } });
  });
});
