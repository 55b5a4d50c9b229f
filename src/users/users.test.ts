import { beforeAll, describe, expect, it } from 'vitest';
import { permissions } from './permissions.js';
import { aContact, aWorkspace, call, operatorToken, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

describe('users', () => {
  it('adds a user with a role and answers a token that works', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/users', { email: 'mia@example.com', name: 'Mia', role: 'member' });
    expect(res.status).toBe(201);
    expect(res.body.user).toEqual({ id: res.body.user.id, email: 'mia@example.com', name: 'Mia', role: 'member', createdAt: res.body.user.createdAt, deactivatedAt: null });
    expect(res.body.token).toMatch(new RegExp(`^rt\\.${ws.id}\\.`));
    const asMia = await call(app.server, res.body.token, 'POST', '/contacts', { email: 'by-mia@example.com' });
    expect(asMia.status).toBe(201);
  });

  it('lists the workspace’s users, first admin first', async () => {
    const ws = await aWorkspace(app);
    const member = await ws.userWithRole('member');
    const res = await ws.api('GET', '/users');
    expect(res.status).toBe(200);
    expect(res.body.data.map((u: any) => [u.id, u.role])).toEqual([[ws.adminId, 'admin'], [member.id, 'member']]);
    expect(res.body.nextCursor).toBeNull();
  });

  it('refuses a second user with the same email, whatever its case', async () => {
    const ws = await aWorkspace(app);
    await ws.api('POST', '/users', { email: 'sam@example.com', role: 'member' });
    const res = await ws.api('POST', '/users', { email: 'SAM@example.com', role: 'manager' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('invalid_state');
    expect((await ws.api('GET', '/users')).body.data).toHaveLength(2);
  });

  it('adds one user when the same email is sent several times at once; the others are 409', async () => {
    const ws = await aWorkspace(app);
    const results = await Promise.all(Array.from({ length: 4 }, () => ws.api('POST', '/users', { email: 'twin@example.com', role: 'member' })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    expect(results.filter((r) => r.status === 409).map((r) => r.body.error.code)).toEqual(['invalid_state', 'invalid_state', 'invalid_state']);
    expect((await ws.api('GET', '/users')).body.data).toHaveLength(2);
  });

  it('refuses an unknown role, a bad email and unknown fields with 400', async () => {
    const ws = await aWorkspace(app);
    for (const body of [
      { email: 'a@example.com', role: 'owner' },
      { email: 'not-an-email', role: 'member' },
      { email: 'a@example.com' },
      { email: 'a@example.com', role: 'member', admin: true },
    ]) {
      const res = await ws.api('POST', '/users', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await ws.api('GET', '/users')).body.data).toHaveLength(1);
  });
});

describe('GET /me', () => {
  it('answers the signed-in admin, their role, every permission and the workspace', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('GET', '/me');
    expect(res.status).toBe(200);
    const roles = (await ws.api('GET', '/roles')).body.data;
    const workspace = (await ws.api('GET', '/workspace')).body;
    const [admin] = (await ws.api('GET', '/users')).body.data;
    expect(res.body).toEqual({
      user: { id: ws.adminId, email: admin.email, name: null },
      role: { id: roles[0].id, name: 'admin' },
      permissions: [...permissions],
      workspace: { id: ws.id, name: workspace.name },
    });
  });

  it('answers a manager with only the manager’s permissions, in the permission table’s order', async () => {
    const ws = await aWorkspace(app);
    const manager = await ws.userWithRole('manager');
    const res = await manager.api('GET', '/me');
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(manager.id);
    expect(res.body.role.name).toBe('manager');
    expect(res.body.permissions).toEqual(['contacts.read', 'contacts.write', 'contacts.delete', 'contacts.archive', 'contacts.merge']);
  });

  it('answers a user of a custom role without any permission', async () => {
    const ws = await aWorkspace(app);
    const role = (await ws.api('POST', '/roles', { name: 'Nobody', permissions: [] })).body;
    const nobody = await ws.userWithRole('nobody');
    const res = await nobody.api('GET', '/me');
    expect(res.status).toBe(200);
    expect(res.body.role).toEqual({ id: role.id, name: 'Nobody' });
    expect(res.body.permissions).toEqual([]);
  });

  it('is 401 without a valid token and 403 for the operator', async () => {
    const anonymous = await call(app.server, null, 'GET', '/me');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('unauthenticated');
    expect((await call(app.server, 'rt.nope.nope', 'GET', '/me')).status).toBe(401);
    const operator = await call(app.server, operatorToken, 'GET', '/me');
    expect(operator.status).toBe(403);
    expect(operator.body.error.code).toBe('forbidden');
  });
});

describe('roles', () => {
  it('lists the built-in roles with their permissions', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('GET', '/roles');
    expect(res.status).toBe(200);
    expect(res.body.data.map((r: any) => ({ name: r.name, permissions: r.permissions, builtin: r.builtin }))).toEqual([
      { name: 'admin', permissions: [...permissions], builtin: true },
      { name: 'manager', permissions: ['contacts.read', 'contacts.write', 'contacts.delete', 'contacts.archive', 'contacts.merge'], builtin: true },
      { name: 'member', permissions: ['contacts.read', 'contacts.write'], builtin: true },
    ]);
  });

  it('creates a custom role that users can be given, and it grants only its permissions', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/roles', { name: 'Auditor', permissions: ['audit.read', 'contacts.read', 'audit.read'] });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: res.body.id, name: 'Auditor', permissions: ['audit.read', 'contacts.read'], builtin: false });
    expect((await ws.api('GET', '/roles')).body.data.map((r: any) => r.name)).toEqual(['admin', 'manager', 'member', 'Auditor']);
    const auditor = await ws.userWithRole('auditor');
    expect((await auditor.api('GET', '/audit-log')).status).toBe(200);
    const write = await auditor.api('POST', '/contacts', { email: 'no@example.com' });
    expect(write.status).toBe(403);
    expect(write.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'contacts.write' } });
  });

  it('creates one role when the same name is sent several times at once; the others are 409', async () => {
    const ws = await aWorkspace(app);
    const results = await Promise.all(Array.from({ length: 4 }, () => ws.api('POST', '/roles', { name: 'Twin', permissions: [] })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    expect((await ws.api('GET', '/roles')).body.data).toHaveLength(4);
  });

  it('refuses a duplicate role name with 409 and an unknown permission with 400', async () => {
    const ws = await aWorkspace(app);
    const dup = await ws.api('POST', '/roles', { name: 'MEMBER', permissions: [] });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('invalid_state');
    const bad = await ws.api('POST', '/roles', { name: 'Wizard', permissions: ['magic'] });
    expect(bad.status).toBe(400);
    expect((await ws.api('GET', '/roles')).body.data).toHaveLength(3);
  });

  it('a role without contacts.read cannot read contacts', async () => {
    const ws = await aWorkspace(app);
    await ws.api('POST', '/roles', { name: 'blind', permissions: [] });
    const blind = await ws.userWithRole('blind');
    const res = await blind.api('GET', '/contacts');
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'contacts.read' } });
    expect((await blind.api('GET', '/roles')).status).toBe(200);
  });
});

