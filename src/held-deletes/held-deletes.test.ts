import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPGlite, connectPostgres, migrate, type Database } from '../db/database.js';
import { seedWorkspace } from '../seed/workspace.js';
import { aContact, aWorkspace, createRunDatabase, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { aWebhookReceiver, type WebhookReceiver } from '../test-support/notification-peers.js';
import type { MassDeleteSettings } from '../workspaces/service.js';
import { judgeRemoval, removalLimit } from './service.js';

let app: TestApp;
const receivers: WebhookReceiver[] = [];
beforeAll(async () => {
  app = await testApp();
});
afterAll(async () => {
  for (const receiver of receivers) await receiver.close();
});

const defaults: MassDeleteSettings = { maxContacts: 1000, maxPercent: 5, windowMinutes: 10 };

/**
 * Sets the workspace's mass-delete settings through PATCH /workspace {massDelete}: the guard
 * reads what that route writes.
 */
async function setMassDelete(ws: TestWorkspace, settings: Partial<MassDeleteSettings>): Promise<void> {
  const res = await ws.api('PATCH', '/workspace', { massDelete: { ...defaults, ...settings } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** `n` contacts (seeded with lists, tags, accounts and deals), their ids in a stable order. */
async function seeded(ws: TestWorkspace, n: number, onApp: TestApp = app): Promise<string[]> {
  await seedWorkspace(onApp.ctx.db, { workspaceId: ws.id, actorId: null, origin: 'import', at: onApp.clock.now() }, { contacts: n });
  const { rows } = await sql<{ id: string }>`SELECT id FROM contacts WHERE workspace_id = ${ws.id} AND status = 'active' ORDER BY id`.execute(onApp.ctx.db);
  return rows.map((r) => r.id);
}

async function someContacts(ws: TestWorkspace, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1) ids.push((await aContact(ws)).id);
  return ids;
}

async function statusOf(ws: TestWorkspace, id: string): Promise<string> {
  return (await ws.api('GET', `/contacts/${id}`)).body.status;
}

async function statusesOf(ws: TestWorkspace, ids: string[]): Promise<string[]> {
  const { rows } = await sql<{ id: string; status: string }>`
    SELECT id, status FROM contacts WHERE workspace_id = ${ws.id} AND id = ANY(${ids}::text[])`.execute(app.ctx.db);
  const byId = new Map(rows.map((r) => [r.id, r.status]));
  return ids.map((id) => byId.get(id) ?? 'missing');
}

describe('the guard’s rules (unit)', () => {
  it('takes maxPercent of the active and archived contacts only where that is at least 100 contacts and below maxContacts', () => {
    expect(removalLimit(defaults, 1_999)).toEqual({ contacts: 1000, by: 'maxContacts' });
    expect(removalLimit(defaults, 2_000)).toEqual({ contacts: 100, by: 'maxPercent' });
    expect(removalLimit(defaults, 2_419)).toEqual({ contacts: 120, by: 'maxPercent' });
    expect(removalLimit(defaults, 19_999)).toEqual({ contacts: 999, by: 'maxPercent' });
    expect(removalLimit(defaults, 20_000)).toEqual({ contacts: 1000, by: 'maxContacts' });
    expect(removalLimit({ ...defaults, maxContacts: 50 }, 10_000)).toEqual({ contacts: 50, by: 'maxContacts' });
  });

  it('holds the removal that would go over the limit, with its whole request', () => {
    const base = { limit: 1000, maxContacts: 1000, confirmed: false, held: false };
    expect(judgeRemoval({ ...base, removing: 1000, inWindow: 0 })).toBe('apply');
    expect(judgeRemoval({ ...base, removing: 1, inWindow: 999 })).toBe('apply');
    expect(judgeRemoval({ ...base, removing: 1, inWindow: 1000 })).toBe('hold');
    expect(judgeRemoval({ ...base, removing: 20, inWindow: 990 })).toBe('hold');
  });

  it('holds everything while a request is held, and asks one request over maxContacts to confirm before anything else', () => {
    const base = { limit: 100, maxContacts: 100, confirmed: false, held: false };
    expect(judgeRemoval({ ...base, removing: 1, inWindow: 0, held: true })).toBe('hold');
    expect(judgeRemoval({ ...base, removing: 101, inWindow: 0, held: true })).toBe('confirmation_required');
    expect(judgeRemoval({ ...base, removing: 101, inWindow: 0 })).toBe('confirmation_required');
    expect(judgeRemoval({ ...base, removing: 101, inWindow: 99, confirmed: true })).toBe('apply');
    expect(judgeRemoval({ ...base, removing: 101, inWindow: 100, confirmed: true })).toBe('hold');
    expect(judgeRemoval({ ...base, removing: 2, inWindow: 99, confirmed: true })).toBe('hold');
  });
});

describe('holding a mass delete (defaults: 1,000 contacts in 10 minutes)', () => {
  it('holds the 1,001st deletion within the window: 409 with the figures, nothing applied, the admins told', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aWebhookReceiver();
    receivers.push(receiver);
    await ws.api('POST', '/webhooks', { url: receiver.url, events: ['mass_delete.held'] });
    const ids = await seeded(ws, 1_001);
    const manager = await ws.userWithRole('manager');

    const first = await manager.api('POST', '/contacts/delete', { ids: ids.slice(0, 1000) });
    expect(first.status).toBe(200);
    expect(first.body.deleted).toHaveLength(1000);
    // Nine minutes on (the test clock also runs with real time): still within the window.
    app.clock.advance(540);
    const next = await manager.api('DELETE', `/contacts/${ids[1000]}`);
    expect(next.status).toBe(409);
    expect(next.body.error.code).toBe('mass_delete_held');
    expect(next.body.error.details).toEqual({ heldId: expect.any(String), deletedInWindow: 1000, limit: 1000, limitBy: 'maxContacts', windowMinutes: 10 });
    expect(await statusOf(ws, ids[1000])).toBe('active');

    const held = await ws.api('GET', '/held-deletes');
    expect(held.body).toEqual({
      data: [
        {
          id: next.body.error.details.heldId,
          status: 'pending',
          actorId: manager.id,
          tokenId: manager.tokenId,
          heldAt: expect.any(String),
          deletedInWindow: 1000,
          limit: 1000,
          limitBy: 'maxContacts',
          windowMinutes: 10,
          windowFrom: expect.any(String),
          requests: 1,
          contacts: { delete: 1, archive: 0 },
          decidedBy: null,
          decidedAt: null,
          undo: null,
          outcome: null,
        },
      ],
      nextCursor: null,
    });

    await ws.api('POST', '/maintenance/run');
    const [delivery] = await receiver.until(1);
    expect(JSON.parse(delivery.body)).toEqual({
      event: 'mass_delete.held',
      at: held.body.data[0].heldAt,
      workspaceId: ws.id,
      data: {
        heldId: next.body.error.details.heldId,
        actorId: manager.id,
        tokenId: manager.tokenId,
        removal: 'delete',
        contacts: 1,
        deletedInWindow: 1000,
        limit: 1000,
        limitBy: 'maxContacts',
        windowMinutes: 10,
        heldAt: held.body.data[0].heldAt,
      },
    });
    const audit = await ws.api('GET', `/audit-log?action=mass_delete.held`);
    expect(audit.body.data.map((e: any) => [e.actorId, e.targetId, e.details])).toEqual([
      [manager.id, next.body.error.details.heldId, { removal: 'delete', contacts: 1, deletedInWindow: 1000, limit: 1000, joined: false }],
    ]);
  });

  it('does not count what was deleted before the window: 10 minutes later the next 1,000 are applied', async () => {
    const ws = await aWorkspace(app);
    const ids = await seeded(ws, 1_002);
    const manager = await ws.userWithRole('manager');
    expect((await manager.api('POST', '/contacts/delete', { ids: ids.slice(0, 1000) })).status).toBe(200);
    app.clock.advance(600);
    expect((await manager.api('DELETE', `/contacts/${ids[1000]}`)).status).toBe(200);
    expect((await manager.api('POST', `/contacts/${ids[1001]}/archive`)).status).toBe(200);
    expect(await statusesOf(ws, ids.slice(1000))).toEqual(['deleted', 'archived']);
    expect((await ws.api('GET', '/held-deletes')).body.data).toEqual([]);
  });

  it('takes maxPercent of the workspace’s contacts where that is at least 100 contacts', async () => {
    const ws = await aWorkspace(app);
    // 50% of 220 active contacts is 110: the limit, below maxContacts.
    await setMassDelete(ws, { maxPercent: 50 });
    const ids = await seeded(ws, 220);
    const manager = await ws.userWithRole('manager');
    expect((await manager.api('POST', '/contacts/archive', { ids: ids.slice(0, 110) })).status).toBe(200);
    const next = await manager.api('POST', '/contacts/archive', { ids: ids.slice(110, 111) });
    expect(next.status).toBe(409);
    expect(next.body.error.details).toMatchObject({ deletedInWindow: 110, limit: 110, limitBy: 'maxPercent' });
  });

  it('leaves maxPercent out where it comes to fewer than 100 contacts', async () => {
    const ws = await aWorkspace(app);
    // 5% of 220 is 11 contacts: too few to count, so maxContacts is the limit.
    const ids = await seeded(ws, 220);
    const manager = await ws.userWithRole('manager');
    const archived = await manager.api('POST', '/contacts/archive', { ids: ids.slice(0, 150) });
    expect(archived.status).toBe(200);
    expect(archived.body.archived).toHaveLength(150);
  });
});

describe('while an actor is held', () => {
  it('holds every further delete and archive of that actor in the same held request, and nobody else’s', async () => {
    const ws = await aWorkspace(app);
    await setMassDelete(ws, { maxContacts: 3 });
    const ids = await someContacts(ws, 8);
    const manager = await ws.userWithRole('manager');
    expect((await manager.api('POST', '/contacts/delete', { ids: ids.slice(0, 3) })).status).toBe(200);
    const held = await manager.api('DELETE', `/contacts/${ids[3]}`);
    expect(held.status).toBe(409);
    const joined = await manager.api('POST', '/contacts/archive', { ids: ids.slice(4, 6) });
    expect(joined.status).toBe(409);
    expect(joined.body.error.details).toMatchObject({ heldId: held.body.error.details.heldId, deletedInWindow: 3, limit: 3 });
    expect(await statusesOf(ws, ids.slice(3, 6))).toEqual(['active', 'active', 'active']);

    const view = await ws.api('GET', `/held-deletes/${held.body.error.details.heldId}`);
    expect(view.body).toMatchObject({ status: 'pending', requests: 2, contacts: { delete: 1, archive: 2 } });
    // The admin is another actor, with a window of their own.
    expect((await ws.api('POST', '/contacts/delete', { ids: ids.slice(6, 8) })).status).toBe(200);
  });

  it('lets two requests of one actor at the same time take turns: one is applied, the other held', async () => {
    const ws = await aWorkspace(app);
    await setMassDelete(ws, { maxContacts: 5 });
    const ids = await someContacts(ws, 6);
    const manager = await ws.userWithRole('manager');
    const answers = await Promise.all([
      manager.api('POST', '/contacts/delete', { ids: ids.slice(0, 3) }),
      manager.api('POST', '/contacts/delete', { ids: ids.slice(3, 6) }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const statuses = await statusesOf(ws, ids);
    expect(statuses.filter((s) => s === 'deleted')).toHaveLength(3);
    expect((await ws.api('GET', '/held-deletes')).body.data).toHaveLength(1);
  });
});

describe('one request over maxContacts', () => {
  it('needs confirm: 409 confirmation_required without it, changing nothing; confirmed, it is applied and counts toward the window', async () => {
    const ws = await aWorkspace(app);
    await setMassDelete(ws, { maxContacts: 3 });
    const ids = await someContacts(ws, 5);
    const manager = await ws.userWithRole('manager');
    const unconfirmed = await manager.api('POST', '/contacts/delete', { ids: ids.slice(0, 4) });
    expect(unconfirmed.status).toBe(409);
    expect(unconfirmed.body.error).toMatchObject({ code: 'confirmation_required', details: { wouldRemove: 4, limit: 3 } });
    expect(await statusesOf(ws, ids.slice(0, 4))).toEqual(['active', 'active', 'active', 'active']);
    expect((await ws.api('GET', '/held-deletes')).body.data).toEqual([]);

    const confirmed = await manager.api('POST', '/contacts/delete', { ids: ids.slice(0, 4), confirm: true });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.deleted).toEqual(ids.slice(0, 4));
    const next = await manager.api('POST', '/contacts/archive', { ids: [ids[4]] });
    expect(next.status).toBe(409);
    expect(next.body.error.details).toMatchObject({ deletedInWindow: 4, limit: 3 });
  });

  it('counts only the contacts the request would remove, not ids it skips', async () => {
    const ws = await aWorkspace(app);
    await setMassDelete(ws, { maxContacts: 3 });
    const ids = await someContacts(ws, 3);
    const manager = await ws.userWithRole('manager');
    const res = await manager.api('POST', '/contacts/delete', { ids: [...ids, 'not-a-contact', 'another-one'] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ deleted: ids, skipped: [{ contactId: 'not-a-contact', reason: 'not_found' }, { contactId: 'another-one', reason: 'not_found' }] });
  });

  it('refuses a confirm that is not a boolean with 400, changing nothing', async () => {
    const ws = await aWorkspace(app);
    const ids = await someContacts(ws, 1);
    const res = await ws.api('POST', '/contacts/archive', { ids, confirm: 'yes' });
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues[0].path).toEqual(['confirm']);
    expect(await statusOf(ws, ids[0])).toBe('active');
  });
});

/** A workspace whose manager was held after deleting 2 contacts and archiving 1 (maxContacts 3). */
async function aHeldManager(ws: TestWorkspace) {
  await setMassDelete(ws, { maxContacts: 3 });
  const list = (await ws.api('POST', '/lists', { name: 'Customers' })).body;
  const ids = await someContacts(ws, 6);
  for (const id of ids) await ws.api('PUT', `/lists/${list.id}/contacts/${id}`, { status: 'subscribed' });
  const manager = await ws.userWithRole('manager');
  expect((await manager.api('POST', '/contacts/delete', { ids: ids.slice(0, 2) })).status).toBe(200);
  expect((await manager.api('POST', `/contacts/${ids[2]}/archive`)).status).toBe(200);
  const held = await manager.api('POST', '/contacts/delete', { ids: ids.slice(3, 5) });
  expect(held.status).toBe(409);
  const joined = await manager.api('POST', '/contacts/archive', { ids: [ids[5]] });
  expect(joined.status).toBe(409);
  return { ids, list, manager, heldId: held.body.error.details.heldId as string };
}

describe('releasing a held request', () => {
  it('runs its requests in order as the actor who asked, tells the audit log the admin released it, and starts the actor’s window again', async () => {
    const ws = await aWorkspace(app);
    const { ids, manager, heldId } = await aHeldManager(ws);
    app.clock.advance(30);
    const released = await ws.api('POST', `/held-deletes/${heldId}/release`);
    expect(released.status).toBe(200);
    expect(released.body).toMatchObject({ id: heldId, status: 'released', decidedBy: ws.adminId, undo: null, outcome: { deleted: 2, archived: 1, skipped: 0 } });
    expect(await statusesOf(ws, ids.slice(3))).toEqual(['deleted', 'deleted', 'archived']);
    const deleted = (await ws.api('GET', `/contacts/${ids[3]}`)).body;
    expect(deleted.deletedBy).toBe(manager.id);
    expect(deleted.deletedAt).toBe(released.body.decidedAt);

    const audit = (await ws.api('GET', `/audit-log?targetId=${heldId}`)).body.data;
    expect(audit.map((e: any) => [e.action, e.actorId])).toEqual([
      ['mass_delete.released', ws.adminId],
      ['mass_delete.held', manager.id],
      ['mass_delete.held', manager.id],
    ]);
    expect(audit[0].details).toEqual({ actorId: manager.id, tokenId: manager.tokenId, deleted: 2, archived: 1, skipped: 0 });
    const contactEntry = (await ws.api('GET', `/audit-log?targetId=${ids[3]}&action=contact.deleted`)).body.data[0];
    expect(contactEntry).toMatchObject({ actorId: manager.id, details: { heldId } });

    // Its window starts again at the release: three more, then held again.
    const more = await someContacts(ws, 4);
    expect((await manager.api('POST', '/contacts/delete', { ids: more.slice(0, 3) })).status).toBe(200);
    expect((await manager.api('DELETE', `/contacts/${more[3]}`)).status).toBe(409);
  });

  it('skips what changed while it was held, as the request would have', async () => {
    const ws = await aWorkspace(app);
    const { ids, heldId } = await aHeldManager(ws);
    await ws.api('DELETE', `/contacts/${ids[3]}`);
    const released = await ws.api('POST', `/held-deletes/${heldId}/release`);
    expect(released.body.outcome).toEqual({ deleted: 1, archived: 1, skipped: 1 });
    expect((await ws.api('GET', `/contacts/${ids[3]}`)).body.deletedBy).toBe(ws.adminId);
  });
});

describe('rejecting a held request', () => {
  it('applies none of it and keeps the actor held for the rest of the window', async () => {
    const ws = await aWorkspace(app);
    const { ids, manager, heldId } = await aHeldManager(ws);
    const rejected = await ws.api('POST', `/held-deletes/${heldId}/reject`);
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ status: 'rejected', decidedBy: ws.adminId, undo: false, outcome: null });
    expect(await statusesOf(ws, ids)).toEqual(['deleted', 'deleted', 'archived', 'active', 'active', 'active']);
    const again = await manager.api('DELETE', `/contacts/${ids[3]}`);
    expect(again.status).toBe(409);
    expect(again.body.error.details.heldId).not.toBe(heldId);
    const audit = (await ws.api('GET', `/audit-log?action=mass_delete.rejected`)).body.data;
    expect(audit.map((e: any) => [e.actorId, e.targetId, e.details])).toEqual([[ws.adminId, heldId, { actorId: manager.id, tokenId: manager.tokenId, undo: false }]]);
  });

  it('with undo, brings back what the actor deleted and archived in the window, archived ones despite their freeze, with their lists', async () => {
    const ws = await aWorkspace(app);
    await setMassDelete(ws, { maxContacts: 3 });
    const list = (await ws.api('POST', '/lists', { name: 'Customers' })).body;
    const ids = await someContacts(ws, 7);
    for (const id of ids) await ws.api('PUT', `/lists/${list.id}/contacts/${id}`, { status: 'subscribed' });
    const manager = await ws.userWithRole('manager');
    // Before the window: stays deleted.
    expect((await manager.api('DELETE', `/contacts/${ids[0]}`)).status).toBe(200);
    app.clock.advance(601);
    expect((await manager.api('POST', '/contacts/delete', { ids: ids.slice(1, 3) })).status).toBe(200);
    expect((await manager.api('POST', `/contacts/${ids[3]}/archive`)).status).toBe(200);
    // Someone else's delete in the window: not the manager's to undo.
    expect((await ws.api('DELETE', `/contacts/${ids[4]}`)).status).toBe(200);
    const held = await manager.api('DELETE', `/contacts/${ids[5]}`);
    expect(held.status).toBe(409);
    const heldId = held.body.error.details.heldId;

    const rejected = await ws.api('POST', `/held-deletes/${heldId}/reject`, { undo: true });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ status: 'rejected', undo: true, outcome: { restored: 3, skipped: 0 } });
    expect(await statusesOf(ws, ids)).toEqual(['deleted', 'active', 'active', 'active', 'deleted', 'active', 'active']);
    for (const id of ids.slice(1, 4)) {
      expect((await ws.api('GET', `/contacts/${id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'subscribed' }]);
    }
    const history = (await ws.api('GET', `/contacts/${ids[3]}/history`)).body.data;
    expect(history.at(-1)).toMatchObject({ actorId: ws.adminId, origin: 'restore', changes: { status: { from: 'archived', to: 'active' } } });
    const audit = (await ws.api('GET', `/audit-log?action=mass_delete.rejected`)).body.data;
    expect(audit[0].details).toEqual({ actorId: manager.id, tokenId: manager.tokenId, undo: true, restored: 3, skipped: 0 });
  });

  it('with undo, skips a contact whose email another contact took since', async () => {
    const ws = await aWorkspace(app);
    const { ids, heldId } = await aHeldManager(ws);
    const email = (await ws.api('GET', `/contacts/${ids[0]}`)).body.email;
    await ws.api('POST', '/contacts', { email });
    const rejected = await ws.api('POST', `/held-deletes/${heldId}/reject`, { undo: true });
    expect(rejected.body.outcome).toEqual({ restored: 2, skipped: 1 });
    expect(await statusesOf(ws, ids.slice(0, 3))).toEqual(['deleted', 'active', 'active']);
  });
});

describe('a held request survives a restart', () => {
  it('is still held when the server starts again on the same database, and is released there', async () => {
    const runUrl = process.env.RETRACE_TEST_DATABASE;
    const url = runUrl ? await createRunDatabase(runUrl, `held_restart_${process.pid}`) : undefined;
    const dataDir = url ? undefined : mkdtempSync(path.join(tmpdir(), 'retrace-held-'));
    const open = async (): Promise<Database> => {
      const database = url ? await connectPostgres(url, 2) : await connectPGlite(dataDir);
      await migrate(database);
      return database;
    };

    const firstDatabase = await open();
    const first = await testApp({ database: firstDatabase });
    const ws = await aWorkspace(first);
    await setMassDelete(ws, { maxContacts: 1 });
    const one = await aContact(ws);
    const two = await aContact(ws);
    const manager = await ws.userWithRole('manager');
    expect((await manager.api('DELETE', `/contacts/${one.id}`)).status).toBe(200);
    const held = await manager.api('DELETE', `/contacts/${two.id}`);
    expect(held.status).toBe(409);
    await first.server.close();
    await firstDatabase.close();

    const secondDatabase = await open();
    try {
      const second = await testApp({ database: secondDatabase });
      const api = (method: 'GET' | 'POST', url: string) => second.server.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${ws.adminToken}` } });
      const pending = JSON.parse((await api('GET', '/held-deletes?status=pending')).body);
      expect(pending.data.map((h: any) => h.id)).toEqual([held.body.error.details.heldId]);
      const released = await api('POST', `/held-deletes/${held.body.error.details.heldId}/release`);
      expect(released.statusCode).toBe(200);
      expect(JSON.parse((await api('GET', `/contacts/${two.id}`)).body)).toMatchObject({ status: 'deleted', deletedBy: manager.id });
      await second.server.close();
    } finally {
      await secondDatabase.close();
    }
  });
});

