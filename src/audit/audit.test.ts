import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

describe('the audit log', () => {
  it('records every change, newest first, chained by hash', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    await ws.api('DELETE', `/contacts/${c.id}`);
    const res = await ws.api('GET', '/audit-log');
    expect(res.status).toBe(200);
    expect(res.body.data.map((e: any) => [e.action, e.targetType, e.actorId])).toEqual([
      ['contact.deleted', 'contact', ws.adminId],
      ['contact.created', 'contact', ws.adminId],
      ['user.created', 'user', null],
      ['workspace.created', 'workspace', null],
    ]);
    const [deleted, created] = res.body.data;
    expect(deleted).toEqual({
      id: deleted.id,
      at: deleted.at,
      actorId: ws.adminId,
      action: 'contact.deleted',
      targetType: 'contact',
      targetId: c.id,
      details: {},
      hash: deleted.hash,
      prevHash: created.hash,
    });
    expect(deleted.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(res.body.data.at(-1).prevHash).toBeNull();
  });

  it('records role and user creation with their details', async () => {
    const ws = await aWorkspace(app);
    const role = (await ws.api('POST', '/roles', { name: 'reader', permissions: ['contacts.read'] })).body;
    const user = await ws.userWithRole('reader');
    const entries = (await ws.api('GET', '/audit-log?limit=2')).body.data;
    expect(entries.map((e: any) => [e.action, e.targetId, e.details])).toEqual([
      ['user.created', user.id, { role: 'reader' }],
      ['role.created', role.id, { name: 'reader', permissions: ['contacts.read'] }],
    ]);
  });

  it('filters by action, actor, target and time', async () => {
    const ws = await aWorkspace(app);
    const member = await ws.userWithRole('member');
    app.clock.advance(3600);
    const a = await aContact(ws);
    app.clock.advance(3600);
    const b = (await member.api('POST', '/contacts', { email: 'b@example.com' })).body;
    await member.api('PATCH', `/contacts/${b.id}`, { firstName: 'Bee' });
    const ids = async (query: string) => (await ws.api('GET', `/audit-log?${query}`)).body.data.map((e: any) => `${e.action}:${e.targetId}`);
    expect(await ids('action=contact.created')).toEqual([`contact.created:${b.id}`, `contact.created:${a.id}`]);
    expect(await ids(`actorId=${member.id}`)).toEqual([`contact.updated:${b.id}`, `contact.created:${b.id}`]);
    expect(await ids(`targetId=${a.id}`)).toEqual([`contact.created:${a.id}`]);
    // Half an hour either side of a's entry: an hour of test clock separates each step.
    const aAt = Date.parse((await ws.api('GET', `/audit-log?targetId=${a.id}`)).body.data[0].at);
    const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
    expect(await ids(`from=${iso(aAt + 1800_000)}`)).toEqual([`contact.updated:${b.id}`, `contact.created:${b.id}`]);
    expect(await ids(`from=${iso(aAt - 1800_000)}&to=${iso(aAt + 1800_000)}`)).toEqual([`contact.created:${a.id}`]);
    expect(await ids(`from=${iso(aAt)}&to=${iso(aAt)}`)).toEqual([`contact.created:${a.id}`]);
    expect(await ids('action=contact.merged')).toEqual([]);
  });

  it('pages with limit and cursor', async () => {
    const ws = await aWorkspace(app);
    await aContact(ws);
    await aContact(ws);
    const all = (await ws.api('GET', '/audit-log')).body.data.map((e: any) => e.id);
    expect(all).toHaveLength(4);
    const first = await ws.api('GET', '/audit-log?limit=3');
    const second = await ws.api('GET', `/audit-log?limit=3&cursor=${first.body.nextCursor}`);
    expect([...first.body.data, ...second.body.data].map((e: any) => e.id)).toEqual(all);
    expect(second.body.nextCursor).toBeNull();
  });

  it('refuses malformed filters with 400', async () => {
    const ws = await aWorkspace(app);
    for (const query of ['from=yesterday', 'to=2026-13-01', 'limit=0', 'cursor=%%%']) {
      const res = await ws.api('GET', `/audit-log?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });
});

describe('verifying the audit chain', () => {
  it('answers ok with the number of entries', async () => {
    const ws = await aWorkspace(app);
    await aContact(ws);
    const res = await ws.api('GET', '/audit-log/verify');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, entries: 3 });
  });

  it('stays whole when many changes are made at the same time', async () => {
    const ws = await aWorkspace(app);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => ws.api('POST', '/contacts', { email: `c${i}@example.com` })));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    expect((await ws.api('GET', '/audit-log/verify')).body).toEqual({ ok: true, entries: 10 });
  });

  it('finds a row changed by raw SQL and names it in brokenAt', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const c = await aContact(ws);
    await ws.api('DELETE', `/contacts/${c.id}`);
    const created = (await ws.api('GET', '/audit-log?action=contact.created')).body.data[0];
    await sql`UPDATE audit_log SET actor_id = NULL WHERE workspace_id = ${ws.id} AND id = ${Number(created.id)}`.execute(app.ctx.db);
    const res = await ws.api('GET', '/audit-log/verify');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: false, brokenAt: created.id });
    expect((await other.api('GET', '/audit-log/verify')).body).toEqual({ ok: true, entries: 2 });
  });

  it('finds a deleted row: the next one no longer links to its predecessor', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    await ws.api('DELETE', `/contacts/${c.id}`);
    const [deleted, created] = (await ws.api('GET', '/audit-log?limit=2')).body.data;
    await sql`DELETE FROM audit_log WHERE workspace_id = ${ws.id} AND id = ${Number(created.id)}`.execute(app.ctx.db);
    expect((await ws.api('GET', '/audit-log/verify')).body).toMatchObject({ ok: false, brokenAt: deleted.id });
  });
});
