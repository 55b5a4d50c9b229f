import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Migrator, sql, type Migration } from 'kysely';
import type { Database, Db } from './database.js';
import { planForCitus } from './keys.js';
import { statementsOf } from './statements.js';

/** src/db/migrations: the numbered SQL files, applied in name order. */
export const migrationsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** `NNN_what.sql`: the only form a migration file takes. */
const migrationName = /^\d{3}_[a-z0-9_]+\.sql$/;

/**
 * The advisory lock that serializes starting servers, held from the first check to the
 * last file. The runner before this one took the same key, so a server of either kind
 * waits for the other.
 */
const migrationLock = 4242;

interface MigrationFile {
  name: string;
  script: string;
  sha256: string;
}

/**
 * SHA-256 of a migration file, with CRLF read as LF: a checkout's line endings are not
 * a change to the migration.
 */
export const migrationChecksum = (script: string): string => createHash('sha256').update(script.replace(/\r\n/g, '\n')).digest('hex');

async function readMigrationFiles(directory: string): Promise<MigrationFile[]> {
  const names = (await readdir(directory)).filter((name) => name.endsWith('.sql')).sort();
  const misnamed = names.filter((name) => !migrationName.test(name));
  if (misnamed.length > 0) throw new Error(`Migration files are named NNN_what.sql (lower case): ${misnamed.join(', ')} is not`);
  return Promise.all(
    names.map(async (name) => {
      const script = await readFile(path.join(directory, name), 'utf8');
      return { name, script, sha256: migrationChecksum(script) };
    }),
  );
}

/**
 * Brings the database's schema up to date: applies the files in src/db/migrations that it
 * has not applied, in name order, each in its own transaction with the record of it and
 * its checksum. Returns the names applied.
 *
 * Kysely's Migrator keeps the names applied (`kysely_migration`); this adds a SHA-256 of
 * every file applied (`migration_checksums`) and refuses to start, naming the file, when
 * an applied file has changed since or is gone: a database that applied a file would
 * never get an edit made to it afterwards. A file numbered below one already applied (two
 * branches, each with its own numbers, landing in either order) is applied when it comes.
 *
 * ```ts
 * const database = await connectPGlite(dataDir);
 * await migrate(database); // ['001_core.sql', '002_jobs.sql', …] on a fresh database
 * ```
 */