/** The routes a role may not call, each with the permission it lacks. */
type Denial = [method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: (ids: Fixture) => string, body: unknown, permission: string];
interface Fixture {
  contactId: string;
  listId: string;
  accountId: string;
  tagId: string;
}

const managementDenials: Denial[] = [
  ['POST', () => '/users', { email: 'new@example.com', role: 'member' }, 'users.manage'],
  ['GET', () => '/users', undefined, 'users.manage'],
  ['POST', () => '/roles', { name: 'custom', permissions: [] }, 'users.manage'],
  ['GET', () => '/audit-log', undefined, 'audit.read'],
  ['GET', () => '/audit-log/verify', undefined, 'audit.read'],
  ['POST', () => '/maintenance/run', undefined, 'users.manage'],
];

const deniedTo: Record<'member' | 'manager', Denial[]> = {
  member: [
    ['DELETE', (f) => `/contacts/${f.contactId}`, undefined, 'contacts.delete'],
    ['POST', () => '/contacts/delete', 'ids', 'contacts.delete'],
    ['POST', (f) => `/contacts/${f.contactId}/archive`, undefined, 'contacts.archive'],
    ['POST', () => '/contacts/archive', 'ids', 'contacts.archive'],
    ['DELETE', (f) => `/lists/${f.listId}`, undefined, 'contacts.delete'],
    ['DELETE', (f) => `/accounts/${f.accountId}`, undefined, 'contacts.delete'],
    ['DELETE', (f) => `/tags/${f.tagId}`, undefined, 'contacts.delete'],
    ...managementDenials,
  ],
  manager: managementDenials,
};

describe('built-in roles are denied what they lack', () => {
  for (const [role, denials] of Object.entries(deniedTo)) {
    for (const [method, url, body, permission] of denials) {
      it(`${role} gets 403 with details.permission ${permission} on ${method} ${url({ contactId: ':id', listId: ':id', accountId: ':id', tagId: ':id' })}`, async () => {
        const ws = await aWorkspace(app);
        const contact = await aContact(ws);
        const fixture: Fixture = {
          contactId: contact.id,
          listId: (await ws.api('POST', '/lists', { name: 'L' })).body.id,
          accountId: (await ws.api('POST', '/accounts', { name: 'A' })).body.id,
          tagId: (await ws.api('POST', '/tags', { name: 'T' })).body.id,
        };
        const user = await ws.userWithRole(role);
        const res = await user.api(method, url(fixture), body === 'ids' ? { ids: [contact.id] } : body);
        expect(res.status).toBe(403);
        expect(res.body.error).toEqual({ code: 'forbidden', message: `This action needs the permission ${permission}`, details: { permission } });
        expect((await ws.api('GET', `/contacts/${contact.id}`)).body.status).toBe('active');
        expect((await ws.api('GET', '/lists')).body.data).toHaveLength(1);
        expect((await ws.api('GET', '/accounts')).body.data).toHaveLength(1);
        expect((await ws.api('GET', '/tags')).body.data).toHaveLength(1);
        expect((await ws.api('GET', '/users')).body.data).toHaveLength(2);
      });
    }
  }

  it('a manager may delete and archive contacts', async () => {
    const ws = await aWorkspace(app);
    const [a, b] = [await aContact(ws), await aContact(ws)];
    const manager = await ws.userWithRole('manager');
    expect((await manager.api('DELETE', `/contacts/${a.id}`)).body).toMatchObject({ status: 'deleted', deletedBy: manager.id });
    expect((await manager.api('POST', `/contacts/${b.id}/archive`)).body.status).toBe('archived');
  });

  it('an admin may run maintenance for the workspace, and the operator for all', async () => {
    const ws = await aWorkspace(app);
    const asAdmin = await ws.api('POST', '/maintenance/run');
    expect(asAdmin.status).toBe(200);
    expect(typeof asAdmin.body.ran).toBe('object');
    expect((await call(app.server, operatorToken, 'POST', '/maintenance/run')).status).toBe(200);
  });
});
