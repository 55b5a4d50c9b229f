/**
 * Retrace's restore beside how the seeds' vendors restore today (seed 001: snapshot the
 * database, a script copies rows back), timed in the same run on the same server (issue 15
 * point 4). The peer: `pg_dump -Fc` of the database before the accident; after it (the
 * contacts and their association rows gone), `pg_restore` of the whole dump into a scratch
 * database and SQL that copies the contacts and their lists, tags, accounts and deals back
 * into the live one (postgres_fdw: the scratch tables read from the live database, one
 * INSERT … SELECT per table, one transaction). Retrace: its restore job, as the restore
 * benchmark runs it. The ratio is the peer's restore time over Retrace's.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import type { Db } from '../src/db/database.js';
import { removeContacts } from '../src/held-deletes/service.js';
import { serverDatabase } from './databases.js';
import { benchWorkspace, fillCrm, peopleIds, restoreShape } from './dataset.js';
import { restoreAll, restoredTables } from './restore.js';
import { onServer } from './server.js';
import { timed } from './timing.js';

const run = promisify(execFile);

export interface PeerFigures {
  engine: string;
  contacts: number;
  /** Rows the restores bring back: the contacts and their association rows. */
  rows: number;
  dumpMs: number;
  dumpBytes: number;
  retraceMs: number;
  pgRestoreMs: number;
  copyBackMs: number;
  /** pg_restore and the copy back: the peer's time from the accident to the rows back. */
  peerMs: number;
  /** peerMs / retraceMs: how many times longer the peer's way takes. */
  ratio: number;
}

export async function benchPeerRestore(contacts: number): Promise<PeerFigures> {
  const bench = await serverDatabase('peer');
  const { db } = bench.database;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retrace-peer-bench-'));
  const { rows } = await sql<{ db: string }>`SELECT current_database() AS db`.execute(db);
  const liveUrl = urlOf(rows[0].db);
  const scratch = `${rows[0].db}_scratch`;
  try {
    const ws = await benchWorkspace(db, 'Peer benchmark');
    const size = await fillCrm(db, ws, { ...restoreShape, contacts });
    const dumpFile = path.join(dir, 'snapshot.dump');
    // The vendor's nightly snapshot, taken before the accident.
    const dump = await timed(() => run('pg_dump', ['-Fc', '-f', dumpFile, liveUrl]));
    const dumpBytes = (await stat(dumpFile)).size;

    // Retrace: the contacts deleted as the API deletes them, then its restore job.
    const ids = await peopleIds(db, ws.id);
    for (let start = 0; start < ids.length; start += 5000) {
      await removeContacts(db, { ...ws.change(), actorId: null }, 'delete', ids.slice(start, start + 5000));
    }
    const retrace = await timed(() => restoreAll(bench, ws));

    // The peer's accident: the rows are gone (a vendor's delete is a DELETE).
    await goneForGood(db, ws.id);
    const pgRestore = await timed(async () => {
      await onServer(serverUrl(), `CREATE DATABASE ${scratch}`);
      await run('pg_restore', ['--no-owner', '-d', urlOf(scratch), dumpFile]);
    });
    const copyBack = await timed(() => copyBackFromScratch(db, scratch, ws.id));
    const { rows: back } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM contacts WHERE workspace_id = ${ws.id} AND email LIKE 'person%'`.execute(db);
    if (back[0].n !== contacts) throw new Error(`the copy back brought ${back[0].n} contacts, not ${contacts}`);
    const peerMs = pgRestore.ms + copyBack.ms;
    return {
      engine: bench.version,
      contacts,
      rows: contacts + size.listMemberships + size.contactTags + size.accountLinks + size.dealMemberships,
      dumpMs: dump.ms,
      dumpBytes,
      retraceMs: retrace.ms,
      pgRestoreMs: pgRestore.ms,
      copyBackMs: copyBack.ms,
      peerMs,
      ratio: Math.round((peerMs / retrace.ms) * 10) / 10,
    };
  } finally {
    await bench.dispose();
    await onServer(serverUrl(), `DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
    await rm(dir, { recursive: true, force: true });
  }
}

