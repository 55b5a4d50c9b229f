import { beforeAll, describe, expect, it } from 'vitest';
import { requesterRevoked } from '../jobs/service.js';
import { aContact, aWorkspace, call, postImportAs, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

/** An integration's token made by the workspace's admin: its view and a caller with its secret. */
async function anIntegration(ws: TestWorkspace, name: string, role: string) {
  const res = await ws.api('POST', '/tokens', { name, role });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const secret: string = res.body.secret;
  return { token: res.body.token, secret, api: (m: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', u: string, b?: unknown) => call(app.server, secret, m, u, b) };
}

describe('integration tokens', () => {
  it('creates a named token with a role, shows its secret once, and lists it without the secret', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/tokens', { name: 'Zapier sync', role: 'member' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      token: { id: expect.any(String), name: 'Zapier sync', role: 'member', createdAt: res.body.token.createdAt, createdBy: ws.adminId, lastUsedAt: null, revokedAt: null },
      secret: expect.stringMatching(new RegExp(`^rt\\.${ws.id}\\.`)),
    });
    expect(Math.abs(Date.parse(res.body.token.createdAt) - app.clock.now().getTime())).toBeLessThan(5_000);
    const listed = await ws.api('GET', '/tokens');
    expect(listed.body).toEqual({ data: [res.body.token], nextCursor: null });
    expect(JSON.stringify(listed.body)).not.toContain(res.body.secret);
    const audit = (await ws.api('GET', '/audit-log?action=token.created')).body.data;
    expect(audit.map((e: any) => [e.actorId, e.targetId, e.details])).toEqual([[ws.adminId, res.body.token.id, { name: 'Zapier sync', role: 'member' }]]);
  });

  it('acts with its own role, not its creator’s', async () => {
    const ws = await aWorkspace(app);
    const zap = await anIntegration(ws, 'Reader', 'member');
    expect((await zap.api('POST', '/contacts', { email: 'by-zap@example.com' })).status).toBe(201);
    const denied = await zap.api('GET', '/users');
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'users.manage' } });
    const me = (await zap.api('GET', '/me')).body;
    expect(me).toMatchObject({ user: { id: ws.adminId }, role: { name: 'member' }, permissions: ['contacts.read', 'contacts.write'] });
  });

  it('records its last use, at most once a minute', async () => {
    const ws = await aWorkspace(app);
    const zap = await anIntegration(ws, 'Sync', 'member');
    await zap.api('GET', '/contacts');
    const first = (await ws.api('GET', '/tokens')).body.data[0].lastUsedAt;
    expect(typeof first).toBe('string');
    app.clock.advance(30);
    await zap.api('GET', '/contacts');
    expect((await ws.api('GET', '/tokens')).body.data[0].lastUsedAt).toBe(first);
    app.clock.advance(31);
    await zap.api('GET', '/contacts');
    const later = (await ws.api('GET', '/tokens')).body.data[0].lastUsedAt;
    expect(Date.parse(later) - Date.parse(first)).toBeGreaterThanOrEqual(61_000);
  });

  it('once revoked answers 401 on its very next request, and is listed with revokedAt', async () => {
    const ws = await aWorkspace(app);
    const zap = await anIntegration(ws, 'Leaky', 'manager');
    expect((await zap.api('GET', '/contacts')).status).toBe(200);
    const revoked = await ws.api('DELETE', `/tokens/${zap.token.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: zap.token.id, revokedAt: expect.any(String) });
    for (const [method, url] of [['GET', '/contacts'], ['POST', '/contacts'], ['GET', '/me']] as const) {
      const res = await zap.api(method, url, method === 'POST' ? { email: 'x@example.com' } : undefined);
      expect(res.status, `${method} ${url}`).toBe(401);
      expect(res.body.error.code).toBe('unauthenticated');
    }
    expect((await ws.api('GET', '/tokens')).body.data.map((t: any) => [t.id, t.revokedAt])).toEqual([[zap.token.id, revoked.body.revokedAt]]);
    const again = await ws.api('DELETE', `/tokens/${zap.token.id}`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('invalid_state');
    // Its name is free again for a new token.
    expect((await ws.api('POST', '/tokens', { name: 'Leaky', role: 'member' })).status).toBe(201);
  });

  it('refuses a duplicate working name (409), an unknown role and bad fields (400), changing nothing', async () => {
    const ws = await aWorkspace(app);
    await anIntegration(ws, 'Sync', 'member');
    const dup = await ws.api('POST', '/tokens', { name: 'SYNC', role: 'member' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('invalid_state');
    for (const body of [{ name: 'X', role: 'owner' }, { name: '', role: 'member' }, { role: 'member' }, { name: 'X', role: 'member', secret: 'mine' }]) {
      const res = await ws.api('POST', '/tokens', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await ws.api('GET', '/tokens')).body.data).toHaveLength(1);
  });

  it('answers 404 for another workspace’s token and for a user’s own token id', async () => {
    const [ws, other] = [await aWorkspace(app), await aWorkspace(app)];
    const theirs = await anIntegration(other, 'Theirs', 'member');
    expect((await ws.api('DELETE', `/tokens/${theirs.token.id}`)).status).toBe(404);
    expect((await ws.api('DELETE', `/tokens/${ws.adminTokenId}`)).status).toBe(404);
    expect((await theirs.api('GET', '/contacts')).status).toBe(200);
  });
});

describe('changes through an integration token', () => {
  it('are listed as the integration’s cause with its token, and undone by it, keeping others’ work', async () => {
    const ws = await aWorkspace(app);
    const [a, b, kept] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const zap = await anIntegration(ws, 'Zapier sync', 'manager');
    app.clock.advance(60);
    const from = app.clock.now().toISOString();
    expect((await zap.api('POST', '/contacts/delete', { ids: [a.id, b.id] })).status).toBe(200);
    const to = app.clock.now().toISOString();
    app.clock.advance(60);
    await ws.api('DELETE', `/contacts/${kept.id}`);

    expect((await ws.api('GET', `/contacts/${a.id}`)).body.deletedBy).toBe(zap.token.id);
    const byToken = (await ws.api('GET', `/changes?tokenId=${zap.token.id}`)).body.data;
    expect(byToken.map((c: any) => [c.cause, c.counts.contacts])).toEqual([
      [{ kind: 'integration', id: zap.token.id, actorId: zap.token.id, tokenId: zap.token.id, name: 'Zapier sync' }, { created: 0, updated: 0, deleted: 2, archived: 0 }],
    ]);

    const res = await ws.api('POST', '/undos', { cause: { tokenId: zap.token.id, from, to } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/undos/${res.body.id}`)).body).toMatchObject({ status: 'succeeded', counts: { contacts: { revive: 2, revert: 0, remove: 0 } } });
    expect([(await ws.api('GET', `/contacts/${a.id}`)).body.status, (await ws.api('GET', `/contacts/${b.id}`)).body.status]).toEqual(['active', 'active']);
    expect((await ws.api('GET', `/contacts/${kept.id}`)).body.status).toBe('deleted');
  });

  it('of a user through their own token record that token, under the user’s cause', async () => {
    const ws = await aWorkspace(app);
    const manager = await ws.userWithRole('manager');
    await manager.api('POST', '/contacts', { email: 'm@example.com' });
    const [cause] = (await ws.api('GET', `/changes?tokenId=${manager.tokenId}`)).body.data;
    expect(cause.cause).toMatchObject({ kind: 'user', id: manager.id, actorId: manager.id, tokenId: manager.tokenId });
  });
});

