import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, postImportAs, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { laterWritesHashedAtLeast } from '../rollbacks/cause.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const now = () => app.clock.now().toISOString();

/** Runs the undo of `cause` to its end and answers it. */
async function undone(ws: TestWorkspace, cause: object, onConflict?: string) {
  const res = await ws.api('POST', '/undos', { cause, ...(onConflict ? { onConflict } : {}) });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  await app.runJobs(ws.id);
  const undo = (await ws.api('GET', `/undos/${res.body.id}`)).body;
  expect(undo.status, JSON.stringify(undo)).toBe('succeeded');
  return undo;
}

const contact = async (ws: TestWorkspace, id: string) => (await ws.api('GET', `/contacts/${id}`)).body;

describe('undo by cause: a user within a time range', () => {
  it('puts back each field the user changed, keeps a field someone changed since and lists it as a conflict', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const editor = await ws.userWithRole('manager');
    app.clock.advance(60);
    const from = now();
    for (const x of [a, b, c]) await editor.api('PATCH', `/contacts/${x.id}`, { firstName: 'Wrong' });
    const to = now();
    app.clock.advance(60);
    await ws.api('PATCH', `/contacts/${a.id}`, { lastName: 'Kept' });
    await ws.api('PATCH', `/contacts/${b.id}`, { firstName: 'Fixed by hand' });

    const cause = { actorId: editor.id, from, to };
    const preview = (await ws.api('POST', '/undos/preview', { cause })).body;
    expect(preview.counts.contacts).toEqual({ revive: 0, revert: 2, remove: 0 });
    expect(preview.conflicts).toEqual([
      { contactId: b.id, field: 'firstName', causeValue: 'Wrong', laterValue: 'Fixed by hand', laterBy: ws.adminId, laterAt: expect.any(String), overridden: false },
    ]);

    const undo = await undone(ws, cause);
    expect(undo).toMatchObject({ cause, onConflict: 'keep_later', counts: { contacts: { revert: 2 } }, conflictCount: 1 });
    expect(await contact(ws, a.id)).toMatchObject({ firstName: a.firstName, lastName: 'Kept' });
    expect(await contact(ws, b.id)).toMatchObject({ firstName: 'Fixed by hand' });
    expect(await contact(ws, c.id)).toMatchObject({ firstName: c.firstName, lastName: c.lastName });
  });

  it('overrides the later change with undo_anyway, and says so', async () => {
    const ws = await aWorkspace(app);
    const a = await aContact(ws);
    const editor = await ws.userWithRole('manager');
    const from = now();
    await editor.api('PATCH', `/contacts/${a.id}`, { firstName: 'Wrong' });
    const to = now();
    await ws.api('PATCH', `/contacts/${a.id}`, { firstName: 'Later' });

    const undo = await undone(ws, { actorId: editor.id, from, to }, 'undo_anyway');
    expect(undo.conflicts).toEqual([expect.objectContaining({ contactId: a.id, field: 'firstName', laterValue: 'Later', overridden: true })]);
    expect((await contact(ws, a.id)).firstName).toBe(a.firstName);
  });

  it('brings back contacts the user deleted, with their lists and tags, and leaves everyone else’s deletes', async () => {
    const ws = await aWorkspace(app);
    const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
    const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    const [a, b, other] = [await aContact(ws, { tags: [tag.id] }), await aContact(ws), await aContact(ws)];
    await ws.api('PUT', `/lists/${list.id}/contacts/${a.id}`, { status: 'unsubscribed' });
    const deleter = await ws.userWithRole('manager');
    const from = now();
    await deleter.api('POST', '/contacts/delete', { ids: [a.id, b.id] });
    const to = now();
    await ws.api('DELETE', `/contacts/${other.id}`);

    const undo = await undone(ws, { actorId: deleter.id, from, to });
    expect(undo.counts.contacts).toEqual({ revive: 2, revert: 0, remove: 0 });
    expect(await contact(ws, a.id)).toMatchObject({ status: 'active', tags: [tag.id] });
    expect((await ws.api('GET', `/contacts/${a.id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'unsubscribed' }]);
    expect((await contact(ws, b.id)).status).toBe('active');
    expect((await contact(ws, other.id)).status).toBe('deleted');
  });

  it('puts a list membership status back, and leaves a status someone changed since', async () => {
    const ws = await aWorkspace(app);
    const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
    const [a, b] = [await aContact(ws), await aContact(ws)];
    for (const x of [a, b]) await ws.api('PUT', `/lists/${list.id}/contacts/${x.id}`, { status: 'subscribed' });
    const editor = await ws.userWithRole('manager');
    const from = now();
    for (const x of [a, b]) await editor.api('PUT', `/lists/${list.id}/contacts/${x.id}`, { status: 'unsubscribed' });
    const to = now();
    await ws.api('PUT', `/lists/${list.id}/contacts/${b.id}`, { status: 'bounced' });

    const undo = await undone(ws, { actorId: editor.id, from, to });
    expect(undo.conflicts).toEqual([
      expect.objectContaining({ contactId: b.id, field: 'listMemberships.status', causeValue: 'unsubscribed', laterValue: 'bounced', record: { kind: 'listMemberships', key: `${list.id}:${b.id}` } }),
    ]);
    expect((await ws.api('GET', `/contacts/${a.id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'subscribed' }]);
    expect((await ws.api('GET', `/contacts/${b.id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'bounced' }]);
  });
});

describe('undo of an import', () => {
  it('sends the contacts it created to the recycle bin, keeps those edited since as conflicts, and updates it made go back', async () => {
    const ws = await aWorkspace(app);
    const existing = await aContact(ws, { email: 'old@import.test', firstName: 'Old' });
    const csv = 'Email,First\nold@import.test,Renamed\nnew1@import.test,N1\nnew2@import.test,N2\n';
    const res = await postImportAs(app, ws.adminToken, { csv, mapping: { mode: 'upsert', columns: { Email: 'email', First: 'firstName' } } });
    await app.runJobs(ws.id);
    const created = (await ws.api('GET', '/contacts?q=new&limit=10')).body.data as any[];
    const edited = created.find((x) => x.email === 'new2@import.test');
    await ws.api('PATCH', `/contacts/${edited.id}`, { lastName: 'Edited later' });

    const undo = await undone(ws, { importId: res.body.id });
    expect(undo.counts.contacts).toEqual({ revive: 0, revert: 1, remove: 1 });
    expect(undo.conflicts).toEqual([expect.objectContaining({ contactId: edited.id, field: 'lastName', causeValue: null, laterValue: 'Edited later' })]);
    expect(await contact(ws, existing.id)).toMatchObject({ status: 'active', firstName: 'Old' });
    expect((await contact(ws, created.find((x) => x.email === 'new1@import.test').id)).status).toBe('deleted');
    expect(await contact(ws, edited.id)).toMatchObject({ status: 'active', lastName: 'Edited later' });
    // An undo enrols nobody and sends nothing.
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE workspace_id = ${ws.id} AND origin = 'undo'`.execute(app.ctx.db);
    expect(rows[0].n).toBe(0);
  });

  it('bins the contacts it made with their lists and tags set aside for a restore, and lists a later change to one of their lists as a conflict', async () => {
    const ws = await aWorkspace(app);
    const news = (await ws.api('POST', '/lists', { name: 'News' })).body.id;
    const csv = 'Email,News,Tags\nclean@set-aside.test,subscribed,vip\nrelisted@set-aside.test,subscribed,vip\n';
    const res = await postImportAs(app, ws.adminToken, { csv, mapping: { mode: 'create', columns: { Email: 'email', News: `list:${news}`, Tags: 'tag' } } });
    await app.runJobs(ws.id);
    const made = (await ws.api('GET', '/contacts?q=set-aside&limit=10')).body.data as any[];
    const clean = made.find((x) => x.email === 'clean@set-aside.test');
    const relisted = made.find((x) => x.email === 'relisted@set-aside.test');
    // Someone else changes only a list status of one of them, not the contact itself.
    const colleague = await ws.userWithRole('manager');
    await colleague.api('PUT', `/lists/${news}/contacts/${relisted.id}`, { status: 'unsubscribed' });

    const undo = await undone(ws, { importId: res.body.id });
    expect(undo.counts.contacts).toEqual({ revive: 0, revert: 0, remove: 2 });
    expect(undo.conflicts).toEqual([
      {
        contactId: relisted.id,
        field: 'listMemberships.status',
        causeValue: 'subscribed',
        laterValue: 'unsubscribed',
        laterBy: colleague.id,
        laterAt: expect.any(String),
        record: { kind: 'listMemberships', key: `${news}:${relisted.id}` },
        overridden: false,
      },
    ]);
    expect((await contact(ws, clean.id)).status).toBe('deleted');
    expect((await contact(ws, relisted.id)).status).toBe('deleted');

    // Restored from the bin, both come back with their rows as they were when binned.
    const restore = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [clean.id, relisted.id] });
    expect(restore.status, JSON.stringify(restore.body)).toBe(202);
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/contacts/${clean.id}/lists`)).body.data).toEqual([{ listId: news, status: 'subscribed' }]);
    expect((await ws.api('GET', `/contacts/${relisted.id}/lists`)).body.data).toEqual([{ listId: news, status: 'unsubscribed' }]);
    const vip = (await ws.api('GET', '/tags')).body.data.find((t: { name: string }) => t.name === 'vip').id;
    expect((await contact(ws, clean.id)).tags).toEqual([vip]);
  });

  it('decides each contact the same when others wrote far more after it than it wrote, each contact then looked up one by one', async () => {
    const ws = await aWorkspace(app);
    const news = (await ws.api('POST', '/lists', { name: 'News' })).body.id;
    const csv = 'Email,News\nclean@busy-since.test,subscribed\nrelisted@busy-since.test,subscribed\nrenamed@busy-since.test,subscribed\n';
    const res = await postImportAs(app, ws.adminToken, { csv, mapping: { mode: 'create', columns: { Email: 'email', News: `list:${news}` } } });
    await app.runJobs(ws.id);
    const made = (await ws.api('GET', '/contacts?q=busy-since&limit=10')).body.data as any[];
    const [clean, relisted, renamed] = ['clean', 'relisted', 'renamed'].map((name) => made.find((x) => x.email === `${name}@busy-since.test`));
    // More contacts and list memberships written since than the import's three versions,
    // past the number read at once (laterWritesHashedAtLeast): each contact is looked up.
    // The changes that matter come after them, beyond what was read.
    const since = laterWritesHashedAtLeast + 10;
    await sql`INSERT INTO contacts (workspace_id, email) SELECT ${ws.id}, 'busy' || i || '@later.test' FROM generate_series(1, ${since}::int) i`.execute(app.ctx.db);
    await sql`INSERT INTO list_memberships (workspace_id, list_id, contact_id, status)
      SELECT workspace_id, ${news}, id, 'subscribed' FROM contacts WHERE workspace_id = ${ws.id} AND email LIKE '%@later.test'`.execute(app.ctx.db);
    const colleague = await ws.userWithRole('manager');
    await colleague.api('PUT', `/lists/${news}/contacts/${relisted.id}`, { status: 'unsubscribed' });
    await colleague.api('PATCH', `/contacts/${renamed.id}`, { firstName: 'Renamed since' });

    const cause = { importId: res.body.id };
    const preview = (await ws.api('POST', '/undos/preview', { cause })).body;
    expect(preview.counts.contacts).toEqual({ revive: 0, revert: 0, remove: 2 });
    const conflicts = (c: any[]) => c.map((x) => [x.contactId, x.field, x.causeValue, x.laterValue]).sort();
    const expected = [
      [relisted.id, 'listMemberships.status', 'subscribed', 'unsubscribed'],
      [renamed.id, 'firstName', null, 'Renamed since'],
    ].sort();
    expect(conflicts(preview.conflicts)).toEqual(expected);
    const undo = await undone(ws, cause);
    expect(conflicts(undo.conflicts)).toEqual(expected);
    expect((await contact(ws, clean.id)).status).toBe('deleted');
    expect((await contact(ws, relisted.id)).status).toBe('deleted');
    expect(await contact(ws, renamed.id)).toMatchObject({ status: 'active', firstName: 'Renamed since' });
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM contacts WHERE workspace_id = ${ws.id} AND email LIKE '%@later.test' AND status = 'active'`.execute(app.ctx.db);
    expect(rows[0].n).toBe(since);
  });

  it('leaves the tags and accounts it made while their contacts are in the bin, so a restore brings the contacts back with them', async () => {
    const ws = await aWorkspace(app);
    const csv = 'Email,Tags,Company\na@kept-tags.test,fresh,Newco\nb@kept-tags.test,fresh,Newco\n';
    const res = await postImportAs(app, ws.adminToken, { csv, mapping: { mode: 'create', columns: { Email: 'email', Tags: 'tag', Company: 'account' } } });
    await app.runJobs(ws.id);
    const made = (await ws.api('GET', '/contacts?q=kept-tags&limit=10')).body.data as any[];

    const undo = await undone(ws, { importId: res.body.id });
    expect(undo.counts).toMatchObject({ contacts: { remove: 2 }, tags: { add: 0, change: 0, remove: 0 }, accounts: { add: 0, change: 0, remove: 0 } });
    const fresh = (await ws.api('GET', '/tags')).body.data.find((t: { name: string }) => t.name === 'fresh');
    expect(fresh).toBeDefined();

    const restore = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: made.map((c) => c.id) });
    expect(restore.status, JSON.stringify(restore.body)).toBe(202);
    await app.runJobs(ws.id);
    for (const c of made) expect((await contact(ws, c.id)).tags).toEqual([fresh.id]);
  });

  it('can itself be undone: the import’s work is back', async () => {
    const ws = await aWorkspace(app);
    const res = await postImportAs(app, ws.adminToken, { csv: 'Email\na@undo2.test\nb@undo2.test\n', mapping: { mode: 'create', columns: { Email: 'email' } } });
    await app.runJobs(ws.id);
    const undo = await undone(ws, { importId: res.body.id });
    expect((await ws.api('GET', '/workspace')).body.usage).toMatchObject({ active: 0, deleted: 2 });
    const redo = await undone(ws, { undoId: undo.id });
    expect(redo.counts.contacts).toMatchObject({ revive: 2 });
    expect((await ws.api('GET', '/workspace')).body.usage).toMatchObject({ active: 2, deleted: 0 });
  });
});

