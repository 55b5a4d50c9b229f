import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

interface HistoryRow {
  table_name: string;
  op: string;
  actor_id: string | null;
  origin: string;
  at: Date;
  txid: number;
}

async function historyOf(workspaceId: string, contactId: string): Promise<HistoryRow[]> {
  const { rows } = await sql<HistoryRow>`
    SELECT table_name, op, actor_id, origin, at, txid FROM history
    WHERE workspace_id = ${workspaceId} AND contact_id = ${contactId} ORDER BY version`.execute(app.ctx.db);
  return rows;
}

describe('history of contacts', () => {
  it('keeps a version for the insert, each update and the delete, with actor, origin and the injected time', async () => {
    const ws = await aWorkspace(app);
    // A year ahead: the database's own clock could not have written these times.
    const created = app.clock.advance(365 * 86_400);
    const c = await aContact(ws, { email: 'h@example.com', firstName: 'Hal' });
    app.clock.advance(60);
    await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'Hank' });
    app.clock.advance(60);
    const deleted = (await ws.api('DELETE', `/contacts/${c.id}`)).body;
    const res = await ws.api('GET', `/contacts/${c.id}/history`);
    expect(res.status).toBe(200);
    expect(res.body.nextCursor).toBeNull();
    const versions = res.body.data;
    expect(versions.map((v: any) => [v.op, v.entity, v.actorId, v.origin])).toEqual([
      ['insert', 'contact', ws.adminId, 'user'],
      ['update', 'contact', ws.adminId, 'user'],
      ['update', 'contact', ws.adminId, 'user'],
    ]);
    expect(versions[0].at).toBe(c.createdAt);
    expect(Math.abs(Date.parse(versions[0].at) - created.getTime())).toBeLessThan(5_000);
    expect(versions[1].changes).toEqual({ firstName: { from: 'Hal', to: 'Hank' }, updatedAt: versions[1].changes.updatedAt });
    expect(versions[2].at).toBe(deleted.deletedAt);
    expect(versions[2].changes.status).toEqual({ from: 'active', to: 'deleted' });
    expect(versions[2].changes.deletedBy).toEqual({ from: null, to: ws.adminId });
    // Times in a change read as every time of the API does: UTC, `…Z`.
    expect(versions[2].changes.deletedAt).toEqual({ from: null, to: deleted.deletedAt });
  });

  it('shows a time column in UTC as …Z, and text that only looks like a time as it was written', async () => {
    const ws = await aWorkspace(app);
    const c = (await ws.api('POST', '/contacts', { email: 'looks@example.com', phone: '2026-13-01T00:00:00+00:00' })).body;
    await ws.api('PATCH', `/contacts/${c.id}`, { phone: '2026-02-30T10:00:00+00:00' });
    const versions = (await ws.api('GET', `/contacts/${c.id}/history`)).body.data;
    expect(versions[1].changes.phone).toEqual({ from: '2026-13-01T00:00:00+00:00', to: '2026-02-30T10:00:00+00:00' });
    expect(versions[1].changes.updatedAt.to).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('captures inserts, updates and deletes of every association, with a merge that removes them in one transaction', async () => {
    const ws = await aWorkspace(app);
    const injected = app.clock.advance(2 * 365 * 86_400);
    const c = await aContact(ws);
    const other = await aContact(ws);
    const list = (await ws.api('POST', '/lists', { name: 'L' })).body;
    const account = (await ws.api('POST', '/accounts', { name: 'A' })).body;
    const tag = (await ws.api('POST', '/tags', { name: 'T' })).body;
    const tag2 = (await ws.api('POST', '/tags', { name: 'T2' })).body;
    await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'subscribed' });
    await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'unsubscribed' });
    await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, { jobTitle: 'CTO' });
    await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, { jobTitle: 'CEO' });
    await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: tag.id });
    await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: tag2.id });
    await ws.api('DELETE', `/contacts/${c.id}/tags/${tag2.id}`);
    await ws.api('POST', '/deals', { title: 'D', contactIds: [c.id, other.id] });
    expect((await ws.api('POST', '/contacts/merge', { survivorId: other.id, mergedIds: [c.id] })).status).toBe(200);
    const rows = await historyOf(ws.id, c.id);
    expect(rows.map((r) => `${r.table_name}:${r.op}`)).toEqual([
      'contacts:insert',
      'list_memberships:insert',
      'list_memberships:update',
      'account_contacts:insert',
      'account_contacts:update',
      'contact_tags:insert',
      'contact_tags:insert',
      'contact_tags:delete',
      'deal_contacts:insert',
      'contacts:update',
      'list_memberships:delete',
      'account_contacts:delete',
      'contact_tags:delete',
      'deal_contacts:delete',
    ]);
    expect(rows.every((r) => r.actor_id === ws.adminId && r.origin === 'user')).toBe(true);
    expect(rows.every((r) => Math.abs(r.at.getTime() - injected.getTime()) < 60_000)).toBe(true);
    const merge = rows.slice(9);
    expect(new Set(merge.map((r) => r.txid)).size).toBe(1);
    expect(new Set(merge.map((r) => r.at.toISOString())).size).toBe(1);
    expect(merge[0].txid).not.toBe(rows[8].txid);
    const versions = (await ws.api('GET', `/contacts/${c.id}/history`)).body.data;
    expect(versions.slice(0, 5).map((v: { entity: string; ref: Record<string, string>; changes: Record<string, unknown> }) => [v.entity, v.ref, Object.keys(v.changes).sort()])).toEqual([
      ['contact', {}, expect.any(Array)],
      ['list_membership', { listId: list.id }, ['contactId', 'createdAt', 'listId', 'status', 'updatedAt']],
      ['list_membership', { listId: list.id }, ['status', 'updatedAt']],
      ['account_contact', { accountId: account.id }, ['accountId', 'contactId', 'createdAt', 'jobTitle']],
      ['account_contact', { accountId: account.id }, ['jobTitle']],
    ]);
  });

  it('captures a change made with raw SQL outside the app as origin sql with no actor', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws, { firstName: 'Before' });
    await sql`UPDATE contacts SET first_name = 'After' WHERE workspace_id = ${ws.id} AND id = ${c.id}`.execute(app.ctx.db);
    const versions = (await ws.api('GET', `/contacts/${c.id}/history`)).body.data;
    expect(versions).toHaveLength(2);
    expect(versions[1]).toMatchObject({ op: 'update', entity: 'contact', actorId: null, origin: 'sql', changes: { firstName: { from: 'Before', to: 'After' } } });
    expect(Object.keys(versions[1].changes)).toEqual(['firstName']);
  });

  it('captures a hard delete made with raw SQL, keeping the row as it was', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws, { email: 'gone@example.com' });
    await sql`DELETE FROM contacts WHERE workspace_id = ${ws.id} AND id = ${c.id}`.execute(app.ctx.db);
    expect((await ws.api('GET', `/contacts/${c.id}`)).status).toBe(404);
    const { rows } = await sql<{ op: string; actor_id: string | null; origin: string; before: { email: string }; after: unknown }>`
      SELECT op, actor_id, origin, before, after FROM history
      WHERE workspace_id = ${ws.id} AND contact_id = ${c.id} ORDER BY version`.execute(app.ctx.db);
    expect(rows.map((r) => [r.op, r.actor_id, r.origin])).toEqual([
      ['insert', ws.adminId, 'user'],
      ['delete', null, 'sql'],
    ]);
    expect(rows[1].before.email).toBe('gone@example.com');
    expect(rows[1].after).toBeNull();
  });

  it('is append-only: UPDATE and DELETE on either store of history raise and change nothing', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    for (const store of ['contact_history', 'history_entries']) {
      await expect(sql`UPDATE ${sql.table(store)} SET actor_id = 'forged' WHERE workspace_id = ${ws.id}`.execute(app.ctx.db)).rejects.toThrow(/append-only/);
      await expect(sql`DELETE FROM ${sql.table(store)} WHERE workspace_id = ${ws.id}`.execute(app.ctx.db)).rejects.toThrow(/append-only/);
    }
    const rows = await historyOf(ws.id, c.id);
    expect(rows.map((r) => [r.op, r.actor_id])).toEqual([['insert', ws.adminId]]);
  });

  it('keeps history out of other workspaces', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const c = await aContact(ws);
    expect((await other.api('GET', `/contacts/${c.id}/history`)).status).toBe(404);
  });
});