/** A deleted contact, and a restore of it requested through an integration's token. */
async function aRestoreRequestedByToken() {
  const ws = await aWorkspace(app);
  const gone = await aContact(ws);
  await ws.api('DELETE', `/contacts/${gone.id}`);
  const zap = await anIntegration(ws, 'Restorer', 'admin');
  const job = await zap.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [gone.id] });
  return { ws, gone, zap, job };
}

describe('jobs queued through a token revoked before they start', () => {
  it('a restore job requested by a revoked token does not run: it fails saying why, and nothing is restored', async () => {
    const { ws, gone, zap, job } = await aRestoreRequestedByToken();
    expect(job.status).toBe(202);
    expect((await ws.api('DELETE', `/tokens/${zap.token.id}`)).status).toBe(200);
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/restore-jobs/${job.body.id}`)).body).toMatchObject({ status: 'failed', error: requesterRevoked, restored: 0 });
    expect((await ws.api('GET', `/contacts/${gone.id}`)).body.status).toBe('deleted');
    // The slot is free again: the admin can restore it themselves.
    expect((await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [gone.id] })).status).toBe(202);
  });

  it('an import queued by a user deactivated before it starts does not run', async () => {
    const ws = await aWorkspace(app);
    const importer = await ws.userWithRole('member');
    const queued = await postImportAs(app, importer.token, { csv: 'Email\na@import.test\n', mapping: { mode: 'create', columns: { Email: 'email' } } });
    expect(queued.status).toBe(202);
    expect((await ws.api('POST', `/users/${importer.id}/deactivate`)).status).toBe(200);
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/imports/${queued.body.id}`)).body).toMatchObject({ status: 'failed', created: 0 });
    expect((await ws.api('GET', '/contacts?q=a@import.test')).body.data).toEqual([]);
  });

  it('a job its token requested runs when the token still works', async () => {
    const { ws, gone, zap, job } = await aRestoreRequestedByToken();
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/restore-jobs/${job.body.id}`)).body).toMatchObject({ status: 'succeeded', restored: 1, createdBy: zap.token.id });
    expect((await ws.api('GET', `/contacts/${gone.id}`)).body.status).toBe('active');
  });
});
