import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const changes = async (ws: TestWorkspace, query = '') => {
  const res = await ws.api('GET', `/changes${query}`);
  expect(res.status).toBe(200);
  return res.body.data as any[];
};

describe('change sets: every write names its cause', () => {
  it('lists a user’s edits and bulk delete as one cause, with what it did to contacts', async () => {
    const ws = await aWorkspace(app);
    const a = await aContact(ws);
    const b = await aContact(ws);
    await ws.api('PATCH', `/contacts/${a.id}`, { firstName: 'Renamed' });
    await ws.api('POST', '/contacts/delete', { ids: [a.id, b.id] });

    const [cause] = await changes(ws);
    expect(cause.cause).toEqual({ kind: 'user', id: ws.adminId, actorId: ws.adminId, tokenId: ws.adminTokenId, name: expect.any(String) });
    expect(cause.counts.contacts).toEqual({ created: 2, updated: 1, deleted: 2, archived: 0 });
    expect(cause.changeSets).toBe(4);
  });

  it('names a restore job, a rollback and a merge as causes of their own', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    await ws.api('DELETE', `/contacts/${a.id}`);
    const job = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [a.id] });
    await app.runJobs(ws.id);
    await ws.api('POST', '/contacts/merge', { survivorId: b.id, mergedIds: [c.id] });
    const merged = (await ws.api('GET', '/audit-log?action=contact.merged')).body.data[0];

    const byKind = new Map((await changes(ws)).map((x) => [x.cause.kind, x]));
    expect(byKind.get('restore')).toMatchObject({ cause: { kind: 'restore', id: job.body.id }, counts: { contacts: { restored: 1 } } });
    expect(byKind.get('merge')).toMatchObject({ cause: { kind: 'merge', id: merged.id, actorId: ws.adminId }, counts: { contacts: { merged: 1 } } });
  });

  it('splits one user’s work into bursts where it paused ten minutes, newest first', async () => {
    const ws = await aWorkspace(app);
    const first = await aContact(ws);
    app.clock.advance(5 * 60);
    await ws.api('PATCH', `/contacts/${first.id}`, { firstName: 'Five minutes on' });
    app.clock.advance(30 * 60);
    await aContact(ws);

    const list = await changes(ws, '?kind=user');
    expect(list.map((x) => x.counts.contacts)).toEqual([
      { created: 1, updated: 0, deleted: 0, archived: 0 },
      { created: 1, updated: 1, deleted: 0, archived: 0 },
    ]);
    // The test clock runs on with real time too: five minutes and the test's own milliseconds.
    expect(Date.parse(list[1].to) - Date.parse(list[1].from)).toBeGreaterThanOrEqual(5 * 60 * 1000);
    expect(Date.parse(list[1].to) - Date.parse(list[1].from)).toBeLessThan(6 * 60 * 1000);
  });

  it('pages causes newest first with a cursor, and filters them by kind and actor', async () => {
    const ws = await aWorkspace(app);
    const other = await ws.userWithRole('manager');
    await aContact(ws);
    app.clock.advance(60 * 60);
    await other.api('POST', '/contacts', { email: `m${Date.now()}@example.com` });
    app.clock.advance(60 * 60);
    await aContact(ws);

    const first = await ws.api('GET', '/changes?kind=user&limit=2');
    expect(first.body.data.map((x: any) => x.cause.id)).toEqual([ws.adminId, other.id]);
    const second = await ws.api('GET', `/changes?kind=user&limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body).toMatchObject({ data: [{ cause: { id: ws.adminId } }], nextCursor: null });
    expect((await changes(ws, `?actorId=${other.id}`)).map((x) => x.cause.id)).toEqual([other.id]);
    expect(await changes(ws, '?kind=restore')).toEqual([]);
  });

  it('gives a write made with SQL outside the application the cause sql', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    await sql`UPDATE contacts SET first_name = 'By hand' WHERE workspace_id = ${ws.id} AND id = ${c.id}`.execute(app.ctx.db);
    const list = await changes(ws);
    expect(list.find((x) => x.cause.kind === 'sql')).toMatchObject({ cause: { kind: 'sql', id: null }, counts: { contacts: { updated: 1 } } });
  });

  it('shows nothing of another workspace, and needs audit.read', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    await aContact(other);
    // Its own creation is its one change so far: made by the system (the operator's request).
    expect((await changes(ws)).map((x) => x.cause)).toEqual([{ kind: 'system', id: null }]);
    const manager = await ws.userWithRole('manager');
    expect((await manager.api('GET', '/changes')).body.error).toMatchObject({ code: 'forbidden', details: { permission: 'audit.read' } });
    expect((await ws.api('GET', '/changes/activity')).status).toBe(200);
    expect((await manager.api('GET', '/changes/activity')).status).toBe(403);
  });

  it('refuses a range that ends before it starts, an unknown kind and a cursor it did not issue', async () => {
    const ws = await aWorkspace(app);
    for (const query of ['?from=2026-12-02&to=2026-12-01', '?kind=robot', '?cursor=bm9wZQ', '?importId=a&automationId=b']) {
      const res = await ws.api('GET', `/changes${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });
});

describe('GET /changes/activity', () => {
  it('counts records created, updated and deleted in each bucket, every bucket of the range present', async () => {
    const ws = await aWorkspace(app);
    const start = new Date(Math.floor(app.clock.now().getTime() / 3_600_000) * 3_600_000 + 3_600_000);
    app.clock.advance((start.getTime() - app.clock.now().getTime()) / 1000 + 60);
    const a = await aContact(ws);
    const b = await aContact(ws);
    app.clock.advance(2 * 3600);
    await ws.api('PATCH', `/contacts/${a.id}`, { lastName: 'Later' });
    await ws.api('POST', `/contacts/${b.id}/archive`);

    const to = new Date(start.getTime() + 3 * 3_600_000 - 1).toISOString();
    const res = await ws.api('GET', `/changes/activity?from=${start.toISOString()}&to=${to}&bucket=hour`);
    expect(res.body.buckets).toEqual([
      { at: start.toISOString(), created: 2, updated: 0, deleted: 0 },
      { at: new Date(start.getTime() + 3_600_000).toISOString(), created: 0, updated: 0, deleted: 0 },
      { at: new Date(start.getTime() + 2 * 3_600_000).toISOString(), created: 0, updated: 1, deleted: 1 },
    ]);
  });

  it('refuses more than 10,000 buckets', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('GET', '/changes/activity?from=2026-01-01&to=2026-12-31&bucket=minute');
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues[0].path).toEqual(['bucket']);
  });
});
