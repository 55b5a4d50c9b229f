import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, call, operatorToken, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const day = 86_400;
const defaults = {
  retention: { deletedDays: 30, archiveFreezeDays: 30, archiveDays: 365, pitrHours: 72 },
  massDelete: { maxContacts: 1000, maxPercent: 5, windowMinutes: 10 },
  maxRetention: { deletedDays: 365, archiveDays: 3650, pitrHours: 168 },
};

const settingsOf = async (ws: TestWorkspace) => {
  const { retention, massDelete, maxRetention } = (await ws.api('GET', '/workspace')).body;
  return { retention, massDelete, maxRetention };
};

const asOperator = (method: 'PATCH', url: string, body?: unknown) => call(app.server, operatorToken, method, url, body);

/** The workspace's rows of history_entries for the workspaces table (its own row). */
async function workspaceVersions(ws: TestWorkspace): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM history_entries WHERE workspace_id = ${ws.id} AND table_name = 'workspaces' AND op = 'update'`.execute(app.ctx.db);
  return rows[0].n;
}

describe('PATCH /workspace', () => {
  it('changes retention and mass-delete settings, shows them on GET /workspace, and audits and captures each change', async () => {
    const ws = await aWorkspace(app);
    expect(await settingsOf(ws)).toEqual(defaults);
    const res = await ws.api('PATCH', '/workspace', {
      retention: { deletedDays: 7, pitrHours: 24 },
      massDelete: { maxContacts: 200, maxPercent: 2.5 },
    });
    expect(res.status).toBe(200);
    const expected = {
      ...defaults,
      retention: { deletedDays: 7, archiveFreezeDays: 30, archiveDays: 365, pitrHours: 24 },
      massDelete: { maxContacts: 200, maxPercent: 2.5, windowMinutes: 10 },
    };
    expect(res.body).toMatchObject(expected);
    expect(await settingsOf(ws)).toEqual(expected);
    const audit = (await ws.api('GET', `/audit-log?targetId=${ws.id}`)).body.data.filter((e: { action: string }) => e.action !== 'workspace.created');
    expect(audit.map((e: { action: string; actorId: string; details: object }) => [e.action, e.actorId, e.details])).toEqual(
      expect.arrayContaining([
        ['workspace.retention_changed', ws.adminId, { changes: { deletedDays: { from: 30, to: 7 }, pitrHours: { from: 72, to: 24 } } }],
        ['workspace.mass_delete_changed', ws.adminId, { changes: { maxContacts: { from: 1000, to: 200 }, maxPercent: { from: 5, to: 2.5 } } }],
      ]),
    );
    expect(audit).toHaveLength(2);
    expect(await workspaceVersions(ws)).toBe(1);
  });

  it('writes nothing when nothing changes', async () => {
    const ws = await aWorkspace(app);
    expect((await ws.api('PATCH', '/workspace', { retention: { deletedDays: 30 } })).status).toBe(200);
    expect((await ws.api('GET', '/audit-log?action=workspace.retention_changed')).body.data).toEqual([]);
    expect(await workspaceVersions(ws)).toBe(0);
  });

  it('refuses values outside the server’s ranges with 400 and changes nothing', async () => {
    const ws = await aWorkspace(app);
    const bodies = [
      { retention: { deletedDays: 0 } },
      { retention: { deletedDays: 366 } },
      { retention: { deletedDays: 1.5 } },
      { retention: { pitrHours: 0 } },
      { retention: { pitrHours: 169 } },
      { retention: { archiveDays: 3651 } },
      { retention: { archiveFreezeDays: -1 } },
      { retention: { deletedDays: '7' } },
      { retention: { keepForever: true } },
      { massDelete: { maxContacts: 0 } },
      { massDelete: { maxPercent: 0 } },
      { massDelete: { maxPercent: 101 } },
      { massDelete: { windowMinutes: 0 } },
      { massDelete: { windowMinutes: 1441 } },
      { retention: { deletedDays: 7 }, massDelete: { maxContacts: -5 } },
      { name: 'Renamed' },
    ];
    for (const body of bodies) {
      const res = await ws.api('PATCH', '/workspace', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect(await settingsOf(ws)).toEqual(defaults);
  });

  it('refuses an archive freeze not shorter than the archive’s keep with 422 retention_out_of_range', async () => {
    const ws = await aWorkspace(app);
    for (const retention of [{ archiveFreezeDays: 365 }, { archiveDays: 30 }, { archiveFreezeDays: 10, archiveDays: 5 }]) {
      const res = await ws.api('PATCH', '/workspace', { retention, massDelete: { maxContacts: 5 } });
      expect(res.status, JSON.stringify(retention)).toBe(422);
      expect(res.body.error).toMatchObject({ code: 'retention_out_of_range', details: { field: 'archiveFreezeDays' } });
    }
    expect(await settingsOf(ws)).toEqual(defaults);
    expect((await ws.api('PATCH', '/workspace', { retention: { archiveFreezeDays: 0, archiveDays: 1 } })).body.retention).toMatchObject({
      archiveFreezeDays: 0,
      archiveDays: 1,
    });
  });

  it('is for users.manage: a manager gets 403 and nothing changes', async () => {
    const ws = await aWorkspace(app);
    const manager = await ws.userWithRole('manager');
    const res = await manager.api('PATCH', '/workspace', { retention: { deletedDays: 1 } });
    expect(res.status).toBe(403);
    expect(res.body.error.details).toEqual({ permission: 'users.manage' });
    expect(await settingsOf(ws)).toEqual(defaults);
  });
});

describe('PATCH /workspaces/:id (operator)', () => {
  it('sets the contact limit and the longest retention, which GET /workspace shows and PATCH /workspace keeps to', async () => {
    const ws = await aWorkspace(app);
    const res = await asOperator('PATCH', `/workspaces/${ws.id}`, { activeContactLimit: 500, maxRetention: { deletedDays: 60, pitrHours: 96 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: ws.id, activeContactLimit: 500, maxRetention: { deletedDays: 60, archiveDays: 3650, pitrHours: 96 } });
    expect((await ws.api('GET', '/workspace')).body).toEqual(res.body);

    for (const [retention, field, max] of [[{ deletedDays: 61 }, 'deletedDays', 60], [{ pitrHours: 97 }, 'pitrHours', 96]] as const) {
      const refused = await ws.api('PATCH', '/workspace', { retention });
      expect(refused.status).toBe(422);
      expect(refused.body.error).toMatchObject({ code: 'retention_out_of_range', details: { field, max } });
    }
    expect((await ws.api('PATCH', '/workspace', { retention: { deletedDays: 60 } })).body.retention.deletedDays).toBe(60);

    const lifted = await asOperator('PATCH', `/workspaces/${ws.id}`, { activeContactLimit: null, maxRetention: { deletedDays: null } });
    expect(lifted.body).toMatchObject({ activeContactLimit: null, maxRetention: { deletedDays: 365, archiveDays: 3650, pitrHours: 96 } });
    const audit = (await ws.api('GET', '/audit-log?action=workspace.limits_changed')).body.data;
    expect(audit.map((e: { actorId: string | null; details: object }) => [e.actorId, e.details])).toEqual([
      [null, { changes: { activeContactLimit: { from: 500, to: null }, maxDeletedDays: { from: 60, to: null } } }],
      [null, { changes: { activeContactLimit: { from: null, to: 500 }, maxDeletedDays: { from: null, to: 60 }, maxPitrHours: { from: null, to: 96 } } }],
    ]);
  });

  it('holds restores to the new contact limit', async () => {
    const ws = await aWorkspace(app);
    const [kept, deleted] = [await aContact(ws), await aContact(ws)];
    await ws.api('DELETE', `/contacts/${deleted.id}`);
    await asOperator('PATCH', `/workspaces/${ws.id}`, { activeContactLimit: 1 });
    const res = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [deleted.id] });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'contact_limit_exceeded', details: { active: 1, limit: 1, wouldBe: 2 } });
    expect((await ws.api('GET', `/contacts/${kept.id}`)).body.status).toBe('active');
  });

  it('refuses a limit below the retention the workspace keeps now with 409 invalid_state, changing nothing', async () => {
    const ws = await aWorkspace(app);
    const res = await asOperator('PATCH', `/workspaces/${ws.id}`, { activeContactLimit: 5, maxRetention: { deletedDays: 10 } });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'invalid_state', details: { field: 'deletedDays', current: 30, max: 10 } });
    expect((await ws.api('GET', '/workspace')).body).toMatchObject({ activeContactLimit: null, maxRetention: defaults.maxRetention });
  });

  it('is the operator’s alone, answers 404 for an unknown workspace and 400 for bad input, changing nothing', async () => {
    const ws = await aWorkspace(app);
    const asAdmin = await ws.api('PATCH', `/workspaces/${ws.id}`, { activeContactLimit: 1_000_000 });
    expect(asAdmin.status).toBe(403);
    expect((await call(app.server, null, 'PATCH', `/workspaces/${ws.id}`, { activeContactLimit: 1 })).status).toBe(401);
    expect((await asOperator('PATCH', '/workspaces/missing', { activeContactLimit: 1 })).status).toBe(404);
    for (const body of [
      { activeContactLimit: -1 },
      { activeContactLimit: 1.5 },
      { maxRetention: { deletedDays: 0 } },
      { maxRetention: { deletedDays: 366 } },
      { maxRetention: { pitrHours: 169 } },
      { maxRetention: { archiveDays: 3651 } },
      { maxRetention: { archiveFreezeDays: 3 } },
      { name: 'Other' },
    ]) {
      const res = await asOperator('PATCH', `/workspaces/${ws.id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await ws.api('GET', '/workspace')).body).toMatchObject({ activeContactLimit: null, maxRetention: defaults.maxRetention });
  });
});

