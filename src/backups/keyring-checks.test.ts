import { createReadStream, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { emptyDatabases } from '../test-support/empty-databases.js';
import type { Database } from '../db/database.js';
import { backupStore, keyStore } from './service.js';
import { keyringFileName } from './keyring.js';
import { MissingKeys, restoreBackup } from './restore.js';

let app: TestApp;
const targets = emptyDatabases('keyring');
const anEmptyDatabase = targets.anEmptyDatabase;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => targets.closeAll());

const backupPath = (b: { fileName: string }) => backupStore(app.ctx.config).locate(b.fileName);
const keyringPath = (ws: TestWorkspace) => keyStore(app.ctx.config).locate(keyringFileName(ws.id));

type Line = Record<string, any>;
const keyringLines = (ws: TestWorkspace): Line[] => readFileSync(keyringPath(ws), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
/** Writes the keyring back with its end's counts made to match the lines, as a careful forger would. */
function writeKeyring(ws: TestWorkspace, lines: Line[]): void {
  const body = lines.filter((l) => l.end !== true);
  const keys = body.filter((l) => typeof l.k === 'string').length;
  const shredded = body.filter((l) => l.shredded === true).length;
  writeFileSync(keyringPath(ws), [...body, { end: true, keys, shredded }].map((l) => `${JSON.stringify(l)}\n`).join(''));
}

async function aBackupOf(ws: TestWorkspace, n: number): Promise<{ backup: any; contacts: { id: string }[] }> {
  const contacts = [];
  for (let i = 0; i < n; i += 1) contacts.push(await aContact(ws));
  const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
  for (const c of contacts) await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'subscribed' });
  const res = await ws.api('POST', '/backups');
  expect(res.status).toBe(201);
  return { backup: res.body, contacts };
}

const verify = async (ws: TestWorkspace, backup: { id: string }) => (await ws.api('POST', `/backups/${backup.id}/verify`)).body;

async function toldOfFailure(ws: TestWorkspace): Promise<string[]> {
  const { rows } = await sql<{ body: string | { data: { error: string } } }>`
    SELECT body FROM notification_events WHERE workspace_id = ${ws.id} AND event = 'backup.verification_failed' ORDER BY at`.execute(app.ctx.db);
  return rows.map((r) => (typeof r.body === 'string' ? JSON.parse(r.body) : r.body).data.error);
}

const none = { count: 0, contactIds: [] };

