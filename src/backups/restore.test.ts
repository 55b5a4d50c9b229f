import { createReadStream, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { emptyDatabases } from '../test-support/empty-databases.js';
import type { Database, Db } from '../db/database.js';
import { chainPendingEntries, verifyAuditChain } from '../audit/service.js';
import { AppError } from '../http/errors.js';
import { backupStore, createBackup, keyStore } from './service.js';
import { keyringFileName } from './keyring.js';
import { backupTables, UnreadableBackup } from './file.js';
import { restoreBackup } from './restore.js';

let app: TestApp;
const targets = emptyDatabases('restore');
const anEmptyDatabase = targets.anEmptyDatabase;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => targets.closeAll());

const filesOf = (ws: TestWorkspace, backup: { fileName: string }) => ({
  file: backupStore(app.ctx.config).locate(backup.fileName),
  keyring: keyStore(app.ctx.config).locate(keyringFileName(ws.id)),
});

const restoreInto = (database: Database, files: { file: string; keyring: string }, options: { batchSize?: number } = {}) =>
  restoreBackup(database, app.clock, { file: () => createReadStream(files.file), keyring: () => createReadStream(files.keyring) }, options);

type Dump = Record<string, Record<string, unknown>[]>;

/** Every row of the workspace in every table a backup holds (audit entries up to `lastAuditId`), in UTC, sorted. */
async function dumpWorkspace(db: Db, workspaceId: string, lastAuditId: number): Promise<Dump> {
  // Audit entries as every reader sees them: chained (they join the chain after commit).
  await chainPendingEntries(db, workspaceId);
  return db.transaction().execute(async (tx) => {
    await sql`SELECT set_config('TimeZone', 'UTC', true)`.execute(tx);
    const dump: Dump = {};
    for (const table of backupTables) {
      const owner = table.tableName === 'workspaces' ? sql`x.id` : sql`x.workspace_id`;
      const onlyChain = table.tableName === 'audit_log' ? sql`AND x.id <= ${lastAuditId}` : sql``;
      const { rows } = await sql<{ row: Record<string, unknown> }>`
        SELECT to_jsonb(x) AS row FROM ${sql.table(table.tableName)} x WHERE ${owner} = ${workspaceId} ${onlyChain}`.execute(tx);
      dump[table.tableName] = rows.map((r) => r.row).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    }
    return dump;
  });
}

async function lastAuditId(db: Db, workspaceId: string): Promise<number> {
  const { rows } = await sql<{ id: number }>`SELECT max(id) AS id FROM audit_log WHERE workspace_id = ${workspaceId}`.execute(db);
  return rows[0].id;
}

