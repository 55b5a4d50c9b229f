import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';
import { captureOutput, restoreConsoleAfterEach } from '../test-support/cli-output.js';
import { connectPGlite } from '../db/database.js';
import { createBackupFromCli, restoreBackupFromCli, verifyBackupFromCli } from './backup.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});
restoreConsoleAfterEach();

const lastJson = (printed: string[]) => JSON.parse(printed.at(-1) ?? 'null');

describe('retrace backup create', () => {
  it('exports and verifies a backup, and prints it with where its file and the keyring are', async () => {
    const ws = await aWorkspace(app);
    await aContact(ws);
    const printed = captureOutput();
    await createBackupFromCli(app.ctx, { workspace: ws.id });
    const printedBackup = lastJson(printed);
    expect(printedBackup).toMatchObject({
      status: 'verified',
      createdBy: null,
      file: path.join(app.ctx.config.backupDir, `${ws.id}.${printedBackup.id}.ndjson.gz`),
      keyring: path.join(app.ctx.config.backupKeyDir, `${ws.id}.keyring.ndjson`),
    });
    expect(process.exitCode).toBeUndefined();
    expect((await ws.api('GET', `/backups/${printedBackup.id}`)).body.status).toBe('verified');
  });

  it('prints not_found and exits 1 for an unknown workspace', async () => {
    const printed = captureOutput();
    await createBackupFromCli(app.ctx, { workspace: 'no-such-workspace' });
    expect(printed.at(-1)).toMatch(/^not_found: /);
    expect(process.exitCode).toBe(1);
  });

  it('prints point_not_recoverable and exits 1 for a snapshot that is not retained', async () => {
    const ws = await aWorkspace(app);
    const printed = captureOutput();
    await createBackupFromCli(app.ctx, { workspace: ws.id, snapshot: 'no-such-snapshot' });
    expect(printed.at(-1)).toMatch(/^point_not_recoverable: No retained snapshot of this workspace has this id/);
    expect(process.exitCode).toBe(1);
  });
});

describe('retrace backup verify', () => {
  it('prints the verified backup, and a failed one with exit code 1 once its file was changed', async () => {
    const ws = await aWorkspace(app);
    const backup = (await ws.api('POST', '/backups')).body;
    const printed = captureOutput();
    await verifyBackupFromCli(app.ctx, { workspace: ws.id, id: backup.id });
    expect(lastJson(printed)).toMatchObject({ id: backup.id, status: 'verified' });
    expect(process.exitCode).toBeUndefined();
    const file = lastJson(printed).file;
    writeFileSync(file, readFileSync(file).subarray(0, 40));
    await verifyBackupFromCli(app.ctx, { workspace: ws.id, id: backup.id });
    expect(lastJson(printed)).toMatchObject({ id: backup.id, status: 'failed', error: expect.stringMatching(/^the file is not the one written/) });
    expect(process.exitCode).toBe(1);
  });
});

describe('retrace backup restore', () => {
  it('restores into a new embedded database directory, then refuses it (exit code 2) as it now holds a workspace', async () => {
    const ws = await aWorkspace(app);
    const ada = await aContact(ws);
    const made = captureOutput();
    await createBackupFromCli(app.ctx, { workspace: ws.id });
    const { file, keyring, rowCounts } = lastJson(made);
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'retrace-cli-restore-')), 'db');

    const printed = captureOutput();
    await restoreBackupFromCli(app.clock, { file, keyring, dataDir });
    expect(lastJson(printed)).toMatchObject({ workspaceId: ws.id, restored: rowCounts, skippedContacts: 0 });
    expect(process.exitCode).toBeUndefined();

    await restoreBackupFromCli(app.clock, { file, keyring, dataDir });
    expect(printed.at(-1)).toBe('invalid_state: The target database already holds a workspace: a backup is restored only into an empty database {}');
    expect(process.exitCode).toBe(2);

    const target = await connectPGlite(dataDir);
    try {
      const { rows } = await sql<{ id: string }>`SELECT id FROM contacts WHERE workspace_id = ${ws.id}`.execute(target.db);
      expect(rows).toEqual([{ id: ada.id }]);
    } finally {
      await target.close();
    }
  });

  it('prints backup_unreadable and exits 2 for a file that is not there', async () => {
    const ws = await aWorkspace(app);
    const made = captureOutput();
    await createBackupFromCli(app.ctx, { workspace: ws.id });
    const { keyring } = lastJson(made);
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'retrace-cli-restore-')), 'db');
    const printed = captureOutput();
    await restoreBackupFromCli(app.clock, { file: path.join(dataDir, 'missing.ndjson.gz'), keyring, dataDir });
    expect(printed.at(-1)).toMatch(/^backup_unreadable: the backup file cannot be read: ENOENT/);
    expect(process.exitCode).toBe(2);
  });

  it('refuses with exit 2 naming the contacts whose keys are missing, and restores the rest with --allow-missing-keys', async () => {
    const ws = await aWorkspace(app);
    const contacts = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const made = captureOutput();
    await createBackupFromCli(app.ctx, { workspace: ws.id });
    const { file, keyring } = lastJson(made);
    const lost = contacts[1].id;
    // The keyring with one live contact's key line removed, its count fixed.
    const lines = readFileSync(keyring, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const kept = lines.filter((l) => l.c !== lost && l.end !== true);
    const forged = path.join(mkdtempSync(path.join(tmpdir(), 'retrace-cli-keyring-')), 'keyring.ndjson');
    writeFileSync(forged, [...kept, { ...lines.at(-1), keys: kept.length - 1 }].map((l) => `${JSON.stringify(l)}\n`).join(''));
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'retrace-cli-restore-')), 'db');

    const printed = captureOutput();
    await restoreBackupFromCli(app.clock, { file, keyring: forged, dataDir });
    expect(printed.at(-1)).toBe(
      `missing_keys: the keyring has no key for 1 contact of the backup that it does not mark shredded (erased or purged): ${lost}; ` +
        'the keyring is not the one written at its generation: its digest differs from the one the backup recorded; nothing was restored (--allow-missing-keys restores everyone else)',
    );
    expect(process.exitCode).toBe(2);
    process.exitCode = undefined;

    await restoreBackupFromCli(app.clock, { file, keyring: forged, dataDir, allowMissingKeys: true });
    expect(lastJson(printed)).toMatchObject({ workspaceId: ws.id, skippedContacts: 1, missingKeys: { count: 1, contactIds: [lost] }, keyring: 'altered' });
    expect(process.exitCode).toBeUndefined();
    const target = await connectPGlite(dataDir);
    try {
      const { rows } = await sql<{ id: string }>`SELECT id FROM contacts WHERE workspace_id = ${ws.id} ORDER BY id`.execute(target.db);
      expect(rows.map((r) => r.id)).toEqual([contacts[0].id, contacts[2].id].sort());
    } finally {
      await target.close();
    }
  });

  it('exits 2 without touching anything unless exactly one target is given', async () => {
    const run = promisify(execFile);
    const failure = await run('npx', ['tsx', 'src/cli/main.ts', 'backup', 'restore', '--file', 'b.ndjson.gz', '--keyring', 'k.ndjson'], {
      env: { ...process.env, RETRACE_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'retrace-cli-')) },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2, stderr: 'Give the target: either --database-url or --data-dir\n' });
  });
});