describe('unmerge: the undo of a merge', () => {
  it('brings the merged contact back as it was, takes from the survivor what it gained, and keeps what was added to it since', async () => {
    const ws = await aWorkspace(app);
    const [news, events] = [(await ws.api('POST', '/lists', { name: 'News' })).body, (await ws.api('POST', '/lists', { name: 'Events' })).body];
    const [survivor, merged] = [await aContact(ws), await aContact(ws)];
    await ws.api('PUT', `/lists/${news.id}/contacts/${merged.id}`, { status: 'subscribed' });
    await ws.api('POST', '/contacts/merge', { survivorId: survivor.id, mergedIds: [merged.id] });
    const mergeId = (await ws.api('GET', '/audit-log?action=contact.merged')).body.data[0].id;
    await ws.api('PUT', `/lists/${events.id}/contacts/${survivor.id}`, { status: 'subscribed' });

    await undone(ws, { mergeId });
    expect(await contact(ws, merged.id)).toMatchObject({ status: 'active', email: merged.email });
    expect((await ws.api('GET', `/contacts/${merged.id}/lists`)).body.data).toEqual([{ listId: news.id, status: 'subscribed' }]);
    expect((await ws.api('GET', `/contacts/${survivor.id}/lists`)).body.data).toEqual([{ listId: events.id, status: 'subscribed' }]);
  });
});