describe('every rule that reads retention reads the workspace’s', () => {
  it('purges a contact deleted 3 days ago when deletedDays is 2, and keeps one deleted a day ago', async () => {
    const ws = await aWorkspace(app);
    await ws.api('PATCH', '/workspace', { retention: { deletedDays: 2 } });
    const [old, recent] = [await aContact(ws), await aContact(ws)];
    await ws.api('DELETE', `/contacts/${old.id}`);
    app.clock.advance(2 * day);
    await ws.api('DELETE', `/contacts/${recent.id}`);
    app.clock.advance(day);
    expect((await ws.api('POST', '/maintenance/run')).status).toBe(200);
    expect((await ws.api('GET', `/contacts/${old.id}`)).status).toBe(404);
    expect((await ws.api('GET', `/contacts/${recent.id}`)).body.status).toBe('deleted');
  });

  it('purges an archived contact after archiveDays and lets it be restored after archiveFreezeDays', async () => {
    const ws = await aWorkspace(app);
    await ws.api('PATCH', '/workspace', { retention: { archiveFreezeDays: 2, archiveDays: 10 } });
    const [restored, purged] = [await aContact(ws), await aContact(ws)];
    const at = app.clock.now().getTime();
    await ws.api('POST', '/contacts/archive', { ids: [restored.id, purged.id] });
    const listed = (await ws.api('GET', '/archived-contacts')).body.data.find((c: { id: string }) => c.id === restored.id);
    expect(listed).toMatchObject({
      restorableFrom: new Date(new Date(listed.archivedAt).getTime() + 2 * day * 1000).toISOString(),
      restorableUntil: new Date(new Date(listed.archivedAt).getTime() + 10 * day * 1000).toISOString(),
    });
    expect(new Date(listed.archivedAt).getTime() - at).toBeLessThan(1000);

    app.clock.advance(day);
    const frozen = await ws.api('POST', '/restore-jobs', { source: 'archived', contactIds: [restored.id] });
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/restore-jobs/${frozen.body.id}`)).body).toMatchObject({ restored: 0, skipped: [{ contactId: restored.id, reason: 'frozen' }] });
    app.clock.advance(2 * day);
    const job = await ws.api('POST', '/restore-jobs', { source: 'archived', contactIds: [restored.id] });
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/restore-jobs/${job.body.id}`)).body).toMatchObject({ restored: 1, skipped: [] });

    app.clock.advance(6 * day);
    await ws.api('POST', '/maintenance/run');
    expect((await ws.api('GET', `/contacts/${purged.id}`)).body.status).toBe('archived');
    app.clock.advance(day);
    await ws.api('POST', '/maintenance/run');
    expect((await ws.api('GET', `/contacts/${purged.id}`)).status).toBe(404);
    expect((await ws.api('GET', `/contacts/${restored.id}`)).body.status).toBe('active');
  });

  it('refuses a point 2 hours ago with 422 point_not_recoverable once pitrHours is 1', async () => {
    const ws = await aWorkspace(app);
    await aContact(ws);
    app.clock.advance(3 * 3600);
    const at = new Date(app.clock.now().getTime() - 2 * 3600_000).toISOString();
    const scope = { type: 'workspace' };
    expect((await ws.api('POST', '/rollbacks/preview', { at, scope })).status).toBe(200);
    await ws.api('PATCH', '/workspace', { retention: { pitrHours: 1 } });
    const res = await ws.api('POST', '/rollbacks/preview', { at, scope });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('point_not_recoverable');
    const recent = new Date(app.clock.now().getTime() - 30 * 60_000).toISOString();
    expect((await ws.api('POST', '/rollbacks/preview', { at: recent, scope })).status).toBe(200);
  });

  it('holds deletes by the mass-delete settings PATCH /workspace wrote', async () => {
    const ws = await aWorkspace(app);
    await ws.api('PATCH', '/workspace', { massDelete: { maxContacts: 2 } });
    const ids = [(await aContact(ws)).id, (await aContact(ws)).id, (await aContact(ws)).id];
    const manager = await ws.userWithRole('manager');
    const res = await manager.api('POST', '/contacts/delete', { ids });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'confirmation_required', details: { wouldRemove: 3, limit: 2 } });
  });
});
