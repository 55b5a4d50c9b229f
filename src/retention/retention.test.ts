import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const day = 86_400;

async function historyRowsOf(workspaceId: string, contactId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM history WHERE workspace_id = ${workspaceId} AND contact_id = ${contactId}`.execute(app.ctx.db);
  return rows[0].n;
}

describe('retention', () => {
  it('keeps a deleted contact on day 29 and purges it for good on day 31, history included', async () => {
    const ws = await aWorkspace(app);
    const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
    const c = await aContact(ws, { email: 'gone@example.com' });
    await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'subscribed' });
    await ws.api('DELETE', `/contacts/${c.id}`);

    app.clock.advance(29 * day);
    expect((await ws.api('POST', '/maintenance/run')).body.ran.purge).toBe(0);
    expect((await ws.api('GET', `/contacts/${c.id}`)).body.status).toBe('deleted');

    app.clock.advance(2 * day);
    expect((await ws.api('POST', '/maintenance/run')).body.ran.purge).toBe(1);
    expect((await ws.api('GET', `/contacts/${c.id}`)).status).toBe(404);
    expect((await ws.api('GET', `/contacts/${c.id}/history`)).status).toBe(404);
    expect(await historyRowsOf(ws.id, c.id)).toBe(0);
  });

  it('records the purge in the audit log without the person’s data, and the chain still verifies', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws, { email: 'private.person@example.com', firstName: 'Private' });
    await ws.api('DELETE', `/contacts/${c.id}`);
    app.clock.advance(31 * day);
    await ws.api('POST', '/maintenance/run');
    const entries = (await ws.api('GET', `/audit-log?action=contact.purged&targetId=${c.id}`)).body.data;
    expect(entries).toHaveLength(1);
    expect(JSON.stringify(entries)).not.toContain('private.person');
    expect((await ws.api('GET', '/audit-log/verify')).body).toMatchObject({ ok: true });
  });

  it('keeps an archived contact for 364 days and purges it after 365', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    await ws.api('POST', `/contacts/${c.id}/archive`);
    app.clock.advance(364 * day);
    await ws.api('POST', '/maintenance/run');
    expect((await ws.api('GET', `/contacts/${c.id}`)).body.status).toBe('archived');
    app.clock.advance(day);
    await ws.api('POST', '/maintenance/run');
    expect((await ws.api('GET', `/contacts/${c.id}`)).status).toBe(404);
  });

  it('answers a restore of a purged contact with the skip reason purged', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    await ws.api('DELETE', `/contacts/${c.id}`);
    app.clock.advance(31 * day);
    await ws.api('POST', '/maintenance/run');
    const job = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [c.id] });
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/restore-jobs/${job.body.id}`)).body).toMatchObject({ restored: 0, skipped: [{ contactId: c.id, reason: 'purged' }] });
  });
});