describe('undo: durable, one at a time, and refused where it cannot be exact', () => {
  it('resumes after a crash between its batches and writes each contact once', async () => {
    const ws = await aWorkspace(app);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await aContact(ws)).id);
    const deleter = await ws.userWithRole('manager');
    const from = now();
    await deleter.api('POST', '/contacts/delete', { ids });
    const to = now();
    const res = await ws.api('POST', '/undos', { cause: { actorId: deleter.id, from, to } });
    await sql`UPDATE rollback_jobs SET batch_size = 2 WHERE workspace_id = ${ws.id} AND job_id = ${res.body.id}`.execute(app.ctx.db);
    expect(await app.runJobs(ws.id, { maxSteps: 3 })).toBe(3);
    expect((await ws.api('GET', `/undos/${res.body.id}`)).body.status).toBe('running');
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/undos/${res.body.id}`)).body).toMatchObject({ status: 'succeeded', counts: { contacts: { revive: 5 } } });
    expect((await ws.api('GET', '/workspace')).body.usage.active).toBe(5);
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM contact_history WHERE workspace_id = ${ws.id} AND origin = 'undo'`.execute(app.ctx.db);
    expect(rows[0].n).toBe(5);
  });

  it('shares the one job slot with restores: 409 while one runs', async () => {
    const ws = await aWorkspace(app);
    const a = await aContact(ws);
    const from = now();
    await ws.api('DELETE', `/contacts/${a.id}`);
    const to = now();
    expect((await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [a.id] })).status).toBe(202);
    const res = await ws.api('POST', '/undos', { cause: { actorId: ws.adminId, from, to } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('restore_job_running');
  });

  it('answers 404 for another workspace’s import or merge, 403 without rollbacks.request, 400 for a bad cause, 409 for a cause that changed nothing', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const res = await postImportAs(app, other.adminToken, { csv: 'Email\nx@other.test\n', mapping: { mode: 'create', columns: { Email: 'email' } } });
    await app.runJobs(other.id);
    expect((await ws.api('POST', '/undos/preview', { cause: { importId: res.body.id } })).status).toBe(404);
    expect((await ws.api('POST', '/undos', { cause: { mergeId: '999999999' } })).status).toBe(404);
    expect((await ws.api('GET', '/undos/nope')).status).toBe(404);
    const member = await ws.userWithRole('member');
    expect((await member.api('POST', '/undos/preview', { cause: { importId: res.body.id } })).body.error).toMatchObject({ code: 'forbidden', details: { permission: 'rollbacks.request' } });
    for (const body of [{}, { cause: { importId: 'x', mergeId: 'y' } }, { cause: { actorId: 'x', from: now() } }, { cause: { actorId: 'x', from: now(), to: '2000-01-01T00:00:00Z' } }, { cause: { importId: 'x' }, onConflict: 'maybe' }]) {
      const bad = await ws.api('POST', '/undos', body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
    }
    const nothing = await ws.api('POST', '/undos', { cause: { actorId: ws.adminId, from: '2026-01-01T00:00:00Z', to: '2026-01-01T00:00:01Z' } });
    expect(nothing.status).toBe(409);
    expect((await ws.api('GET', '/undos')).body.data).toEqual([]);
  });
});
