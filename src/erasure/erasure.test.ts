import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

describe('erasure', () => {
  it('removes the person from live data and history at once, and answers 404 afterwards', async () => {
    const ws = await aWorkspace(app);
    const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
    const c = await aContact(ws, { email: 'erase.me@example.com' });
    await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'subscribed' });
    await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'Changed' });

    const res = await ws.api('POST', `/contacts/${c.id}/erase`);
    expect(res).toMatchObject({ status: 200, body: { id: c.id, erased: true } });
    expect((await ws.api('GET', `/contacts/${c.id}`)).status).toBe(404);
    expect((await ws.api('GET', `/contacts/${c.id}/history`)).status).toBe(404);
    expect((await ws.api('GET', `/lists/${list.id}`)).body.memberCount).toBe(0);
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM history WHERE workspace_id = ${ws.id} AND (contact_id = ${c.id} OR before::text LIKE '%erase.me%' OR after::text LIKE '%erase.me%')`.execute(app.ctx.db);
    expect(rows[0].n).toBe(0);
    // Nor is it in the contacts' search text (migration 093).
    const { rows: searchable } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM contact_search WHERE workspace_id = ${ws.id} AND (contact_id = ${c.id} OR search_text LIKE '%erase.me%')`.execute(app.ctx.db);
    expect(searchable[0].n).toBe(0);
  });

  it('passes an erased contact’s primary role on to the deal’s next contact, and deletes a deal it was alone on', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const other = await aContact(ws);
    const shared = (await ws.api('POST', '/deals', { title: 'Shared', contactIds: [c.id, other.id], primaryContactId: c.id })).body;
    const sole = (await ws.api('POST', '/deals', { title: 'Sole', contactIds: [c.id] })).body;
    expect((await ws.api('POST', `/contacts/${c.id}/erase`)).status).toBe(200);
    expect((await ws.api('GET', `/deals/${shared.id}`)).body).toMatchObject({ contactIds: [other.id], primaryContactId: other.id });
    expect((await ws.api('GET', `/deals/${sole.id}`)).body).toMatchObject({ contactIds: [], primaryContactId: null, deletedAt: expect.any(String) });
    const audit = (await ws.api('GET', `/audit-log?targetId=${sole.id}`)).body.data;
    expect(audit.map((e: { action: string; details: unknown }) => [e.action, e.details])).toEqual([['deal.deleted', { reason: 'last_contact_erased' }], ['deal.created', expect.any(Object)]]);
  });

  it('erases deleted contacts too, keeps no trace of the email in the audit log, and the chain still verifies', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws, { email: 'deleted.person@example.com' });
    await ws.api('DELETE', `/contacts/${c.id}`);
    expect((await ws.api('POST', `/contacts/${c.id}/erase`)).status).toBe(200);
    const audit = (await ws.api('GET', '/audit-log?limit=500')).body.data;
    expect(audit.filter((e: { action: string }) => e.action === 'contact.erased').map((e: { targetId: string }) => e.targetId)).toEqual([c.id]);
    expect(JSON.stringify(audit)).not.toContain('deleted.person');
    expect((await ws.api('GET', '/audit-log/verify')).body).toMatchObject({ ok: true });
    expect((await ws.api('GET', '/deleted-contacts')).body.data).toEqual([]);
  });

  it('is refused to managers with 403 contacts.erase and changes nothing', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const manager = await ws.userWithRole('manager');
    const res = await manager.api('POST', `/contacts/${c.id}/erase`);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'contacts.erase' } });
    expect((await ws.api('GET', `/contacts/${c.id}`)).body.status).toBe('active');
  });

  it('answers 404 for another workspace’s contact and leaves it in place', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const c = await aContact(ws);
    expect((await other.api('POST', `/contacts/${c.id}/erase`)).status).toBe(404);
    expect((await ws.api('GET', `/contacts/${c.id}`)).body.status).toBe('active');
  });
});
