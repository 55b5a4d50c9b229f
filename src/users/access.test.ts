import { beforeAll, describe, expect, it } from 'vitest';
import { permissions } from './permissions.js';
import { deactivateUser } from './service.js';
import { aContact, aWorkspace, call, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const aPoint = () => {
  const at = app.clock.now().toISOString();
  app.clock.advance(1);
  return at;
};

const requestFullRollback = async (ws: TestWorkspace, as: { api: TestWorkspace['api'] } = ws) => {
  const res = await as.api('POST', '/rollbacks', { at: aPoint(), scope: { type: 'workspace' } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.body.status).toBe('awaiting_approval');
  return res.body.id as string;
};

const tokenCaller = (secret: string) => ({ api: (m: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', u: string, b?: unknown) => call(app.server, secret, m, u, b) });

describe('deactivating a user', () => {
  it('makes their token and the integration tokens they created answer 401, keeps their history theirs, and shows deactivatedAt', async () => {
    const ws = await aWorkspace(app);
    const manager = await ws.userWithRole('manager');
    const contact = await aContact(ws);
    await manager.api('PATCH', `/contacts/${contact.id}`, { firstName: 'Edited' });
    await manager.api('DELETE', `/contacts/${contact.id}`);
    const admin2 = await ws.userWithRole('admin');
    const integration = (await admin2.api('POST', '/tokens', { name: 'Made by admin2', role: 'member' })).body;

    const res = await ws.api('POST', `/users/${manager.id}/deactivate`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: manager.id, role: 'manager', deactivatedAt: expect.any(String) });
    const denied = await manager.api('GET', '/contacts');
    expect(denied.status).toBe(401);
    expect(denied.body.error.code).toBe('unauthenticated');
    expect((await ws.api('GET', `/contacts/${contact.id}`)).body.deletedBy).toBe(manager.id);
    const history = (await ws.api('GET', `/contacts/${contact.id}/history`)).body;
    expect(history.data.map((v: any) => v.actorId)).toEqual([ws.adminId, manager.id, manager.id]);
    const users = (await ws.api('GET', '/users')).body.data;
    expect(users.find((u: any) => u.id === manager.id).deactivatedAt).toBe(res.body.deactivatedAt);
    expect(users.find((u: any) => u.id === ws.adminId).deactivatedAt).toBeNull();

    expect((await ws.api('POST', `/users/${admin2.id}/deactivate`)).status).toBe(200);
    expect((await call(app.server, integration.secret, 'GET', '/contacts')).status).toBe(401);
    expect((await ws.api('GET', '/tokens')).body.data.map((t: any) => [t.id, typeof t.revokedAt])).toEqual([[integration.token.id, 'string']]);
    const audit = (await ws.api('GET', '/audit-log?action=user.deactivated')).body.data;
    expect(audit.map((e: any) => [e.targetId, e.details])).toEqual([
      [admin2.id, { tokensRevoked: 2 }],
      [manager.id, { tokensRevoked: 1 }],
    ]);
  });

  it('refuses deactivating yourself with 409 cannot_deactivate_self', async () => {
    const ws = await aWorkspace(app);
    await ws.userWithRole('admin');
    const self = await ws.api('POST', `/users/${ws.adminId}/deactivate`);
    expect(self.status).toBe(409);
    expect(self.body.error.code).toBe('cannot_deactivate_self');
    expect((await ws.api('GET', '/me')).status).toBe(200);
  });

  it('never deactivates the last active admin (409 last_admin), as when two admins deactivate each other at once', async () => {
    const ws = await aWorkspace(app);
    const second = await ws.userWithRole('admin');
    expect((await second.api('POST', `/users/${ws.adminId}/deactivate`)).status).toBe(200);
    // The other admin's request, authorised before the first committed, reaches the service after it.
    const change = { workspaceId: ws.id, actorId: ws.adminId, tokenId: ws.adminTokenId, origin: 'user' as const, at: app.clock.now() };
    const admin = { ownerId: ws.adminId, roleName: 'admin', permissions: new Set(permissions) };
    await expect(deactivateUser(app.ctx.db, change, admin, second.id)).rejects.toMatchObject({ status: 409, code: 'last_admin' });
    expect((await second.api('GET', '/me')).status).toBe(200);
  });

  it('refuses a second deactivation (409), another workspace’s user (404), and a deactivation by one who could not grant that role (403)', async () => {
    const [ws, other] = [await aWorkspace(app), await aWorkspace(app)];
    const member = await ws.userWithRole('member');
    expect((await ws.api('POST', `/users/${member.id}/deactivate`)).status).toBe(200);
    const again = await ws.api('POST', `/users/${member.id}/deactivate`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('invalid_state');
    expect((await other.api('POST', `/users/${ws.adminId}/deactivate`)).status).toBe(404);
    await ws.api('POST', '/roles', { name: 'people', permissions: ['users.manage'] });
    const people = await ws.userWithRole('people');
    const manager = await ws.userWithRole('manager');
    const refused = await people.api('POST', `/users/${manager.id}/deactivate`);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'permission_not_held', details: { permissions: ['contacts.read', 'contacts.write', 'contacts.delete', 'contacts.archive', 'contacts.merge'] } });
    expect((await manager.api('GET', '/contacts')).status).toBe(200);
  });

  it('no longer tells a deactivated admin of events', async () => {
    const ws = await aWorkspace(app);
    const [second, third] = [await ws.userWithRole('admin'), await ws.userWithRole('admin')];
    await ws.api('POST', `/users/${third.id}/deactivate`);
    const gone = await aContact(ws);
    await ws.api('DELETE', `/contacts/${gone.id}`);
    await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [gone.id] });
    await app.runJobs(ws.id);
    const emails = (await ws.api('GET', '/notification-emails')).body.data.filter((e: any) => e.event === 'restore_job.finished');
    expect(emails.map((e: any) => e.userId).sort()).toEqual([ws.adminId, second.id].sort());
  });

  it('a deactivated admin cannot approve a full rollback', async () => {
    const ws = await aWorkspace(app);
    const second = await ws.userWithRole('admin');
    const third = await ws.userWithRole('admin');
    const id = await requestFullRollback(ws);
    expect((await third.api('POST', `/users/${second.id}/deactivate`)).status).toBe(200);
    const res = await second.api('POST', `/rollbacks/${id}/approve`);
    expect(res.status).toBe(401);
    expect((await ws.api('GET', `/rollbacks/${id}`)).body.status).toBe('awaiting_approval');
  });
});

describe('privilege escalation: a caller grants only what they hold', () => {
  const withUsersManageOnly = async (ws: TestWorkspace) => {
    await ws.api('POST', '/roles', { name: 'people', permissions: ['users.manage', 'contacts.read'] });
    return ws.userWithRole('people');
  };

  it('a users.manage holder cannot create an admin (403 admin_required), nor a user of a role beyond theirs (403 permission_not_held)', async () => {
    const ws = await aWorkspace(app);
    const people = await withUsersManageOnly(ws);
    const admin = await people.api('POST', '/users', { email: 'boss@example.com', role: 'admin' });
    expect(admin.status).toBe(403);
    expect(admin.body.error).toEqual({ code: 'admin_required', message: 'Only an admin can make an admin', details: { role: 'admin' } });
    const member = await people.api('POST', '/users', { email: 'm@example.com', role: 'member' });
    expect(member.status).toBe(403);
    expect(member.body.error).toMatchObject({ code: 'permission_not_held', details: { permissions: ['contacts.write'] } });
    expect((await ws.api('GET', '/users')).body.data).toHaveLength(2);
    await ws.api('POST', '/roles', { name: 'readers', permissions: ['contacts.read'] });
    expect((await people.api('POST', '/users', { email: 'r@example.com', role: 'readers' })).status).toBe(201);
  });

  it('a role whose permissions the caller does not all hold is refused, changing nothing', async () => {
    const ws = await aWorkspace(app);
    const people = await withUsersManageOnly(ws);
    const res = await people.api('POST', '/roles', { name: 'almighty', permissions: ['contacts.read', 'rollbacks.approve', 'contacts.erase'] });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'permission_not_held', details: { permissions: ['contacts.erase', 'rollbacks.approve'] } });
    expect((await ws.api('GET', '/roles')).body.data.map((r: any) => r.name)).toEqual(['admin', 'manager', 'member', 'people']);
    expect((await people.api('POST', '/roles', { name: 'readers', permissions: ['contacts.read'] })).status).toBe(201);
  });

  it('an integration token gets only a role its creator could grant', async () => {
    const ws = await aWorkspace(app);
    const people = await withUsersManageOnly(ws);
    const admin = await people.api('POST', '/tokens', { name: 'root', role: 'admin' });
    expect(admin.status).toBe(403);
    expect(admin.body.error.code).toBe('admin_required');
    const manager = await people.api('POST', '/tokens', { name: 'mgr', role: 'manager' });
    expect(manager.status).toBe(403);
    expect(manager.body.error.code).toBe('permission_not_held');
    expect((await ws.api('GET', '/tokens')).body.data).toEqual([]);
  });

  it('even a custom role holding every permission cannot make an admin; an admin can', async () => {
    const ws = await aWorkspace(app);
    const every = (await ws.api('GET', '/roles')).body.data[0].permissions;
    await ws.api('POST', '/roles', { name: 'everything', permissions: every });
    const almost = await ws.userWithRole('everything');
    expect((await almost.api('POST', '/users', { email: 'a@example.com', role: 'admin' })).body.error.code).toBe('admin_required');
    expect((await almost.api('POST', '/users', { email: 'a@example.com', role: 'manager' })).status).toBe(201);
    expect((await ws.api('POST', '/users', { email: 'b@example.com', role: 'admin' })).status).toBe(201);
  });
});