const serverUrl = () => process.env.BENCH_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function urlOf(database: string): string {
  const url = new URL(serverUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Removes the people and their association rows outright, with Retrace's triggers off
 * (session_replication_role = replica): the state a vendor's database is in after a
 * DELETE, which Retrace itself never leaves.
 */
async function goneForGood(db: Db, workspaceId: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`SET LOCAL session_replication_role = replica`.execute(tx);
    const people = sql`SELECT id FROM contacts WHERE workspace_id = ${workspaceId} AND email LIKE 'person%'`;
    for (const [table, column] of [...restoredTables].reverse()) {
      await sql`DELETE FROM ${sql.table(table)} WHERE workspace_id = ${workspaceId} AND ${sql.ref(column)} IN (${people})`.execute(tx);
    }
    // With the triggers off, the contacts' search text (migration 093, kept by them) is
    // not removed with them: a vendor's database has none, so it goes too.
    await sql`DELETE FROM contact_search WHERE workspace_id = ${workspaceId} AND contact_id NOT IN (SELECT id FROM contacts WHERE workspace_id = ${workspaceId})`.execute(tx);
  });
}

/**
 * The vendor's script: the scratch database's tables seen from the live one through
 * postgres_fdw, and one INSERT … SELECT per table of the rows of the people missing from
 * the live database, in one transaction, with the live database's triggers on (its
 * history captures them, as a vendor's audit would).
 */
async function copyBackFromScratch(db: Db, scratch: string, workspaceId: string): Promise<void> {
  const server = new URL(serverUrl());
  await sql`CREATE EXTENSION IF NOT EXISTS postgres_fdw`.execute(db);
  await sql.raw(`CREATE SERVER snapshot_server FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host '${server.hostname}', port '${server.port || '5432'}', dbname '${scratch}')`).execute(db);
  await sql.raw(`CREATE USER MAPPING FOR CURRENT_USER SERVER snapshot_server OPTIONS (user '${decodeURIComponent(server.username || 'postgres')}'${server.password ? `, password '${decodeURIComponent(server.password)}'` : ''})`).execute(db);
  await sql`CREATE SCHEMA snapshot`.execute(db);
  await sql.raw(`IMPORT FOREIGN SCHEMA public LIMIT TO (${restoredTables.map(([t]) => t).join(', ')}) FROM SERVER snapshot_server INTO snapshot`).execute(db);
  await db.transaction().execute(async (tx) => {
    // The contacts first, by a filter the scratch database runs; then each association
    // table's rows of the workspace, kept where their contact is one just copied back (a
    // local hashed subquery: a semi-join with a foreign table is not sent to the remote
    // side, and run as one remote query per row it took 26 s at 5,000 contacts).
    const copied = sql`SELECT id FROM contacts WHERE workspace_id = ${workspaceId} AND email LIKE 'person%'`;
    for (const [table, column] of restoredTables) {
      const columns = await insertableColumns(tx, table);
      const list = sql.join(columns.map((c) => sql.ref(c)));
      const which = table === 'contacts' ? sql`email LIKE 'person%'` : sql`${sql.ref(column)} IN (${copied})`;
      await sql`
        INSERT INTO ${sql.table(table)} (${list}) SELECT ${list} FROM ${sql.table(`snapshot.${table}`)}
        WHERE workspace_id = ${workspaceId} AND ${which}`.execute(tx);
    }
  });
}

async function insertableColumns(db: Db, table: string): Promise<string[]> {
  const { rows } = await sql<{ column_name: string }>`
    SELECT column_name FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name = ${table} AND is_generated = 'NEVER'
    ORDER BY ordinal_position`.execute(db);
  return rows.map((r) => r.column_name);
}