export async function migrate(database: Database, options: { directory?: string; through?: string } = {}): Promise<string[]> {
  const directory = options.directory ?? migrationsDir;
  const files = await readMigrationFiles(directory);
  // `through`: only the files up to this one (a test of one migration's work, before the later ones change it).
  const through = options.through;
  const applicable = through === undefined ? files : files.filter((file) => file.name <= through);
  return database.db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${sql.lit(migrationLock)})`.execute(conn);
    try {
      await conn.transaction().execute(async (tx) => {
        await adoptOldRunnerRecords(tx);
        await checkAppliedFiles(tx, files, directory);
      });
      const applied = await applyPendingFiles(database, conn, applicable);
      await distributeOverCitus(conn);
      return applied;
    } finally {
      await sql`SELECT pg_advisory_unlock(${sql.lit(migrationLock)})`.execute(conn);
    }
  });
}

/**
 * The runner before this one recorded only the names of the files it applied, in
 * `schema_migrations`. Those names move to Kysely's table, once; checkAppliedFiles then
 * records today's files' checksums for them, in the same transaction.
 */
async function adoptOldRunnerRecords(tx: Db): Promise<void> {
  if (!(await tableExists(tx, 'schema_migrations'))) return;
  // Kysely's own definition of its table (Migrator#ensureMigrationTableExists), which it
  // then finds and uses.
  await sql`CREATE TABLE IF NOT EXISTS kysely_migration (name varchar(255) NOT NULL PRIMARY KEY, timestamp varchar(255) NOT NULL)`.execute(tx);
  await sql`
    INSERT INTO kysely_migration (name, timestamp)
    SELECT name, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM schema_migrations
    ON CONFLICT (name) DO NOTHING`.execute(tx);
  await sql`DROP TABLE schema_migrations`.execute(tx);
}

/**
 * Every applied file must still be there as it was applied. An applied file without a
 * checksum (adopted from the old runner's records) gets its file's checksum now.
 */
async function checkAppliedFiles(tx: Db, files: MigrationFile[], directory: string): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS migration_checksums (name varchar(255) NOT NULL PRIMARY KEY, sha256 text NOT NULL)`.execute(tx);
  if (!(await tableExists(tx, 'kysely_migration'))) return;
  const { rows } = await sql<{ name: string; sha256: string | null }>`
    SELECT m.name, c.sha256 FROM kysely_migration m LEFT JOIN migration_checksums c ON c.name = m.name ORDER BY m.name`.execute(tx);
  const byName = new Map(files.map((file) => [file.name, file]));
  const unrecorded: MigrationFile[] = [];
  for (const applied of rows) {
    const file = byName.get(applied.name);
    if (!file) {
      throw new Error(
        `Refusing to start: this database applied migration ${applied.name}, which ${directory} does not have (deleted, renamed, or from another branch). ` +
          'Its changes are in this database and unknown to this code. Use a database this code migrated; or, if you know that ' +
          `migration's changes are gone or harmless, delete its rows from kysely_migration and migration_checksums.`,
      );
    }
    if (applied.sha256 === null) unrecorded.push(file);
    else if (applied.sha256 !== file.sha256) {
      throw new Error(
        `Refusing to start: migration ${applied.name} changed after this database applied it ` +
          `(sha256 ${applied.sha256.slice(0, 12)}… when applied, ${file.sha256.slice(0, 12)}… now). A database that applied it ` +
          'would never get the change: put the file back as it was, and make the change in a new numbered migration.',
      );
    }
  }
  for (const file of unrecorded) await sql`INSERT INTO migration_checksums (name, sha256) VALUES (${file.name}, ${file.sha256})`.execute(tx);
}

/**
 * One file at a time (migrateUp applies the next pending one in its own transaction,
 * holding Kysely's own lock), so a failing file leaves the ones before it applied.
 */
async function applyPendingFiles(database: Database, conn: Db, files: MigrationFile[]): Promise<string[]> {
  const distributed = await hasDistributedTables(conn);
  const migrations: Record<string, Migration> = Object.fromEntries(
    files.map((file) => [
      file.name,
      {
        async up(tx: Db) {
          if (distributed) await runStatementByStatement(tx, file.script);
          else await database.execScript(tx, file.script);
          await sql`INSERT INTO migration_checksums (name, sha256) VALUES (${file.name}, ${file.sha256})`.execute(tx);
        },
      },
    ]),
  );
  const migrator = new Migrator({ db: conn, provider: { getMigrations: async () => migrations }, allowUnorderedMigrations: true });
  const applied: string[] = [];
  for (;;) {
    const { error, results = [] } = await migrator.migrateUp();
    if (error) {
      const failed = results.find((result) => result.status === 'Error');
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(failed ? `migration ${failed.migrationName} failed: ${message}` : `migrations could not run: ${message}`, { cause: error });
    }
    if (results.length === 0) return applied;
    applied.push(...results.map((result) => result.migrationName));
  }
}

/**
 * Once tables are distributed, Citus refuses a script of several statements that touches
 * them (`cannot insert multiple commands into a prepared statement`, issue 20): a file's
 * statements go one at a time, in its transaction. Sequentially, so that a file may create
 * a function after changing a distributed table (Citus refuses a function's propagation
 * after a parallel operation on one in the same transaction).
 */
async function runStatementByStatement(tx: Db, script: string): Promise<void> {
  await sql`SET LOCAL citus.multi_shard_modify_mode = 'sequential'`.execute(tx);
  for (const statement of statementsOf(script)) await sql.raw(statement).execute(tx);
}

/** Whether Citus has distributed any table of this database (a migrated one, on Citus). */
async function hasDistributedTables(db: Db): Promise<boolean> {
  if (!(await tableExists(db, 'pg_dist_partition'))) return false;
  const { rows } = await sql<{ found: boolean }>`SELECT EXISTS (SELECT 1 FROM pg_dist_partition) AS found`.execute(db);
  return rows[0].found;
}

