/**
 * Storage (issue 15 point 7): the bytes of history per changed contact, before and after
 * compaction, and the size of a backup file per 1,000 contacts. A workspace made and
 * filled 100 hours ago (outside the default 72-hour window), whose contacts each changed
 * `edits` times then (their names and fields, one UPDATE of all per round); the history
 * is measured as the bytes of its rows (pg_column_size: what the table stores, without
 * indexes or free space), before and after compactHistory (the maintenance task), and a
 * backup is exported through the backups service to a store of its own.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { createBackup } from '../src/backups/service.js';
import { systemClock, TestClock } from '../src/clock.js';
import { readConfig } from '../src/config.js';
import type { AppContext } from '../src/context.js';
import { inTransaction, type Db } from '../src/db/database.js';
import { silentLogger } from '../src/logger.js';
import { compactHistory } from '../src/snapshots/service.js';
import { createWorkspace } from '../src/workspaces/service.js';
import type { BenchDatabase } from './databases.js';
import { fillCrm, restoreShape, type BenchWorkspace } from './dataset.js';

export interface StorageFigures {
  engine: string;
  contacts: number;
  edits: number;
  /** History bytes of the workspace in all, before and after compaction. */
  historyBytesBefore: number;
  historyBytesAfter: number;
  /** Of which contacts' own versions (contact_history); the rest is their association rows' history. */
  contactVersionBytesBefore: number;
  contactVersionBytesAfter: number;
  /** History bytes per contact changed `edits` times, before and after compaction. */
  perChangedContactBefore: number;
  perChangedContactAfter: number;
  /** Bytes of one version (one change of one contact), before compaction. */
  perVersion: number;
  backupBytes: number;
  backupBytesPer1000Contacts: number;
}

const hourMs = 3_600_000;

export async function benchStorage(bench: BenchDatabase, contacts: number, edits = 4): Promise<StorageFigures> {
  const { db } = bench.database;
  const past = new TestClock(-100 * hourMs);
  const { workspace, user } = await createWorkspace(db, past, { name: 'Storage benchmark', adminEmail: 'storage@example.com' });
  const ws: BenchWorkspace = {
    id: workspace.id,
    change: () => ({ workspaceId: workspace.id, actorId: user.id, origin: 'user', at: past.now() }),
  };
  await fillCrm(db, ws, { ...restoreShape, contacts });
  for (let round = 1; round <= edits; round += 1) {
    past.advance(60);
    await inTransaction(db, ws.change(), (tx) =>
      sql`UPDATE contacts SET first_name = first_name || ${`-${round}`}, fields = fields || jsonb_build_object('edit', ${round}::int), updated_at = retrace_now()
          WHERE workspace_id = ${ws.id} AND email LIKE 'person%'`.execute(tx));
  }
  const versions = await historyVersions(db, ws.id);
  const before = await historyBytes(db, ws.id);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retrace-storage-bench-'));
  try {
    const config = readConfig({ RETRACE_BACKUP_DIR: path.join(dir, 'backups'), RETRACE_BACKUP_KEY_DIR: path.join(dir, 'keys'), RETRACE_DATA_DIR: dir });
    const ctx: AppContext = { database: bench.database, db, clock: systemClock, config, log: silentLogger, kickJobs: () => {} };
    await compactHistory(ctx, ws.id);
    const after = await historyBytes(db, ws.id);
    const backup = await createBackup(ctx, { ...ws.change(), at: systemClock.now() }, {});
    if (backup.status !== 'verified') throw new Error(`the backup ended ${backup.status}: ${backup.error ?? ''}`);
    const backupBytes = (await stat(path.join(config.backupDir, backup.fileName))).size;
    const allContacts = contacts + Math.ceil(Math.ceil(contacts / restoreShape.contactsPerDeal) / 5);
    return {
      engine: bench.version,
      contacts,
      edits,
      historyBytesBefore: before.all,
      historyBytesAfter: after.all,
      contactVersionBytesBefore: before.contacts,
      contactVersionBytesAfter: after.contacts,
      perChangedContactBefore: Math.round(before.all / contacts),
      perChangedContactAfter: Math.round(after.all / contacts),
      perVersion: Math.round(before.contacts / Math.max(1, versions)),
      backupBytes,
      backupBytesPer1000Contacts: Math.round((backupBytes * 1000) / allContacts),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The bytes of the workspace's history rows: contacts' versions, and in all (every other captured table's too). */
async function historyBytes(db: Db, workspaceId: string): Promise<{ contacts: number; all: number }> {
  const { rows } = await sql<{ contacts: number; others: number }>`
    SELECT coalesce((SELECT sum(pg_column_size(h.*)) FROM contact_history h WHERE h.workspace_id = ${workspaceId}), 0)::bigint AS contacts,
           coalesce((SELECT sum(pg_column_size(e.*)) FROM history_entries e WHERE e.workspace_id = ${workspaceId}), 0)::bigint AS others`.execute(db);
  return { contacts: Number(rows[0].contacts), all: Number(rows[0].contacts) + Number(rows[0].others) };
}

async function historyVersions(db: Db, workspaceId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM contact_history WHERE workspace_id = ${workspaceId} AND op = 'update'`.execute(db);
  return rows[0].n;
}
