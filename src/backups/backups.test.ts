import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, capturedLog, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { runMaintenance } from '../maintenance/service.js';
import { maintenanceTasks } from '../maintenance/tasks.js';
import { backupStore, createBackup, keyStore } from './service.js';
import { keyringFileName } from './keyring.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const backupPath = (b: { fileName: string }) => backupStore(app.ctx.config).locate(b.fileName);
const keyringPath = (ws: TestWorkspace) => keyStore(app.ctx.config).locate(keyringFileName(ws.id));
const decompressed = (b: { fileName: string }) => gunzipSync(readFileSync(backupPath(b))).toString('utf8');
const keyringIds = (ws: TestWorkspace): string[] =>
  readFileSync(keyringPath(ws), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
    .filter((v) => typeof v.c === 'string' && typeof v.k === 'string')
    .map((v) => v.c)
    .sort();
const shreddedIds = (ws: TestWorkspace): string[] =>
  readFileSync(keyringPath(ws), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
    .filter((v) => v.shredded === true)
    .map((v) => v.c)
    .sort();
const noKeyFindings = { keysChecked: true, shreddedContacts: 0, missingKeys: { count: 0, contactIds: [] }, mismatchedKeys: { count: 0, contactIds: [] }, keyring: 'same' };

async function aBackup(ws: TestWorkspace, body?: unknown): Promise<any> {
  const res = await ws.api('POST', '/backups', body);
  expect(res.status).toBe(201);
  return res.body;
}

async function auditActions(ws: TestWorkspace, prefix: string): Promise<{ action: string; targetId: string; details: any }[]> {
  const res = await ws.api('GET', '/audit-log?limit=500');
  return res.body.data.filter((e: any) => e.action.startsWith(prefix)).reverse();
}

async function backupRowCount(ws: TestWorkspace): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM backups WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
  return rows[0].n;
}

/** A workspace with two contacts on a list, a tag and a deal. */
async function aSmallCrm(ws: TestWorkspace) {
  const ada = await aContact(ws, { email: 'ada.lovelace@analytical.test', firstName: 'Ada', lastName: 'Lovelace' });
  const bob = await aContact(ws, { email: 'bob.babbage@engines.test', firstName: 'Charles', lastName: 'Babbage' });
  const list = (await ws.api('POST', '/lists', { name: 'Newsletter' })).body;
  await ws.api('PUT', `/lists/${list.id}/contacts/${ada.id}`, { status: 'subscribed' });
  await ws.api('PUT', `/lists/${list.id}/contacts/${bob.id}`, { status: 'unsubscribed' });
  const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
  await ws.api('POST', `/contacts/${ada.id}/tags`, { tagId: tag.id });
  const deal = (await ws.api('POST', '/deals', { title: 'Engine', contactIds: [ada.id, bob.id] })).body;
  return { ada, bob, list, tag, deal };
}

describe('POST /backups', () => {
  it('exports the workspace as of a new snapshot, verifies it, and answers 201 with its record', async () => {
    const ws = await aWorkspace(app);
    await aSmallCrm(ws);
    const backup = await aBackup(ws);
    const snapshot = (await ws.api('GET', `/snapshots/${backup.snapshotId}`)).body;
    expect(snapshot).toMatchObject({ kind: 'manual', takenAt: backup.takenAt, label: 'Taken for a backup' });
    expect(backup).toMatchObject({ status: 'verified', error: null, createdBy: ws.adminId, fileName: `${ws.id}.${backup.id}.ndjson.gz` });
    expect(backup.verifiedAt).toBe(backup.createdAt);
    expect(backup.rowCounts).toEqual({
      workspaces: 1, roles: 3, users: 1, api_tokens: 1, lists: 1, accounts: 0, deals: 1, tags: 1, forms: 0, automations: 0,
      contacts: 2, list_memberships: 2, account_contacts: 0, deal_contacts: 2, contact_tags: 1, enrollments: 0, messages: 0,
      snapshot_settings: 0, audit_log: backup.rowCounts.audit_log,
    });
    const file = readFileSync(backupPath(backup));
    expect(backup.byteSize).toBe(file.length);
    expect(backup.sha256).toBe(createHash('sha256').update(file).digest('hex'));
    expect((await ws.api('GET', `/backups/${backup.id}`)).body).toEqual(backup);
  });

  it('holds the audit chain up to the snapshot, the snapshot.created entry included', async () => {
    const ws = await aWorkspace(app);
    await aContact(ws);
    const backup = await aBackup(ws);
    const lines = decompressed(backup).trim().split('\n').map((l) => JSON.parse(l));
    const audit = lines.filter((l) => l.t === 'audit_log').map((l) => l.r.action);
    expect(audit).toEqual(['workspace.created', 'user.created', 'contact.created', 'snapshot.created']);
    expect(backup.rowCounts.audit_log).toBe(4);
  });

  it('exports a retained snapshot given by id as it was at its takenAt, not as it is now', async () => {
    const ws = await aWorkspace(app);
    const { ada, bob } = await aSmallCrm(ws);
    const snapshot = (await ws.api('POST', '/snapshots', { label: 'before' })).body;
    app.clock.advance(60);
    await aContact(ws);
    await ws.api('DELETE', `/contacts/${ada.id}`);
    await ws.api('POST', `/contacts/${bob.id}/erase`);
    const backup = await aBackup(ws, { snapshotId: snapshot.id });
    expect(backup).toMatchObject({ snapshotId: snapshot.id, takenAt: snapshot.takenAt, status: 'verified' });
    // Bob was erased before the backup: his rows are gone from history, so from the file.
    expect(backup.rowCounts).toMatchObject({ contacts: 1, list_memberships: 1, deal_contacts: 1, contact_tags: 1, deals: 1 });
    const contactIds = decompressed(backup).split('\n').filter((l) => l.includes('"t":"contacts"')).map((l) => JSON.parse(l).c);
    expect(contactIds).toEqual([ada.id]);
  });

  it('reads history in pages: a backup read three rows at a time holds exactly the rows of one read at once', async () => {
    const ws = await aWorkspace(app);
    const { ada, bob } = await aSmallCrm(ws);
    for (let i = 0; i < 7; i += 1) await aContact(ws);
    await ws.api('PATCH', `/contacts/${bob.id}`, { firstName: 'Charlie' });
    await ws.api('DELETE', `/contacts/${ada.id}`);
    const snapshot = (await ws.api('POST', '/snapshots', {})).body;
    app.clock.advance(1);
    const change = { workspaceId: ws.id, actorId: ws.adminId, origin: 'user' as const, at: app.clock.now() };
    const whole = await createBackup(app.ctx, change, { snapshotId: snapshot.id });
    const paged = await createBackup(app.ctx, change, { snapshotId: snapshot.id }, { pageSize: 3 });
    expect(paged.rowCounts).toEqual(whole.rowCounts);
    expect(paged.rowCounts.contacts).toBe(9);
    // Sealed rows differ by their random IVs: compare which contact each is of.
    const rowsOf = (b: { fileName: string }) =>
      decompressed(b).trim().split('\n').slice(1, -1).map((l) => { const v = JSON.parse(l); return JSON.stringify(v.r ?? [v.t, v.c]); }).sort();
    expect(rowsOf(paged)).toEqual(rowsOf(whole));
  });

  it('writes no contact email or name in plaintext into the file', async () => {
    const ws = await aWorkspace(app);
    await aSmallCrm(ws);
    await ws.api('POST', '/forms', { name: 'Signup' });
    const text = decompressed(await aBackup(ws));
    // Sealed payloads are random-looking base64, in which a short name like 'Ada' turns up
    // by chance: the search is over everything else.
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const sealed = lines.filter((v) => typeof v.e === 'string');
    expect(sealed.length).toBeGreaterThan(0);
    const outsideSealed = lines.map(({ e: _sealed, ...rest }) => JSON.stringify(rest)).join('\n');
    for (const secret of ['ada.lovelace', 'analytical.test', 'Lovelace', 'Ada', 'bob.babbage', 'Babbage', 'Charles']) {
      expect(outsideSealed.includes(secret), secret).toBe(false);
    }
    expect(text).toContain('Newsletter');
  });

  it('answers 422 point_not_recoverable for a snapshot id that is no retained snapshot, and writes nothing', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const kept = (await ws.api('POST', '/snapshots', {})).body;
    const deleted = (await ws.api('POST', '/snapshots', {})).body;
    await ws.api('DELETE', `/snapshots/${deleted.id}`);
    const foreign = (await other.api('POST', '/snapshots', {})).body;
    for (const snapshotId of ['no-such-snapshot', deleted.id, foreign.id]) {
      const res = await ws.api('POST', '/backups', { snapshotId });
      expect(res.status).toBe(422);
      expect(res.body.error).toMatchObject({ code: 'point_not_recoverable', details: { snapshotId, nearest: [kept.takenAt] } });
    }
    expect(await backupRowCount(ws)).toBe(0);
    expect(await auditActions(ws, 'backup.')).toEqual([]);
  });

  it('answers 400 for unknown body fields or an empty snapshotId', async () => {
    const ws = await aWorkspace(app);
    for (const body of [{ snapshot: 'x' }, { snapshotId: '' }, { snapshotId: 7 }]) {
      const res = await ws.api('POST', '/backups', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect(await backupRowCount(ws)).toBe(0);
  });

  it('needs snapshots.manage for every backup route', async () => {
    const ws = await aWorkspace(app);
    const backup = await aBackup(ws);
    const manager = await ws.userWithRole('manager');
    for (const [method, url] of [['POST', '/backups'], ['GET', '/backups'], ['GET', `/backups/${backup.id}`], ['POST', `/backups/${backup.id}/verify`], ['DELETE', `/backups/${backup.id}`]] as const) {
      const res = await manager.api(method, url);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.error.details).toEqual({ permission: 'snapshots.manage' });
    }
    expect(await backupRowCount(ws)).toBe(1);
  });

  it('records backup.created and backup.verified in the audit log', async () => {
    const ws = await aWorkspace(app);
    const backup = await aBackup(ws);
    expect(await auditActions(ws, 'backup.')).toEqual([
      expect.objectContaining({ action: 'backup.created', targetId: backup.id, details: { snapshotId: backup.snapshotId, takenAt: backup.takenAt, byteSize: backup.byteSize, sha256: backup.sha256, rowCounts: backup.rowCounts } }),
      expect.objectContaining({ action: 'backup.verified', targetId: backup.id, details: { ok: true, shreddedRows: 0, ...noKeyFindings } }),
    ]);
  });
});

describe('GET /backups', () => {
  it('lists the workspace’s backups newest first, paged with a cursor', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    await aBackup(other);
    const made = [];
    for (let i = 0; i < 3; i += 1) {
      made.push(await aBackup(ws));
      app.clock.advance(1);
    }
    const first = await ws.api('GET', '/backups?limit=2');
    expect(first.body.data.map((b: any) => b.id)).toEqual([made[2].id, made[1].id]);
    const second = await ws.api('GET', `/backups?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body).toEqual({ data: [made[0]], nextCursor: null });
    expect((await ws.api('GET', '/backups?cursor=garbled')).status).toBe(400);
  });

  it('answers 404 for an unknown backup or another workspace’s, on every route', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const theirs = await aBackup(other);
    for (const id of ['nope', theirs.id]) {
      for (const [method, url] of [['GET', `/backups/${id}`], ['POST', `/backups/${id}/verify`], ['DELETE', `/backups/${id}`]] as const) {
        const res = await ws.api(method, url);
        expect(res.status, `${method} ${url}`).toBe(404);
        expect(res.body.error.code).toBe('not_found');
      }
    }
    expect((await other.api('GET', `/backups/${theirs.id}`)).body.status).toBe('verified');
  });
});

describe('POST /backups/:id/verify', () => {
  it('verifies an intact backup again', async () => {
    const ws = await aWorkspace(app);
    await aSmallCrm(ws);
    const backup = await aBackup(ws);
    app.clock.advance(30);
    const res = await ws.api('POST', `/backups/${backup.id}/verify`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...backup, verifiedAt: res.body.verifiedAt });
    expect(Date.parse(res.body.verifiedAt)).toBeGreaterThan(Date.parse(backup.verifiedAt));
  });

  it('fails a file with one byte changed: its SHA-256 is not the one recorded', async () => {
    const ws = await aWorkspace(app);
    const backup = await aBackup(ws);
    const file = readFileSync(backupPath(backup));
    file[Math.floor(file.length / 2)] ^= 0xff;
    writeFileSync(backupPath(backup), file);
    const res = await ws.api('POST', `/backups/${backup.id}/verify`);
    expect(res.body.status).toBe('failed');
    expect(res.body.error).toMatch(/^the file is not the one written: \d+ bytes with SHA-256 [0-9a-f]{64}, recorded \d+ bytes/);
    const audit = await auditActions(ws, 'backup.verified');
    expect(audit.at(-1)?.details).toEqual({ ok: false, error: res.body.error });
  });

  it('fails a truncated file even when the record is changed to match it', async () => {
    const ws = await aWorkspace(app);
    await aSmallCrm(ws);
    const backup = await aBackup(ws);
    const truncated = readFileSync(backupPath(backup)).subarray(0, Math.floor(backup.byteSize * 0.8));
    writeFileSync(backupPath(backup), truncated);
    await matchRecordToFile(ws, backup.id, truncated);
    const res = await ws.api('POST', `/backups/${backup.id}/verify`);
    expect(res.body).toMatchObject({ status: 'failed', error: expect.stringMatching(/^the backup file (cannot be read: unexpected end of file|ends in the middle of a line)/) });
  });

  it('fails a file whose sealed contact row was altered and recompressed, even with a matching record', async () => {
    const ws = await aWorkspace(app);
    await aSmallCrm(ws);
    const backup = await aBackup(ws);
    const lines = decompressed(backup).split('\n');
    const at = lines.findIndex((l) => l.includes('"t":"contacts"'));
    const line = JSON.parse(lines[at]);
    const bytes = Buffer.from(line.e, 'base64');
    bytes[20] ^= 0x01;
    lines[at] = JSON.stringify({ ...line, e: bytes.toString('base64') });
    const forged = gzipSync(lines.join('\n'));
    writeFileSync(backupPath(backup), forged);
    await matchRecordToFile(ws, backup.id, forged);
    const res = await ws.api('POST', `/backups/${backup.id}/verify`);
    expect(res.body).toMatchObject({ status: 'failed', error: `line ${at + 1}: a contacts row of contact ${line.c} does not decrypt with its key` });
  });

  it('fails a file whose rows per table differ from the record', async () => {
    const ws = await aWorkspace(app);
    await aSmallCrm(ws);
    const backup = await aBackup(ws);
    await sql`UPDATE backups SET row_counts = row_counts || '{"lists": 2}'::jsonb WHERE workspace_id = ${ws.id} AND id = ${backup.id}`.execute(app.ctx.db);
    const res = await ws.api('POST', `/backups/${backup.id}/verify`);
    expect(res.body).toMatchObject({ status: 'failed', error: 'the file holds 1 lists rows, the record says 2' });
  });

  it('fails a backup when the workspace’s keyring is gone from the key store', async () => {
    const ws = await aWorkspace(app);
    await aContact(ws);
    const backup = await aBackup(ws);
    await keyStore(app.ctx.config).remove(keyringFileName(ws.id));
    expect((await ws.api('POST', `/backups/${backup.id}/verify`)).body).toMatchObject({ status: 'failed', error: "the workspace's keyring is missing from the key store" });
  });

  it('fails a backup whose file is gone from the store, and verifies it again once it is back', async () => {
    const ws = await aWorkspace(app);
    const backup = await aBackup(ws);
    const file = readFileSync(backupPath(backup));
    await backupStore(app.ctx.config).remove(backup.fileName);
    expect((await ws.api('POST', `/backups/${backup.id}/verify`)).body).toMatchObject({ status: 'failed', error: 'the file is missing from the backup store' });
    writeFileSync(backupPath(backup), file);
    expect((await ws.api('POST', `/backups/${backup.id}/verify`)).body).toMatchObject({ status: 'verified', error: null });
  });
});

/** Makes the record say the file is what it now is, as someone with write access to both could. */
async function matchRecordToFile(ws: TestWorkspace, id: string, file: Buffer): Promise<void> {
  await sql`UPDATE backups SET byte_size = ${file.length}, sha256 = ${createHash('sha256').update(file).digest('hex')}
            WHERE workspace_id = ${ws.id} AND id = ${id}`.execute(app.ctx.db);
}

describe('DELETE /backups/:id', () => {
  it('removes the file and the record, and records backup.deleted', async () => {
    const ws = await aWorkspace(app);
    const backup = await aBackup(ws);
    const kept = await aBackup(ws);
    const res = await ws.api('DELETE', `/backups/${backup.id}`);
    expect(res.status).toBe(204);
    expect(() => statSync(backupPath(backup))).toThrow(/ENOENT/);
    expect((await ws.api('GET', `/backups/${backup.id}`)).status).toBe(404);
    expect((await ws.api('GET', '/backups')).body.data.map((b: any) => b.id)).toEqual([kept.id]);
    expect((await auditActions(ws, 'backup.deleted'))).toEqual([
      expect.objectContaining({ targetId: backup.id, details: { snapshotId: backup.snapshotId, takenAt: backup.takenAt, fileName: backup.fileName } }),
    ]);
    expect((await ws.api('DELETE', `/backups/${backup.id}`)).status).toBe(404);
  });
});

describe('crypto-shredding', () => {
  it('keeps a key per backed-up contact in the keyring file, apart from the backups', async () => {
    const ws = await aWorkspace(app);
    const { ada, bob } = await aSmallCrm(ws);
    await aBackup(ws);
    expect(keyringIds(ws)).toEqual([ada.id, bob.id].sort());
    expect(keyringPath(ws).startsWith(app.ctx.config.backupKeyDir)).toBe(true);
  });

  it('erasing a contact destroys its key and rewrites the keyring before answering; old backups still verify, its rows shredded', async () => {
    const ws = await aWorkspace(app);
    const { ada, bob } = await aSmallCrm(ws);
    const backup = await aBackup(ws);
    const res = await ws.api('POST', `/contacts/${ada.id}/erase`);
    expect(res.status).toBe(200);
    expect(keyringIds(ws)).toEqual([bob.id]);
    expect(shreddedIds(ws)).toEqual([ada.id]);
    const { rows } = await sql`SELECT contact_id FROM backup_keys WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
    expect(rows).toEqual([{ contact_id: bob.id }]);
    const verified = await ws.api('POST', `/backups/${backup.id}/verify`);
    expect(verified.body.status).toBe('verified');
    // The keyring was rewritten since the backup: another generation, checked key by key.
    expect(verified.body.verification).toEqual({ ...noKeyFindings, shreddedContacts: 1, keyring: 'other_generation' });
    // Ada's contact row, her two memberships (list, deal) and her tag.
    expect((await auditActions(ws, 'backup.verified')).at(-1)?.details).toEqual({ ok: true, shreddedRows: 4, ...noKeyFindings, shreddedContacts: 1, keyring: 'other_generation' });
  });

  it('the purge of a contact past retention destroys its key too', async () => {
    const ws = await aWorkspace(app);
    const { ada, bob } = await aSmallCrm(ws);
    await aBackup(ws);
    await ws.api('DELETE', `/contacts/${bob.id}`);
    app.clock.advance(31 * 86_400);
    const ran = (await ws.api('POST', '/maintenance/run')).body.ran;
    expect(ran.purge).toBe(1);
    expect(keyringIds(ws)).toEqual([ada.id]);
    expect(shreddedIds(ws)).toEqual([bob.id]);
  });

  it('the maintenance pass rewrites a keyring left stale (a rewrite that failed)', async () => {
    const ws = await aWorkspace(app);
    const { ada, bob } = await aSmallCrm(ws);
    await aBackup(ws);
    // Keys destroyed without the rewrite that follows an erasure: the trigger marks the keyring stale.
    await sql`DELETE FROM backup_keys WHERE workspace_id = ${ws.id} AND contact_id = ${bob.id}`.execute(app.ctx.db);
    expect(keyringIds(ws)).toEqual([ada.id, bob.id].sort());
    const ran = (await ws.api('POST', '/maintenance/run')).body.ran;
    expect(ran.backupKeyrings).toBe(1);
    expect(keyringIds(ws)).toEqual([ada.id]);
    expect((await ws.api('POST', '/maintenance/run')).body.ran.backupKeyrings).toBe(0);
  });

  it('an erasure racing a backup leaves no key of the erased contact, in the database or in the keyring', async () => {
    const ws = await aWorkspace(app);
    const contacts = [];
    for (let i = 0; i < 12; i += 1) contacts.push(await aContact(ws));
    const change = { workspaceId: ws.id, actorId: ws.adminId, origin: 'user' as const, at: app.clock.now() };
    const erased = contacts.filter((_, i) => i % 3 === 0);
    const [backup] = await Promise.all([
      createBackup(app.ctx, change, {}, { pageSize: 2 }),
      ...erased.map((c) => ws.api('POST', `/contacts/${c.id}/erase`)),
    ]);
    expect(backup.status).toBe('verified');
    const kept = contacts.filter((c) => !erased.includes(c)).map((c) => c.id).sort();
    const { rows } = await sql<{ contact_id: string }>`SELECT contact_id FROM backup_keys WHERE workspace_id = ${ws.id} ORDER BY contact_id`.execute(app.ctx.db);
    expect(rows.map((r) => r.contact_id)).toEqual(kept);
    expect(keyringIds(ws)).toEqual(kept);
  });

  it('a second backup reuses the contacts’ keys', async () => {
    const ws = await aWorkspace(app);
    await aSmallCrm(ws);
    await aBackup(ws);
    const before = readFileSync(keyringPath(ws), 'utf8').split('\n').slice(1);
    await aBackup(ws);
    expect(readFileSync(keyringPath(ws), 'utf8').split('\n').slice(1)).toEqual(before);
  });
});

describe('scheduled backups', () => {
  async function maintain(ws: TestWorkspace): Promise<Record<string, number>> {
    const res = await ws.api('POST', '/maintenance/run');
    expect(res.status).toBe(200);
    return res.body.ran;
  }

  it('exports nothing on their own until asked: the schedule is off by default', async () => {
    const ws = await aWorkspace(app);
    expect((await ws.api('GET', '/backups/schedule')).body).toEqual({ export: 'off', keep: null });
    app.clock.advance(2 * 3600);
    expect((await maintain(ws)).scheduledBackups).toBe(0);
    expect((await ws.api('GET', '/backups')).body.data).toEqual([]);
  });

  it('exports the newest hourly snapshot at each pass, verified, once each, and leaves a backup deleted by hand deleted', async () => {
    const ws = await aWorkspace(app);
    await aContact(ws, { email: 'kept@example.com' });
    expect((await ws.api('PUT', '/backups/schedule', { export: 'hourly' })).body).toEqual({ export: 'hourly', keep: null });
    app.clock.advance(3600);
    expect((await maintain(ws)).scheduledBackups).toBe(1);
    expect((await maintain(ws)).scheduledBackups).toBe(0);
    const first = (await ws.api('GET', '/backups')).body.data;
    const hourly = (await ws.api('GET', '/snapshots')).body.data.filter((s: { kind: string }) => s.kind === 'hourly');
    expect(first).toEqual([expect.objectContaining({ snapshotId: hourly[0].id, status: 'verified', createdBy: null, scheduled: true })]);
    expect(first[0].rowCounts.contacts).toBe(1);

    expect((await ws.api('DELETE', `/backups/${first[0].id}`)).status).toBe(204);
    expect((await maintain(ws)).scheduledBackups).toBe(0);
    app.clock.advance(3600);
    expect((await maintain(ws)).scheduledBackups).toBe(1);
    const second = (await ws.api('GET', '/backups')).body.data;
    expect(second.map((b: { snapshotId: string }) => b.snapshotId)).toEqual([(await ws.api('GET', '/snapshots')).body.data[0].id]);

    expect((await ws.api('PUT', '/backups/schedule', { export: 'off' })).body).toEqual({ export: 'off', keep: null });
    app.clock.advance(3600);
    expect((await maintain(ws)).scheduledBackups).toBe(0);
    const audit = await auditActions(ws, 'backup_schedule.');
    expect(audit.map((e) => e.details)).toEqual([
      { before: { export: 'off', keep: null }, after: { export: 'hourly', keep: null } },
      { before: { export: 'hourly', keep: null }, after: { export: 'off', keep: null } },
    ]);
  });

  it('keeps only the newest `keep` scheduled backups, removing older ones as a delete would, and never one made by hand', async () => {
    const ws = await aWorkspace(app);
    const byHand = (await ws.api('POST', '/backups', {})).body;
    expect(byHand.scheduled).toBe(false);
    expect((await ws.api('PUT', '/backups/schedule', { export: 'hourly', keep: 2 })).body).toEqual({ export: 'hourly', keep: 2 });
    const made: string[] = [];
    for (let hour = 0; hour < 4; hour += 1) {
      app.clock.advance(3600);
      expect((await maintain(ws)).scheduledBackups).toBe(1);
      made.push((await ws.api('GET', '/backups')).body.data[0].id);
    }
    const left = (await ws.api('GET', '/backups')).body.data;
    expect(left.map((b: { id: string }) => b.id)).toEqual([made[3], made[2], byHand.id]);
    const removed = await auditActions(ws, 'backup.deleted');
    expect(removed.map((e) => e.targetId).sort()).toEqual([made[0], made[1]].sort());
    expect((await ws.api('GET', `/backups/${made[0]}`)).status).toBe(404);
  });

  it('counts what it keeps by when backups were made: after a change of kind, the backup of an older snapshot is the newest', async () => {
    const ws = await aWorkspace(app);
    // A day at a time, so the pass takes the Saturday snapshot of the week it goes through.
    for (let day = 0; day < 8; day += 1) {
      app.clock.advance(86_400);
      await maintain(ws);
    }
    await ws.api('PUT', '/backups/schedule', { export: 'hourly', keep: 2 });
    const hourly: string[] = [];
    for (let hour = 0; hour < 2; hour += 1) {
      app.clock.advance(3600);
      expect((await maintain(ws)).scheduledBackups).toBe(1);
      hourly.push((await ws.api('GET', '/backups')).body.data[0].id);
    }
    await ws.api('PUT', '/backups/schedule', { export: 'weekly', keep: 2 });
    expect((await maintain(ws)).scheduledBackups).toBe(1);
    const left = (await ws.api('GET', '/backups')).body.data;
    const weekly = (await ws.api('GET', '/snapshots?limit=500')).body.data.find((snapshot: { kind: string }) => snapshot.kind === 'weekly');
    expect(left.map((b: { id: string; snapshotId: string }) => b.snapshotId === weekly.id || b.id)).toEqual([true, hourly[1]]);
  });

  it('logs a scheduled backup the store refuses, lets the rest of the pass run, and makes it at the next pass', async () => {
    const ws = await aWorkspace(app);
    await ws.api('PUT', '/backups/schedule', { export: 'hourly' });
    app.clock.advance(3600);
    const dir = app.ctx.config.backupDir;
    renameSync(dir, `${dir}.away`);
    writeFileSync(dir, 'not a directory');
    const { log, lines } = capturedLog();
    try {
      const ran = await runMaintenance({ ...app.ctx, log }, maintenanceTasks, ws.id);
      expect(ran).toMatchObject({ snapshots: 1, scheduledBackups: 0 });
      expect(lines.map((line) => ({ level: line.level, msg: line.msg, workspaceId: line.workspaceId, code: line.err.code }))).toEqual([
        { level: 50, msg: 'scheduled backup failed', workspaceId: ws.id, code: 'EEXIST' },
      ]);
    } finally {
      rmSync(dir);
      renameSync(`${dir}.away`, dir);
    }
    expect((await ws.api('GET', '/backups')).body.data).toEqual([]);
    expect((await maintain(ws)).scheduledBackups).toBe(1);
  });

  it('refuses a schedule that is not off, hourly, weekly or monthly, and needs snapshots.manage', async () => {
    const ws = await aWorkspace(app);
    for (const body of [{ export: 'daily' }, {}, { export: 'hourly', extra: 1 }, { export: null }, { export: 'hourly', keep: 0 }, { export: 'hourly', keep: 1001 }, { export: 'hourly', keep: 2.5 }, { export: 'hourly', keep: '3' }]) {
      const res = await ws.api('PUT', '/backups/schedule', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    const manager = await ws.userWithRole('manager');
    expect((await manager.api('PUT', '/backups/schedule', { export: 'weekly' })).body.error).toMatchObject({ code: 'forbidden', details: { permission: 'snapshots.manage' } });
    expect((await manager.api('GET', '/backups/schedule')).status).toBe(403);
    expect((await ws.api('GET', '/backups/schedule')).body).toEqual({ export: 'off', keep: null });
  });
});