async function tableExists(db: Db, table: string): Promise<boolean> {
  const { rows } = await sql<{ found: boolean }>`SELECT to_regclass(${table}) IS NOT NULL AS found`.execute(db);
  return rows[0].found;
}

/**
 * Distributed mode (issue 20): on a database with the `citus` extension, every table of a
 * workspace is distributed by workspace once the files are applied, so that a workspace's
 * rows live together on one node. `workspaces` is distributed by id, every other table
 * with a workspace_id column by it, colocated with `workspaces`; tables a later migration
 * adds are distributed on the next start. One statement at a time, referenced tables
 * first (a foreign key to a table not yet distributed is refused). Tables without
 * workspace_id (the runner's own bookkeeping, the test clock) reference nothing
 * distributed and nothing distributed references them: they stay local to the
 * coordinator. Without Citus (PGlite, one server) nothing happens. Returns the tables
 * distributed.
 */
export async function distributeOverCitus(conn: Db): Promise<string[]> {
  const { rows: citus } = await sql<{ found: boolean }>`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS found`.execute(conn);
  if (!citus[0].found) return [];
  planForCitus();
  // The capture triggers run on the workers' shards; Citus refuses triggers on
  // distributed tables without this, for this session and every later one.
  const { rows: names } = await sql<{ name: string }>`SELECT current_database() AS name`.execute(conn);
  await sql`ALTER DATABASE ${sql.id(names[0].name)} SET citus.enable_unsafe_triggers = on`.execute(conn);
  await sql`SET citus.enable_unsafe_triggers = on`.execute(conn);
  // The change context is set with SET LOCAL (applyChangeContext); Citus sends a SET LOCAL
  // on to the workers a transaction reaches only with this, so that the triggers on their
  // shards read the same actor, origin, clock and cause as the coordinator.
  await sql`ALTER DATABASE ${sql.id(names[0].name)} SET citus.propagate_set_commands = 'local'`.execute(conn);
  await sql`SET citus.propagate_set_commands = 'local'`.execute(conn);
  const { rows: pending } = await sql<{ table: string; references: string[] }>`
    SELECT c.relname::text AS table,
           coalesce(array_agg(DISTINCT r.relname::text) FILTER (WHERE r.relname IS NOT NULL AND r.oid <> c.oid), '{}'::text[]) AS references
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    -- what it depends on: the tables its foreign keys reference and those whose row type
    -- a column of it has (contact_history.before is a contacts row)
    LEFT JOIN (
      SELECT f.conrelid AS dependent, f.confrelid AS dependency FROM pg_constraint f WHERE f.contype = 'f'
      UNION
      SELECT a.attrelid, t.typrelid FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid AND t.typrelid <> 0 WHERE NOT a.attisdropped
    ) d ON d.dependent = c.oid
    LEFT JOIN pg_class r ON r.oid = d.dependency
    WHERE c.relkind = 'r' AND NOT c.relispartition
      AND (c.relname = 'workspaces' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped))
      AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)
    GROUP BY c.relname
    ORDER BY c.relname`.execute(conn);
  // Every other table is colocated with workspaces: it goes first, whatever references it.
  const waiting = new Map(pending.map((row) => [row.table, row.table === 'workspaces' ? row.references : [...row.references, 'workspaces']]));
  const distributed: string[] = [];
  while (waiting.size > 0) {
    const ready = [...waiting].find(([, references]) => references.every((table) => !waiting.has(table)));
    if (!ready) throw new Error(`Cannot distribute ${[...waiting.keys()].join(', ')}: they depend on each other in a cycle`);
    const [table] = ready;
    if (table === 'workspaces') await sql`SELECT create_distributed_table('workspaces', 'id')`.execute(conn);
    else await sql`SELECT create_distributed_table(${table}, 'workspace_id', colocate_with => 'workspaces')`.execute(conn);
    waiting.delete(table);
    distributed.push(table);
  }
  return distributed;
}