async function workspaceCount(database: Database): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM workspaces`.execute(database.db);
  return rows[0].n;
}

/** A workspace using every table a backup holds. */
async function aFullCrm(ws: TestWorkspace) {
  const list = (await ws.api('POST', '/lists', { name: 'Newsletter' })).body;
  const automation = (await ws.api('POST', '/automations', { name: 'Welcome', trigger: { type: 'contact.created' }, steps: [{ type: 'send_email', subject: 'Hello' }, { type: 'wait', seconds: 3600 }] })).body;
  await ws.api('POST', '/forms', { name: 'Signup', listId: list.id });
  await ws.api('POST', '/roles', { name: 'Auditor', permissions: ['audit.read'] });
  await ws.userWithRole('Auditor');
  await ws.api('PATCH', '/snapshots/settings', { hourly: { keepHours: 24 } });
  const [ada, bob, carol, dave] = [await aContact(ws), await aContact(ws), await aContact(ws), await aContact(ws)];
  await ws.api('PATCH', `/contacts/${ada.id}`, { phone: '+44 20 7946 0000', fields: { plan: 'gold', seats: 3 } });
  await ws.api('PUT', `/lists/${list.id}/contacts/${ada.id}`, { status: 'subscribed' });
  await ws.api('PUT', `/lists/${list.id}/contacts/${bob.id}`, { status: 'bounced' });
  const account = (await ws.api('POST', '/accounts', { name: 'Analytical Engines' })).body;
  await ws.api('PUT', `/accounts/${account.id}/contacts/${ada.id}`, { jobTitle: 'Countess' });
  const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
  await ws.api('POST', `/contacts/${bob.id}/tags`, { tagId: tag.id });
  const deal = (await ws.api('POST', '/deals', { title: 'Engine', value: 1200.5, stage: 'won', contactIds: [ada.id, bob.id, carol.id], primaryContactId: bob.id })).body;
  // Enrols the four and sends them the first step; leaving pauses Carol's and Dave's.
  expect((await ws.api('POST', '/maintenance/run')).status).toBe(200);
  await ws.api('POST', `/contacts/${carol.id}/archive`);
  await ws.api('DELETE', `/contacts/${dave.id}`);
  return { list, automation, account, tag, deal, ada, bob, carol, dave };
}

describe('restoring a backup into an empty database', () => {
  it('gives back every table of the workspace exactly as it was at the snapshot', async () => {
    const ws = await aWorkspace(app);
    const { ada, bob, list } = await aFullCrm(ws);
    const snapshot = (await ws.api('POST', '/snapshots', { label: 'T' })).body;
    const chainEnd = await lastAuditId(app.ctx.db, ws.id);
    const atSnapshot = await dumpWorkspace(app.ctx.db, ws.id, chainEnd);
    for (const table of backupTables) expect(atSnapshot[table.tableName].length, table.tableName).toBeGreaterThan(0);
    expect(atSnapshot.messages).toHaveLength(4);
    expect(atSnapshot.enrollments).toHaveLength(4);
    // Changes after the snapshot, which the backup must not hold.
    app.clock.advance(120);
    await ws.api('PATCH', `/contacts/${bob.id}`, { firstName: 'Changed' });
    await ws.api('DELETE', `/contacts/${ada.id}`);
    await ws.api('DELETE', `/lists/${list.id}`);
    await aContact(ws);
    // Small pages and batches, so paging is part of what is compared.
    const change = { workspaceId: ws.id, actorId: ws.adminId, origin: 'user' as const, at: app.clock.now() };
    const backup = await createBackup(app.ctx, change, { snapshotId: snapshot.id }, { pageSize: 3 });
    expect(backup.status).toBe('verified');

    const target = await anEmptyDatabase();
    const summary = await restoreInto(target, filesOf(ws, backup), { batchSize: 2 });
    expect(summary).toMatchObject({ workspaceId: ws.id, backupId: backup.id, snapshotId: snapshot.id, takenAt: snapshot.takenAt, skippedContacts: 0, dealsDeleted: [] });
    expect(summary.restored).toEqual(backup.rowCounts);
    expect(Object.values(summary.skipped).every((n) => n === 0)).toBe(true);
    const restored = await dumpWorkspace(target.db, ws.id, chainEnd);
    for (const table of backupTables) expect(restored[table.tableName], table.tableName).toEqual(atSnapshot[table.tableName]);
  });

  it('keeps the audit chain verifiable, records backup.restored on it, and captures the rows in history with origin backup', async () => {
    const ws = await aWorkspace(app);
    const { ada } = await aFullCrm(ws);
    const backup = (await ws.api('POST', '/backups')).body;
    const target = await anEmptyDatabase();
    const summary = await restoreInto(target, filesOf(ws, backup));
    expect(await verifyAuditChain(target.db, ws.id)).toEqual({ ok: true, entries: backup.rowCounts.audit_log + 1 });
    const { rows: last } = await sql<{ action: string; target_id: string; details: any }>`
      SELECT action, target_id, details FROM audit_log WHERE workspace_id = ${ws.id} ORDER BY id DESC LIMIT 1`.execute(target.db);
    expect(last[0]).toEqual({
      action: 'backup.restored',
      target_id: backup.id,
      details: {
        snapshotId: backup.snapshotId,
        takenAt: backup.takenAt,
        restored: summary.restored,
        skipped: summary.skipped,
        skippedContacts: 0,
        missingKeys: { count: 0, contactIds: [] },
        keyring: 'same',
        dealsDeleted: [],
      },
    });
    const { rows: origins } = await sql<{ origin: string; op: string; n: number }>`
      SELECT origin, op, count(*)::int AS n FROM history WHERE workspace_id = ${ws.id} AND contact_id = ${ada.id} GROUP BY origin, op`.execute(target.db);
    expect(origins).toEqual([{ origin: 'backup', op: 'insert', n: 6 }]);
  });

  it('leaves out a contact erased after the backup, with its associations, keeps the others, and gives its deals another primary', async () => {
    const ws = await aWorkspace(app);
    const ada = await aContact(ws, { email: 'ada.lovelace@analytical.test', firstName: 'Ada', lastName: 'Lovelace' });
    const bob = await aContact(ws);
    const list = (await ws.api('POST', '/lists', { name: 'Newsletter' })).body;
    for (const c of [ada, bob]) await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'subscribed' });
    const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    await ws.api('POST', `/contacts/${ada.id}/tags`, { tagId: tag.id });
    const shared = (await ws.api('POST', '/deals', { title: 'Shared', contactIds: [ada.id, bob.id] })).body;
    const hers = (await ws.api('POST', '/deals', { title: 'Hers alone', contactIds: [ada.id] })).body;
    const backup = (await ws.api('POST', '/backups')).body;
    app.clock.advance(60);
    expect((await ws.api('POST', `/contacts/${ada.id}/erase`)).status).toBe(200);

    const target = await anEmptyDatabase();
    const summary = await restoreInto(target, filesOf(ws, backup));
    expect(summary.skippedContacts).toBe(1);
    expect(summary.skipped).toMatchObject({ contacts: 1, list_memberships: 1, deal_contacts: 2, contact_tags: 1 });
    expect(summary.restored).toMatchObject({ contacts: 1, list_memberships: 1, deal_contacts: 1, contact_tags: 0, deals: 2 });
    expect(summary.dealsDeleted).toEqual([hers.id]);
    const { rows: contacts } = await sql<{ id: string }>`SELECT id FROM contacts WHERE workspace_id = ${ws.id}`.execute(target.db);
    expect(contacts).toEqual([{ id: bob.id }]);
    const { rows: deals } = await sql<{ id: string; primary_contact_id: string | null; deleted: boolean }>`
      SELECT id, primary_contact_id, deleted_at IS NOT NULL AS deleted FROM deals WHERE workspace_id = ${ws.id} ORDER BY title DESC`.execute(target.db);
    expect(deals).toEqual([
      { id: shared.id, primary_contact_id: bob.id, deleted: false },
      { id: hers.id, primary_contact_id: null, deleted: true },
    ]);
    // Nowhere but in the audit log (by id only, as in the live database) is she named.
    const dump = await dumpWorkspace(target.db, ws.id, Number.MAX_SAFE_INTEGER);
    for (const table of backupTables.filter((t) => t.tableName !== 'audit_log')) {
      const text = JSON.stringify(dump[table.tableName]);
      expect(text.includes(ada.id) || text.includes('Lovelace') || text.includes('analytical.test'), table.tableName).toBe(false);
    }
    const { rows: history } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM history WHERE workspace_id = ${ws.id} AND (contact_id = ${ada.id} OR after::text LIKE ${'%' + 'Lovelace' + '%'})`.execute(target.db);
    expect(history[0].n).toBe(0);
  });

  it('refuses a database that already holds a workspace, changing nothing', async () => {
    const ws = await aWorkspace(app);
    await aContact(ws);
    const backup = (await ws.api('POST', '/backups')).body;
    const target = await anEmptyDatabase();
    await restoreInto(target, filesOf(ws, backup));
    const before = await dumpWorkspace(target.db, ws.id, Number.MAX_SAFE_INTEGER);
    const refusal = await restoreInto(target, filesOf(ws, backup)).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal).toMatchObject({ status: 409, code: 'invalid_state', message: 'The target database already holds a workspace: a backup is restored only into an empty database' });
    expect(await workspaceCount(target)).toBe(1);
    expect(await dumpWorkspace(target.db, ws.id, Number.MAX_SAFE_INTEGER)).toEqual(before);
  });

  describe('refuses, leaving the target empty,', () => {
    let empty: Database;
    let ws: TestWorkspace;
    let files: { file: string; keyring: string };
    let scratch: string;
    beforeAll(async () => {
      empty = await anEmptyDatabase();
      ws = await aWorkspace(app);
      for (let i = 0; i < 30; i += 1) await aContact(ws);
      files = filesOf(ws, (await ws.api('POST', '/backups')).body);
      scratch = mkdtempSync(path.join(tmpdir(), 'retrace-restore-'));
    });

    async function expectRefused(input: { file: string; keyring: string }, message: RegExp): Promise<void> {
      const refusal = await restoreInto(empty, input).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(UnreadableBackup);
      expect((refusal as Error).message).toMatch(message);
      expect(await workspaceCount(empty)).toBe(0);
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM history`.execute(empty.db);
      expect(rows[0].n).toBe(0);
    }

    it('a truncated file', async () => {
      const bytes = readFileSync(files.file);
      const truncated = path.join(scratch, 'truncated.ndjson.gz');
      writeFileSync(truncated, bytes.subarray(0, bytes.length - 200));
      await expectRefused({ ...files, file: truncated }, /^the backup file (cannot be read: unexpected end of file|ends in the middle of a line)/);
    });

    it('a header whose list of tables is not a list of names', async () => {
      const [header, ...rest] = gunzipSync(readFileSync(files.file)).toString('utf8').split('\n');
      const forged = path.join(scratch, 'forged-header.ndjson.gz');
      writeFileSync(forged, gzipSync([JSON.stringify({ ...JSON.parse(header), tables: 'contacts' }), ...rest].join('\n')));
      await expectRefused({ ...files, file: forged }, /^the header has no list of tables$/);
    });

    it('a file that is not a backup', async () => {
      const other = path.join(scratch, 'other.ndjson.gz');
      writeFileSync(other, 'hello');
      await expectRefused({ ...files, file: other }, /^the backup file cannot be read: incorrect header check/);
    });

    it('a keyring of another workspace', async () => {
      const other = await aWorkspace(app);
      await aContact(other);
      const theirs = filesOf(other, (await other.api('POST', '/backups')).body);
      await expectRefused({ ...files, keyring: theirs.keyring }, new RegExp(`^the keyring is workspace ${other.id}'s, the backup workspace ${ws.id}'s$`));
    });

    it('a missing keyring file', async () => {
      await expectRefused({ ...files, keyring: path.join(scratch, 'nowhere.ndjson') }, /^the keyring cannot be read: ENOENT/);
    });
  });
});