/** A second admin, and a full rollback requested through an admin-role token the first admin made. */
async function aRollbackRequestedByToken() {
  const ws = await aWorkspace(app);
  const other = await ws.userWithRole('admin');
  const requester = (await ws.api('POST', '/tokens', { name: 'requester', role: 'admin' })).body;
  app.clock.advance(1);
  const id = await requestFullRollback(ws, tokenCaller(requester.secret));
  return { ws, other, requester, id };
}

describe('four eyes: who may approve a full rollback', () => {
  it('refuses an admin created after the request (approver_newer_than_request)', async () => {
    const ws = await aWorkspace(app);
    const id = await requestFullRollback(ws);
    app.clock.advance(1);
    const newcomer = await ws.userWithRole('admin');
    const res = await newcomer.api('POST', `/rollbacks/${id}/approve`);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'four_eyes_required', details: { reason: 'approver_newer_than_request', requestedBy: ws.adminId } });
    expect((await ws.api('GET', `/rollbacks/${id}`)).body.status).toBe('awaiting_approval');
  });

  it('refuses a token the requester created, even one made before the request (same_person)', async () => {
    const ws = await aWorkspace(app);
    const own = (await ws.api('POST', '/tokens', { name: 'my approver', role: 'admin' })).body;
    app.clock.advance(1);
    const id = await requestFullRollback(ws);
    const res = await tokenCaller(own.secret).api('POST', `/rollbacks/${id}/approve`);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'four_eyes_required', details: { reason: 'same_person' } });
  });

  it('refuses the creator of the integration token that requested it (same_person), and an integration token created after the request', async () => {
    const { ws, other, requester, id } = await aRollbackRequestedByToken();
    const byCreator = await ws.api('POST', `/rollbacks/${id}/approve`);
    expect(byCreator.body.error).toMatchObject({ code: 'four_eyes_required', details: { reason: 'same_person', requestedBy: requester.token.id } });
    app.clock.advance(1);
    const late = (await other.api('POST', '/tokens', { name: 'late approver', role: 'admin' })).body;
    const byLateToken = await tokenCaller(late.secret).api('POST', `/rollbacks/${id}/approve`);
    expect(byLateToken.status).toBe(403);
    expect(byLateToken.body.error).toMatchObject({ code: 'four_eyes_required', details: { reason: 'approver_newer_than_request' } });
    const approved = await other.api('POST', `/rollbacks/${id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'queued', approvedBy: other.id });
  });

  it('refuses to approve a rollback whose requesting token was revoked since (409), leaving it awaiting', async () => {
    const { ws, other, requester, id } = await aRollbackRequestedByToken();
    await ws.api('DELETE', `/tokens/${requester.token.id}`);
    const res = await other.api('POST', `/rollbacks/${id}/approve`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('invalid_state');
    expect((await other.api('POST', `/rollbacks/${id}/reject`)).status).toBe(200);
  });
});
