import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

/**
 * Issue 19 point 3: PATCH /users/:id {role}, with the rules of granting (nobody gives or
 * takes away more than they hold, nobody changes their own role), audited; and four eyes
 * refusing an approver promoted after the rollback was requested.
 */
let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

/** What a refused request must leave as it was: the workspace's users with their roles, and its audit log. */
async function usersAndAudit(ws: TestWorkspace) {
  const { rows } = await sql<{ id: string; role_id: string; role_since: Date | null }>`
    SELECT id, role_id, role_since FROM users WHERE workspace_id = ${ws.id} ORDER BY id`.execute(app.ctx.db);
  const audit = await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
  return { rows, audit: audit.rows[0].n };
}

async function expectRefused(ws: TestWorkspace, request: () => Promise<{ status: number; body: any }>, status: number, code: string) {
  const before = await usersAndAudit(ws);
  const res = await request();
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(await usersAndAudit(ws)).toEqual(before);
  return res;
}

describe('changing a user’s role', () => {
  it('gives the user the new role at once, audited with the roles from and to', async () => {
    const ws = await aWorkspace(app);
    const member = await ws.userWithRole('member');
    expect((await member.api('DELETE', '/contacts/00000000-0000-0000-0000-000000000000')).status).toBe(403);

    const res = await ws.api('PATCH', `/users/${member.id}`, { role: 'Manager' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: member.id, role: 'manager', deactivatedAt: null });
    // The same token acts with the new role from the next request on.
    expect((await member.api('GET', '/me')).body.role.name).toBe('manager');
    expect((await member.api('DELETE', '/contacts/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    const audit = (await ws.api('GET', '/audit-log?action=user.role_changed')).body.data;
    expect(audit.map((e: any) => [e.actorId, e.targetId, e.details])).toEqual([[ws.adminId, member.id, { from: 'member', to: 'manager' }]]);
    expect((await ws.api('GET', '/users')).body.data.find((u: any) => u.id === member.id).role).toBe('manager');
  });

  it('takes a role by id too, and the same role again changes nothing and is not audited', async () => {
    const ws = await aWorkspace(app);
    const member = await ws.userWithRole('member');
    const roles = (await ws.api('GET', '/roles')).body.data;
    const manager = roles.find((r: any) => r.name === 'manager');
    expect((await ws.api('PATCH', `/users/${member.id}`, { role: manager.id })).body.role).toBe('manager');
    const before = await usersAndAudit(ws);
    expect((await ws.api('PATCH', `/users/${member.id}`, { role: 'manager' })).status).toBe(200);
    expect(await usersAndAudit(ws)).toEqual(before);
  });

  it('refuses granting a role with permissions the caller lacks, and the admin role to a non-admin, changing nothing', async () => {
    const ws = await aWorkspace(app);
    // Holding what a member holds: a member's role is theirs to take away.
    await ws.api('POST', '/roles', { name: 'user-admin', permissions: ['users.manage', 'contacts.read', 'contacts.write'] });
    const userAdmin = await ws.userWithRole('user-admin');
    const member = await ws.userWithRole('member');
    const refusedAdmin = await expectRefused(ws, () => userAdmin.api('PATCH', `/users/${member.id}`, { role: 'admin' }), 403, 'admin_required');
    expect(refusedAdmin.body.error.details).toEqual({ role: 'admin' });
    const refused = await expectRefused(ws, () => userAdmin.api('PATCH', `/users/${member.id}`, { role: 'manager' }), 403, 'permission_not_held');
    expect(refused.body.error.details.permissions).toEqual(['contacts.delete', 'contacts.archive', 'contacts.merge']);
    // Nor may they give themselves more, nor another user with users.manage them.
    await expectRefused(ws, () => userAdmin.api('PATCH', `/users/${userAdmin.id}`, { role: 'admin' }), 409, 'cannot_change_own_role');
  });

  it('refuses taking a role away from someone who holds more than the caller (an admin, by a non-admin)', async () => {
    const ws = await aWorkspace(app);
    await ws.api('POST', '/roles', { name: 'all-but-admin', permissions: ['users.manage', 'contacts.read', 'contacts.write'] });
    // (a manager holds contacts.delete, archive and merge, which this role lacks)
    const almost = await ws.userWithRole('all-but-admin');
    const admin2 = await ws.userWithRole('admin');
    const manager = await ws.userWithRole('manager');
    await expectRefused(ws, () => almost.api('PATCH', `/users/${admin2.id}`, { role: 'member' }), 403, 'admin_required');
    await expectRefused(ws, () => almost.api('PATCH', `/users/${manager.id}`, { role: 'member' }), 403, 'permission_not_held');
  });

  it('refuses changing your own role with 409 cannot_change_own_role, through any of your tokens', async () => {
    const ws = await aWorkspace(app);
    await expectRefused(ws, () => ws.api('PATCH', `/users/${ws.adminId}`, { role: 'member' }), 409, 'cannot_change_own_role');
    const integration = (await ws.api('POST', '/tokens', { name: 'Admin script', role: 'admin' })).body;
    const viaToken = () => app.server.inject({ method: 'PATCH', url: `/api/v1/users/${ws.adminId}`, headers: { authorization: `Bearer ${integration.secret}` }, payload: { role: 'member' } });
    await expectRefused(ws, async () => { const r = await viaToken(); return { status: r.statusCode, body: r.json() }; }, 409, 'cannot_change_own_role');
  });

  it('answers 400 for a bad body or unknown role, 404 for an unknown or another workspace’s user, 409 for a deactivated one, changing nothing', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const member = await ws.userWithRole('member');
    const stranger = await other.userWithRole('member');
    await expectRefused(ws, () => ws.api('PATCH', `/users/${member.id}`, {}), 400, 'invalid_request');
    await expectRefused(ws, () => ws.api('PATCH', `/users/${member.id}`, { role: 'manager', email: 'x@example.com' }), 400, 'invalid_request');
    await expectRefused(ws, () => ws.api('PATCH', `/users/${member.id}`, { role: '' }), 400, 'invalid_request');
    await expectRefused(ws, () => ws.api('PATCH', `/users/${member.id}`, { role: 'no such role' }), 400, 'invalid_request');
    await expectRefused(ws, () => ws.api('PATCH', '/users/00000000-0000-0000-0000-000000000000', { role: 'manager' }), 404, 'not_found');
    await expectRefused(ws, () => ws.api('PATCH', `/users/${stranger.id}`, { role: 'manager' }), 404, 'not_found');
    expect((await ws.api('POST', `/users/${member.id}/deactivate`)).status).toBe(200);
    await expectRefused(ws, () => ws.api('PATCH', `/users/${member.id}`, { role: 'manager' }), 409, 'invalid_state');
  });
});

describe('four eyes and promotions', () => {
  const requestFullRollback = async (ws: TestWorkspace) => {
    const at = app.clock.now().toISOString();
    app.clock.advance(1);
    const res = await ws.api('POST', '/rollbacks', { at, scope: { type: 'workspace' } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    app.clock.advance(1);
    return res.body.id as string;
  };

  it('refuses the approval of a user promoted after the request with four_eyes_required, and takes one promoted before it', async () => {
    const ws = await aWorkspace(app);
    const promotedBefore = await ws.userWithRole('member');
    const promotedAfter = await ws.userWithRole('member');
    app.clock.advance(1);
    expect((await ws.api('PATCH', `/users/${promotedBefore.id}`, { role: 'admin' })).status).toBe(200);
    app.clock.advance(1);
    const id = await requestFullRollback(ws);
    expect((await ws.api('PATCH', `/users/${promotedAfter.id}`, { role: 'admin' })).status).toBe(200);

    const refused = await promotedAfter.api('POST', `/rollbacks/${id}/approve`);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'four_eyes_required', details: { reason: 'approver_newer_than_request', requestedBy: ws.adminId } });
    expect((await ws.api('GET', `/rollbacks/${id}`)).body.status).toBe('awaiting_approval');
    // An integration token the promoted user made since the request is no older.
    const token = (await promotedAfter.api('POST', '/tokens', { name: 'Approver script', role: 'admin' })).body;
    const viaToken = await app.server.inject({ method: 'POST', url: `/api/v1/rollbacks/${id}/approve`, headers: { authorization: `Bearer ${token.secret}` } });
    expect(viaToken.statusCode).toBe(403);
    expect(viaToken.json().error.code).toBe('four_eyes_required');

    const approved = await promotedBefore.api('POST', `/rollbacks/${id}/approve`);
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body).toMatchObject({ status: 'queued', approvedBy: promotedBefore.id });
  });

  it('counts a role changed by SQL, not only through the route', async () => {
    const ws = await aWorkspace(app);
    const member = await ws.userWithRole('member');
    const id = await requestFullRollback(ws);
    await app.ctx.db.transaction().execute(async (tx) => {
      // SET LOCAL, which reaches Citus's worker shards (set_config(…, true) does not).
      await sql.raw(`SET LOCAL retrace.now = '${app.clock.now().toISOString()}'`).execute(tx);
      await sql`UPDATE users SET role_id = (SELECT id FROM roles WHERE workspace_id = ${ws.id} AND name = 'admin') WHERE workspace_id = ${ws.id} AND id = ${member.id}`.execute(tx);
    });
    const refused = await member.api('POST', `/rollbacks/${id}/approve`);
    expect(refused.status).toBe(403);
    expect(refused.body.error.details.reason).toBe('approver_newer_than_request');
  });
});