describe('the held-delete routes', () => {
  it('list held requests newest first, a page at a time, and by status', async () => {
    const ws = await aWorkspace(app);
    await setMassDelete(ws, { maxContacts: 1 });
    const ids = await someContacts(ws, 4);
    const managers = [await ws.userWithRole('manager'), await ws.userWithRole('manager')];
    const heldIds: string[] = [];
    for (const [i, manager] of managers.entries()) {
      await manager.api('DELETE', `/contacts/${ids[2 * i]}`);
      app.clock.advance(1);
      heldIds.push((await manager.api('DELETE', `/contacts/${ids[2 * i + 1]}`)).body.error.details.heldId);
    }
    await ws.api('POST', `/held-deletes/${heldIds[0]}/reject`);
    const first = await ws.api('GET', '/held-deletes?limit=1');
    expect(first.body.data.map((h: any) => h.id)).toEqual([heldIds[1]]);
    const second = await ws.api('GET', `/held-deletes?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body).toEqual({ data: [expect.objectContaining({ id: heldIds[0], status: 'rejected' })], nextCursor: null });
    expect((await ws.api('GET', '/held-deletes?status=pending')).body.data.map((h: any) => h.id)).toEqual([heldIds[1]]);
    expect((await ws.api('GET', '/held-deletes?status=rejected')).body.data.map((h: any) => h.id)).toEqual([heldIds[0]]);
  });

  it('answer 404 for another workspace’s held request and for an unknown id, changing nothing', async () => {
    const ws = await aWorkspace(app);
    const { heldId, ids } = await aHeldManager(ws);
    const other = await aWorkspace(app);
    for (const [method, url] of [
      ['GET', `/held-deletes/${heldId}`],
      ['POST', `/held-deletes/${heldId}/release`],
      ['POST', `/held-deletes/${heldId}/reject`],
      ['POST', '/held-deletes/no-such-id/release'],
      ['GET', '/held-deletes/no-such-id'],
    ] as const) {
      const res = await other.api(method, url);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await other.api('GET', '/held-deletes')).body.data).toEqual([]);
    expect((await ws.api('POST', '/held-deletes/no-such-id/reject', { undo: true })).status).toBe(404);
    expect((await ws.api('GET', `/held-deletes/${heldId}`)).body.status).toBe('pending');
    expect(await statusesOf(ws, ids.slice(3))).toEqual(['active', 'active', 'active']);
  });

  it('answer 403 without users.manage, and an undo 403 without contacts.restore, changing nothing', async () => {
    const ws = await aWorkspace(app);
    const { heldId, ids, manager } = await aHeldManager(ws);
    for (const [method, url] of [
      ['GET', '/held-deletes'],
      ['GET', `/held-deletes/${heldId}`],
      ['POST', `/held-deletes/${heldId}/release`],
      ['POST', `/held-deletes/${heldId}/reject`],
    ] as const) {
      const res = await manager.api(method, url);
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'users.manage' } });
    }
    await ws.api('POST', '/roles', { name: 'useradmin', permissions: ['users.manage', 'contacts.read'] });
    const userAdmin = await ws.userWithRole('useradmin');
    const undo = await userAdmin.api('POST', `/held-deletes/${heldId}/reject`, { undo: true });
    expect(undo.status).toBe(403);
    expect(undo.body.error.details).toEqual({ permission: 'contacts.restore' });
    expect((await ws.api('GET', `/held-deletes/${heldId}`)).body.status).toBe('pending');
    expect(await statusesOf(ws, ids)).toEqual(['deleted', 'deleted', 'archived', 'active', 'active', 'active']);
    expect((await userAdmin.api('POST', `/held-deletes/${heldId}/reject`)).status).toBe(200);
  });

  it('answer 400 for bad input, changing nothing', async () => {
    const ws = await aWorkspace(app);
    const { heldId, ids } = await aHeldManager(ws);
    const bad = [
      await ws.api('GET', '/held-deletes?status=waiting'),
      await ws.api('GET', '/held-deletes?limit=0'),
      await ws.api('GET', '/held-deletes?cursor=garbled'),
      await ws.api('POST', `/held-deletes/${heldId}/release`, { now: true }),
      await ws.api('POST', `/held-deletes/${heldId}/reject`, { undo: 'yes' }),
      await ws.api('POST', `/held-deletes/${heldId}/reject`, { undo: true, also: 1 }),
    ];
    expect(bad.map((r) => [r.status, r.body.error.code])).toEqual(Array(6).fill([400, 'invalid_request']));
    expect((await ws.api('GET', `/held-deletes/${heldId}`)).body.status).toBe('pending');
    expect(await statusesOf(ws, ids)).toEqual(['deleted', 'deleted', 'archived', 'active', 'active', 'active']);
  });

  it('answer 409 invalid_state for a held request already decided', async () => {
    const ws = await aWorkspace(app);
    const { heldId } = await aHeldManager(ws);
    expect((await ws.api('POST', `/held-deletes/${heldId}/release`)).status).toBe(200);
    for (const url of [`/held-deletes/${heldId}/release`, `/held-deletes/${heldId}/reject`]) {
      const res = await ws.api('POST', url);
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'invalid_state', details: { status: 'released' } });
    }
  });
});
