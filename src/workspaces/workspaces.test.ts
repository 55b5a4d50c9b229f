import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../clock.js';
import { createServer } from '../app.js';
import { aContact, aWorkspace, call, operatorToken, testApp, type TestApp } from '../test-support/harness.js';
import { removalLimit } from '../held-deletes/service.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

describe('creating workspaces (operator)', () => {
  it('creates a workspace with its first admin, whose token works', async () => {
    const res = await call(app.server, operatorToken, 'POST', '/workspaces', { name: 'Acme CRM', adminEmail: 'boss@acme.example', activeContactLimit: 10 });
    expect(res.status).toBe(201);
    const { workspace, user, token } = res.body;
    expect(workspace).toEqual({
      id: workspace.id,
      name: 'Acme CRM',
      activeContactLimit: 10,
      usage: { active: 0, archived: 0, deleted: 0 },
      retention: { deletedDays: 30, archiveFreezeDays: 30, archiveDays: 365, pitrHours: 72 },
      massDelete: { maxContacts: 1000, maxPercent: 5, windowMinutes: 10 },
      maxRetention: { deletedDays: 365, archiveDays: 3650, pitrHours: 168 },
      createdAt: workspace.createdAt,
    });
    expect(user).toEqual({ id: user.id, email: 'boss@acme.example', name: null, role: 'admin', createdAt: user.createdAt, deactivatedAt: null });
    const me = await call(app.server, token, 'GET', '/workspace');
    expect(me.status).toBe(200);
    expect(me.body).toEqual(workspace);
  });

  it('leaves the contact limit null when none is given', async () => {
    const res = await call(app.server, operatorToken, 'POST', '/workspaces', { name: 'Open', adminEmail: 'o@example.com' });
    expect(res.body.workspace.activeContactLimit).toBeNull();
  });

  it('refuses bad input with 400', async () => {
    for (const body of [
      { name: 'X' },
      { name: '', adminEmail: 'a@example.com' },
      { name: 'X', adminEmail: 'nope' },
      { name: 'X', adminEmail: 'a@example.com', activeContactLimit: -1 },
      { name: 'X', adminEmail: 'a@example.com', activeContactLimit: 1.5 },
      { name: 'X', adminEmail: 'a@example.com', activeContactLimit: 2 ** 31 },
      { name: 'X', adminEmail: 'a@example.com', plan: 'gold' },
    ]) {
      const res = await call(app.server, operatorToken, 'POST', '/workspaces', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('is the operator’s alone: a workspace admin gets 403, no token 401', async () => {
    const ws = await aWorkspace(app);
    const body = { name: 'Sneaky', adminEmail: 's@example.com' };
    const asAdmin = await ws.api('POST', '/workspaces', body);
    expect(asAdmin.status).toBe(403);
    expect(asAdmin.body.error.code).toBe('forbidden');
    expect((await call(app.server, null, 'POST', '/workspaces', body)).status).toBe(401);
  });
});

describe('the workspace', () => {
  it('counts active, archived and deleted contacts', async () => {
    const ws = await aWorkspace(app, { activeContactLimit: 100 });
    const [a, b] = [await aContact(ws), await aContact(ws)];
    await aContact(ws);
    await ws.api('DELETE', `/contacts/${a.id}`);
    await ws.api('POST', `/contacts/${b.id}/archive`);
    const res = await ws.api('GET', '/workspace');
    expect(res.body).toMatchObject({ id: ws.id, activeContactLimit: 100, usage: { active: 1, archived: 1, deleted: 1 } });
  });

  it('is for workspace users: the operator token gets 403', async () => {
    const res = await call(app.server, operatorToken, 'GET', '/workspace');
    expect(res.status).toBe(403);
  });
});

describe('the test clock', () => {
  it('tells the time and moves forward', async () => {
    const before = await call(app.server, operatorToken, 'GET', '/test-clock');
    expect(before.status).toBe(200);
    const moved = await call(app.server, operatorToken, 'POST', '/test-clock', { advanceSeconds: 86_400 });
    expect(moved.status).toBe(200);
    // Within seconds of a day: the rest is real time passing (or the host clock slewing).
    const shift = Date.parse(moved.body.now) - Date.parse(before.body.now);
    expect(Math.abs(shift - 86_400_000)).toBeLessThan(5_000);
  });

  it('stamps changes with its time', async () => {
    const ws = await aWorkspace(app);
    const now = Date.parse((await call(app.server, operatorToken, 'POST', '/test-clock', { advanceSeconds: 3 * 86_400 })).body.now);
    const c = await aContact(ws);
    expect(Math.abs(Date.parse(c.createdAt) - now)).toBeLessThan(5_000);
  });

  it('refuses to go backwards and refuses non-operators', async () => {
    const ws = await aWorkspace(app);
    expect((await call(app.server, operatorToken, 'POST', '/test-clock', { advanceSeconds: -1 })).status).toBe(400);
    expect((await call(app.server, operatorToken, 'POST', '/test-clock', { advanceSeconds: '10' })).status).toBe(400);
    expect((await ws.api('GET', '/test-clock')).status).toBe(403);
    expect((await call(app.server, null, 'GET', '/test-clock')).status).toBe(401);
  });

  it('answers 404 when the server runs on the real clock', async () => {
    const server = await createServer({ ...app.ctx, clock: systemClock });
    await server.ready();
    try {
      expect((await call(server, operatorToken, 'GET', '/test-clock')).status).toBe(404);
      const res = await call(server, operatorToken, 'POST', '/test-clock', { advanceSeconds: 1 });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    } finally {
      await server.close();
    }
  });
});

describe('health and documentation', () => {
  it('answers health without auth', async () => {
    const res = await call(app.server, null, 'GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });

  it('serves the OpenAPI document at /api/docs', async () => {
    const res = await app.server.inject({ method: 'GET', url: '/api/docs' });
    expect(res.statusCode).toBe(200);
    const doc = JSON.parse(res.body);
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/contacts', '/api/v1/contacts/{id}', '/api/v1/workspaces', '/api/v1/audit-log']));
    expect(doc.paths['/api/v1/contacts'].post.requestBody.content['application/json'].schema.required).toEqual(['email']);
    expect(doc.paths['/api/v1/contacts'].post.requestBody.required).toBe(true);
    expect(doc.paths['/api/v1/snapshots'].post.requestBody.required).toBe(false);
    expect(JSON.stringify(doc)).not.toContain('x-optional-body');
  });

  it('shows POST /imports’s multipart body, a mapping object and a binary file, required both', async () => {
    const doc = JSON.parse((await app.server.inject({ method: 'GET', url: '/api/docs' })).body);
    const body = doc.paths['/api/v1/imports'].post.requestBody;
    expect(Object.keys(body.content)).toEqual(['multipart/form-data']);
    const schema = body.content['multipart/form-data'].schema;
    expect(schema.required).toEqual(['mapping', 'file']);
    expect(schema.properties.file).toMatchObject({ type: 'string', format: 'binary' });
    expect(schema.properties.mapping).toMatchObject({ type: 'object', required: ['columns', 'mode'] });
    expect(JSON.stringify(doc)).not.toContain('x-multipart-body');
  });
});

describe('GET /limits', () => {
  it('answers the limits the server refuses input beyond, to any user; the operator is 403', async () => {
    const ws = await aWorkspace(app);
    const member = await ws.userWithRole('member');
    const res = await member.api('GET', '/limits');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      pickedContacts: 100,
      pickedObjects: 100,
      pageSize: 500,
      snapshotKeepHours: 8784,
      snapshotKeepDays: 3660,
      snapshotLabelLength: 200,
      backupsKept: 1000,
      retentionRanges: { deletedDays: { min: 1, max: 365 }, archiveFreezeDays: { min: 0, max: 3649 }, archiveDays: { min: 1, max: 3650 }, pitrHours: { min: 1, max: 168 } },
      massDeleteRanges: { maxContacts: { min: 1, max: 1_000_000 }, maxPercent: { min: 0.01, max: 100 }, windowMinutes: { min: 1, max: 1440 } },
      massDeleteMinPercentContacts: 100,
    });
    expect((await call(app.server, operatorToken, 'GET', '/limits')).status).toBe(403);
  });

  it('names each limit at the edge the server validates: one more is refused', async () => {
    const ws = await aWorkspace(app);
    const limits = (await ws.api('GET', '/limits')).body;
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);
    expect((await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: ids(limits.pickedContacts + 1) })).status).toBe(422);
    expect((await ws.api('POST', '/deleted-objects/restore', { type: 'tag', ids: ids(limits.pickedObjects + 1) })).status).toBe(400);
    expect((await ws.api('POST', '/deleted-objects/restore', { type: 'tag', ids: ids(limits.pickedObjects) })).status).toBe(200);
    expect((await ws.api('GET', `/contacts?limit=${limits.pageSize}`)).status).toBe(200);
    expect((await ws.api('GET', `/contacts?limit=${limits.pageSize + 1}`)).status).toBe(400);
    for (const body of [{ hourly: { keepHours: limits.snapshotKeepHours + 1 } }, { weekly: { keepDays: limits.snapshotKeepDays + 1 } }]) {
      expect((await ws.api('PATCH', '/snapshots/settings', body)).status).toBe(400);
    }
    expect((await ws.api('PATCH', '/snapshots/settings', { hourly: { keepHours: limits.snapshotKeepHours }, weekly: { keepDays: limits.snapshotKeepDays } })).status).toBe(200);
    expect((await ws.api('POST', '/snapshots', { label: 'x'.repeat(limits.snapshotLabelLength + 1) })).status).toBe(400);
    expect((await ws.api('POST', '/snapshots', { label: 'x'.repeat(limits.snapshotLabelLength) })).status).toBe(201);
    expect((await ws.api('PUT', '/backups/schedule', { export: 'off', keep: limits.backupsKept + 1 })).status).toBe(400);
    expect((await ws.api('PUT', '/backups/schedule', { export: 'off', keep: limits.backupsKept })).status).toBe(200);
    for (const [section, ranges] of [['retention', limits.retentionRanges], ['massDelete', limits.massDeleteRanges]] as const) {
      for (const [field, { min, max }] of Object.entries(ranges as Record<string, { min: number; max: number }>)) {
        const step = field === 'maxPercent' ? 0.01 : 1;
        for (const value of [min - step, max + step]) {
          expect((await ws.api('PATCH', '/workspace', { [section]: { [field]: value } })).status, `${field} ${value}`).toBe(400);
        }
      }
    }
    expect((await ws.api('PATCH', '/workspace', { retention: { deletedDays: 365, pitrHours: 168, archiveDays: 3650, archiveFreezeDays: 3649 } })).status).toBe(200);
    expect((await ws.api('PATCH', '/workspace', { retention: { deletedDays: 1, pitrHours: 1, archiveFreezeDays: 0, archiveDays: 1 } })).status).toBe(200);
    expect((await ws.api('PATCH', '/workspace', { massDelete: { maxContacts: 1_000_000, maxPercent: 100, windowMinutes: 1440 } })).status).toBe(200);
    expect((await ws.api('PATCH', '/workspace', { massDelete: { maxContacts: 1, maxPercent: 0.01, windowMinutes: 1 } })).status).toBe(200);
  });

  it('names the fewest contacts the mass-delete guard’s share counts at: one fewer and maxContacts is the limit', async () => {
    const ws = await aWorkspace(app);
    const { massDeleteMinPercentContacts: least } = (await ws.api('GET', '/limits')).body as { massDeleteMinPercentContacts: number };
    const settings = { maxContacts: 1000, maxPercent: 10, windowMinutes: 10 };
    expect(removalLimit(settings, least * 10)).toEqual({ contacts: least, by: 'maxPercent' });
    expect(removalLimit(settings, least * 10 - 10)).toEqual({ contacts: 1000, by: 'maxContacts' });
  });
});