describe('verifying a backup against the keyring', () => {
  it('records the keyring it was made with and finds it the same', async () => {
    const ws = await aWorkspace(app);
    const { backup } = await aBackupOf(ws, 2);
    const header = keyringLines(ws)[0];
    expect(backup).toMatchObject({ status: 'verified', formatVersion: 2, keyring: { generation: header.generation, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(backup.verification).toEqual({ keysChecked: true, shreddedContacts: 0, missingKeys: none, mismatchedKeys: none, keyring: 'same' });
    const trailer = JSON.parse(gunzipSync(readFileSync(backupPath(backup))).toString('utf8').trim().split('\n').at(-1) ?? '{}');
    expect(trailer.keyring).toEqual(backup.keyring);
  });

  it('fails when a key line is removed and the count fixed, naming the contact, and tells admins', async () => {
    const ws = await aWorkspace(app);
    const { backup, contacts } = await aBackupOf(ws, 3);
    const gone = contacts[1].id;
    writeKeyring(ws, keyringLines(ws).filter((l) => l.c !== gone));
    const res = await verify(ws, backup);
    expect(res.status).toBe('failed');
    expect(res.verification).toMatchObject({ missingKeys: { count: 1, contactIds: [gone] }, mismatchedKeys: none, keyring: 'altered' });
    expect(res.error).toMatch(new RegExp(`^the keyring lacks the keys of 1 contact whose keys were never destroyed: ${gone}; the keyring of generation \\d+ is not the one written with the backup`));
    expect(await toldOfFailure(ws)).toEqual([res.error]);
  });

  it('fails when one character of a contact id in the keyring is changed', async () => {
    const ws = await aWorkspace(app);
    const { backup, contacts } = await aBackupOf(ws, 3);
    const target = contacts[0].id;
    const forged = `${target.slice(0, -1)}${target.endsWith('0') ? '1' : '0'}`;
    writeKeyring(ws, keyringLines(ws).map((l) => (l.c === target ? { ...l, c: forged } : l)));
    const res = await verify(ws, backup);
    expect(res.status).toBe('failed');
    expect(res.verification).toMatchObject({ missingKeys: { count: 1, contactIds: [target] }, keyring: 'altered' });
  });

  it('fails when a contact’s key is swapped for another’s, naming both', async () => {
    const ws = await aWorkspace(app);
    const { backup, contacts } = await aBackupOf(ws, 3);
    const [a, b] = [contacts[0].id, contacts[2].id];
    const lines = keyringLines(ws);
    const keyOf = (id: string) => lines.find((l) => l.c === id)?.k;
    const [ka, kb] = [keyOf(a), keyOf(b)];
    writeKeyring(ws, lines.map((l) => (l.c === a ? { ...l, k: kb } : l.c === b ? { ...l, k: ka } : l)));
    const res = await verify(ws, backup);
    expect(res.status).toBe('failed');
    expect(res.verification).toMatchObject({ missingKeys: none, mismatchedKeys: { count: 2, contactIds: [a, b].sort() }, keyring: 'altered' });
    expect(res.error).toContain(`the keyring's keys of 2 contacts are not the ones that sealed their rows: ${[a, b].sort().join(', ')}`);
  });

  it('fails a keyring of the backup’s generation changed in any other way: its digest is not the recorded one', async () => {
    const ws = await aWorkspace(app);
    const { backup } = await aBackupOf(ws, 2);
    const lines = keyringLines(ws);
    writeKeyring(ws, [...lines.filter((l) => l.end !== true), { c: 'someone-else', shredded: true }]);
    const res = await verify(ws, backup);
    expect(res.status).toBe('failed');
    expect(res.verification).toMatchObject({ missingKeys: none, mismatchedKeys: none, keyring: 'altered' });
    expect(res.error).toMatch(/^the keyring of generation \d+ is not the one written with the backup: its digest is [0-9a-f]{64}, recorded [0-9a-f]{64}$/);
  });

  it('fails a live contact’s key turned into a shredded mark, even with the generation raised so no digest compares', async () => {
    const ws = await aWorkspace(app);
    const { backup, contacts } = await aBackupOf(ws, 3);
    const hidden = contacts[2].id;
    writeKeyring(ws, keyringLines(ws).map((l, i) => (i === 0 ? { ...l, generation: l.generation + 1 } : l.c === hidden ? { c: hidden, shredded: true } : l)));
    const res = await verify(ws, backup);
    expect(res.status).toBe('failed');
    expect(res.verification).toMatchObject({ shreddedContacts: 0, missingKeys: { count: 1, contactIds: [hidden] }, keyring: 'other_generation' });
  });

  it('does not fail for an erased contact’s missing key, even in a keyring that lost its shredded mark', async () => {
    const ws = await aWorkspace(app);
    const { backup, contacts } = await aBackupOf(ws, 3);
    expect((await ws.api('POST', `/contacts/${contacts[0].id}/erase`)).status).toBe(200);
    writeKeyring(ws, keyringLines(ws).filter((l) => l.shredded !== true));
    const res = await verify(ws, backup);
    expect(res.status).toBe('verified');
    expect(res.verification).toEqual({ keysChecked: true, shreddedContacts: 1, missingKeys: none, mismatchedKeys: none, keyring: 'other_generation' });
  });

  it('verifies a backup of format 1 as before, saying that its keys were not checked', async () => {
    const ws = await aWorkspace(app);
    const { backup, contacts } = await aBackupOf(ws, 2);
    const lines = gunzipSync(readFileSync(backupPath(backup))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    const old = lines.map((l, i) => {
      if (i === 0) return { ...l, version: 1 };
      if (l.end === true) return { end: true, counts: l.counts };
      const { k: _check, ...rest } = l;
      return rest;
    });
    const file = gzipSync(old.map((l) => `${JSON.stringify(l)}\n`).join(''));
    writeFileSync(backupPath(backup), file);
    await sql`UPDATE backups SET byte_size = ${file.length}, sha256 = ${createHash('sha256').update(file).digest('hex')}, format_version = 1, keyring_generation = NULL, keyring_sha256 = NULL
              WHERE workspace_id = ${ws.id} AND id = ${backup.id}`.execute(app.ctx.db);
    // As before: a key the keyring lacks counts as shredded.
    writeKeyring(ws, keyringLines(ws).filter((l) => l.c !== contacts[0].id));
    const res = await verify(ws, backup);
    expect(res).toMatchObject({ status: 'verified', formatVersion: 1, keyring: null });
    expect(res.verification).toEqual({ keysChecked: false, shreddedContacts: 1, missingKeys: none, mismatchedKeys: none, keyring: 'not_recorded' });
  });
});

describe('restoring with a keyring that lost a live contact’s key', () => {
  const restoreInto = (database: Database, ws: TestWorkspace, backup: { fileName: string }, allowMissingKeys: boolean) =>
    restoreBackup(database, app.clock, { file: () => createReadStream(backupPath(backup)), keyring: () => createReadStream(keyringPath(ws)) }, { allowMissingKeys });

  it('refuses, restoring nothing and naming the contact; with allowMissingKeys restores the others and names it', async () => {
    const ws = await aWorkspace(app);
    const { backup, contacts } = await aBackupOf(ws, 5);
    const gone = contacts[3].id;
    // Bump the generation by hand too: no digest to catch it, only the missing key.
    writeKeyring(ws, keyringLines(ws).map((l, i) => (i === 0 ? { ...l, generation: l.generation + 1 } : l)).filter((l) => l.c !== gone));
    const target = await anEmptyDatabase();
    const refusal = await restoreInto(target, ws, backup, false).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(MissingKeys);
    expect((refusal as MissingKeys).contactIds).toEqual([gone]);
    expect((refusal as Error).message).toBe(
      `the keyring has no key for 1 contact of the backup that it does not mark shredded (erased or purged): ${gone}; nothing was restored (--allow-missing-keys restores everyone else)`,
    );
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM workspaces`.execute(target.db);
    expect(rows[0].n).toBe(0);

    const summary = await restoreInto(target, ws, backup, true);
    expect(summary).toMatchObject({ skippedContacts: 1, missingKeys: { count: 1, contactIds: [gone] }, keyring: 'other_generation' });
    expect(summary.restored).toMatchObject({ contacts: 4, list_memberships: 4 });
    const { rows: restored } = await sql<{ id: string }>`SELECT id FROM contacts WHERE workspace_id = ${ws.id} ORDER BY id`.execute(target.db);
    expect(restored.map((r) => r.id)).toEqual(contacts.map((c) => c.id).filter((id) => id !== gone).sort());
  });

  it('refuses a keyring of the backup’s generation whose digest differs', async () => {
    const ws = await aWorkspace(app);
    const { backup, contacts } = await aBackupOf(ws, 2);
    // A key replaced by a shredded mark: the contact would be left out as if erased.
    writeKeyring(ws, keyringLines(ws).map((l) => (l.c === contacts[0].id ? { c: l.c, shredded: true } : l)));
    const target = await anEmptyDatabase();
    const refusal = await restoreInto(target, ws, backup, false).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(MissingKeys);
    expect((refusal as MissingKeys).keyring).toBe('altered');
  });

  it('leaves out without asking a contact the keyring marks shredded by an erasure', async () => {
    const ws = await aWorkspace(app);
    const { backup, contacts } = await aBackupOf(ws, 3);
    expect((await ws.api('POST', `/contacts/${contacts[0].id}/erase`)).status).toBe(200);
    const summary = await restoreInto(await anEmptyDatabase(), ws, backup, false);
    expect(summary).toMatchObject({ skippedContacts: 1, missingKeys: none, keyring: 'other_generation' });
  });
});

describe('erasure while the key store cannot be written', () => {
  /** The key directory replaced by a regular file: every write fails (EEXIST from mkdir, ENOTDIR below it), for root too. */
  function breakKeyStore(): () => void {
    const dir = app.ctx.config.backupKeyDir;
    const aside = `${dir}.aside-${process.pid}`;
    renameSync(dir, aside);
    writeFileSync(dir, 'not a directory');
    return () => {
      rmSync(dir, { force: true });
      renameSync(aside, dir);
    };
  }

  it('answers 503 key_store_unavailable, changes nothing, and erases once the store is back', async () => {
    const ws = await aWorkspace(app);
    const { backup, contacts } = await aBackupOf(ws, 2);
    const person = contacts[0].id;
    const keyringBefore = readFileSync(keyringPath(ws), 'utf8');
    const repair = breakKeyStore();
    let res;
    try {
      res = await ws.api('POST', `/contacts/${person}/erase`);
    } finally {
      repair();
    }
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: 'key_store_unavailable', details: { reason: 'EEXIST' } });
    expect((await ws.api('GET', `/contacts/${person}`)).body.status).toBe('active');
    const { rows: keys } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM backup_keys WHERE workspace_id = ${ws.id} AND contact_id = ${person}`.execute(app.ctx.db);
    expect(keys[0].n).toBe(1);
    const audit = (await ws.api('GET', '/audit-log?limit=500')).body.data;
    expect(audit.filter((e: { action: string }) => e.action === 'contact.erased')).toEqual([]);
    expect(readFileSync(keyringPath(ws), 'utf8')).toBe(keyringBefore);
    expect((await verify(ws, backup)).status).toBe('verified');

    expect((await ws.api('POST', `/contacts/${person}/erase`)).status).toBe(200);
    expect(keyringLines(ws).filter((l) => l.c === person)).toEqual([{ c: person, shredded: true }]);
  });

  it('erases a contact that no backup holds without the key store', async () => {
    const ws = await aWorkspace(app);
    await aBackupOf(ws, 1);
    const later = await aContact(ws);
    const repair = breakKeyStore();
    let res;
    try {
      res = await ws.api('POST', `/contacts/${later.id}/erase`);
    } finally {
      repair();
    }
    expect(res.status).toBe(200);
  });

  it('after a crash between the keyring’s rename and the commit, the maintenance pass rewrites it from the database', async () => {
    const ws = await aWorkspace(app);
    const { contacts } = await aBackupOf(ws, 2);
    const person = contacts[0].id;
    // What prepareKeyringRewrite commits, then a file written by a transaction that never committed.
    await sql`UPDATE backup_keyrings SET written_generation = NULL WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
    writeKeyring(ws, keyringLines(ws).map((l) => (l.c === person ? { c: person, shredded: true } : l)));
    expect((await ws.api('POST', '/maintenance/run')).body.ran.backupKeyrings).toBe(1);
    expect(keyringLines(ws).find((l) => l.c === person)).toEqual({ c: person, k: expect.any(String) });
  });
});
