import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRunDatabase, testDatabase } from '../test-support/harness.js';
import { connectPGlite, connectPostgres, migrate, type Database } from './database.js';
import { migrationsDir } from './migrator.js';

const files = readdirSync(migrationsDir).filter((name) => name.endsWith('.sql')).sort();
const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

const opened: Database[] = [];
afterAll(async () => {
  for (const database of opened) await database.close();
});

/** A database of its own: on the run's server when the suite runs there, else PGlite. */
let databases = 0;
async function freshDatabase(): Promise<{ database: Database; url: string | null }> {
  const runUrl = process.env.RETRACE_TEST_DATABASE;
  databases += 1;
  const url = runUrl ? await createRunDatabase(runUrl, `migrator_${process.pid}_${databases}`) : null;
  const database = url ? await connectPostgres(url, 2) : await connectPGlite(undefined);
  opened.push(database);
  return { database, url };
}

const names = async (database: Database, table: 'kysely_migration' | 'migration_checksums') =>
  (await sql<{ name: string }>`SELECT name FROM ${sql.table(table)} ORDER BY name`.execute(database.db)).rows.map((r) => r.name);

const checksums = async (database: Database) =>
  Object.fromEntries((await sql<{ name: string; sha256: string }>`SELECT name, sha256 FROM migration_checksums`.execute(database.db)).rows.map((r) => [r.name, r.sha256]));

/** What the runner before this one did: each file in a transaction with its name in schema_migrations. */
async function migrateAsTheOldRunnerDid(database: Database, directory: string, through: string): Promise<void> {
  await database.withScriptSession(async (session) => {
    await session.exec(`CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    for (const file of readdirSync(directory).sort()) {
      if (file > through) break;
      const script = readFileSync(path.join(directory, file), 'utf8');
      await session.exec(`BEGIN;\n${script}\n;\nINSERT INTO schema_migrations (name) VALUES ('${file}');\nCOMMIT;`);
    }
  });
}

describe('migrating a database', () => {
  it('applies every file of src/db/migrations in name order to a fresh database, each with its checksum, and nothing on the next start', async () => {
    // The run's own database, migrated when the worker started.
    const database = await testDatabase();
    const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY timestamp, name`.execute(database.db);
    expect(rows.map((r) => r.name)).toEqual(files);
    expect(await checksums(database)).toEqual(Object.fromEntries(files.map((file) => [file, sha256Of(path.join(migrationsDir, file))])));
    expect(await migrate(database)).toEqual([]);
  });

  it('takes over a database the old runner migrated: records its files’ checksums once and applies the files it had not', async () => {
    const { database } = await freshDatabase();
    await migrateAsTheOldRunnerDid(database, migrationsDir, '013_backup_keep.sql');

    expect(await migrate(database)).toEqual(files.filter((file) => file > '013_backup_keep.sql'));

    expect(await names(database, 'kysely_migration')).toEqual(files);
    expect(await checksums(database)).toEqual(Object.fromEntries(files.map((file) => [file, sha256Of(path.join(migrationsDir, file))])));
    const { rows } = await sql<{ found: boolean }>`SELECT to_regclass('schema_migrations') IS NOT NULL AS found`.execute(database.db);
    expect(rows).toEqual([{ found: false }]);
    expect(await migrate(database)).toEqual([]);
  });
});

/**
 * The runner's checks, on migrations of its own: small files that make tables in the
 * schema `probe` of a scratch database, whose runner tables are dropped before each test.
 */
describe('the migration runner', () => {
  let scratch: { database: Database; url: string | null };
  let directory: string;
  const write = (name: string, script: string) => writeFileSync(path.join(directory, name), script);
  const probeTables = async () =>
    (await sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'probe' ORDER BY 1`.execute(scratch.database.db)).rows.map((r) => r.name);

  beforeAll(async () => {
    scratch = await freshDatabase();
  });

  beforeEach(async () => {
    directory = mkdtempSync(path.join(tmpdir(), 'retrace-migrations-'));
    await scratch.database.withScriptSession((session) =>
      session.exec(`DROP TABLE IF EXISTS kysely_migration, kysely_migration_lock, migration_checksums, schema_migrations;
                    DROP SCHEMA IF EXISTS probe CASCADE; CREATE SCHEMA probe;`),
    );
    write('001_first.sql', 'CREATE TABLE probe.first (id int);\nINSERT INTO probe.first VALUES (1);\n');
    write('002_second.sql', 'CREATE TABLE probe.second (id int);\n');
    return () => rmSync(directory, { recursive: true });
  });

  it('refuses to start when an applied file has changed, naming it, and applies nothing more', async () => {
    expect(await migrate(scratch.database, { directory })).toEqual(['001_first.sql', '002_second.sql']);
    write('002_second.sql', 'CREATE TABLE probe.second (id int, note text);\n');
    write('003_third.sql', 'CREATE TABLE probe.third (id int);\n');

    await expect(migrate(scratch.database, { directory })).rejects.toThrow(/^Refusing to start: migration 002_second\.sql changed after this database applied it/);
    expect(await probeTables()).toEqual(['first', 'second']);
    expect(await names(scratch.database, 'kysely_migration')).toEqual(['001_first.sql', '002_second.sql']);
  });

  it('refuses to start when a file the database applied is gone, naming it', async () => {
    await migrate(scratch.database, { directory });
    rmSync(path.join(directory, '002_second.sql'));

    await expect(migrate(scratch.database, { directory })).rejects.toThrow(/^Refusing to start: this database applied migration 002_second\.sql, which .* does not have/);
  });

  it('refuses a database the old runner migrated with a file since deleted, naming it, and leaves its records as they were', async () => {
    write('003_backed_out.sql', 'CREATE TABLE probe.backed_out (id int);\n');
    await migrateAsTheOldRunnerDid(scratch.database, directory, '003_backed_out.sql');
    rmSync(path.join(directory, '003_backed_out.sql'));

    await expect(migrate(scratch.database, { directory })).rejects.toThrow(/^Refusing to start: this database applied migration 003_backed_out\.sql/);
    const { rows } = await sql<{ name: string }>`SELECT name FROM schema_migrations ORDER BY name`.execute(scratch.database.db);
    expect(rows.map((r) => r.name)).toEqual(['001_first.sql', '002_second.sql', '003_backed_out.sql']);
    const { rows: runner } = await sql<{ found: boolean }>`SELECT to_regclass('kysely_migration') IS NOT NULL AS found`.execute(scratch.database.db);
    expect(runner).toEqual([{ found: false }]);
  });

  it('names a failing file, keeps the files before it applied, and undoes the failing one whole', async () => {
    write('003_broken.sql', 'CREATE TABLE probe.broken (id int);\nSELECT no_such_function();\n');
    write('004_after.sql', 'CREATE TABLE probe.after (id int);\n');

    await expect(migrate(scratch.database, { directory })).rejects.toThrow(/^migration 003_broken\.sql failed: function no_such_function\(\) does not exist/);
    expect(await probeTables()).toEqual(['first', 'second']);
    expect(await names(scratch.database, 'kysely_migration')).toEqual(['001_first.sql', '002_second.sql']);
    expect(await names(scratch.database, 'migration_checksums')).toEqual(['001_first.sql', '002_second.sql']);
  });

  it('applies a file numbered below one already applied when it arrives (branches landing in either order)', async () => {
    rmSync(path.join(directory, '001_first.sql'));
    await migrate(scratch.database, { directory });
    write('001_first.sql', 'CREATE TABLE probe.first (id int);\n');

    expect(await migrate(scratch.database, { directory })).toEqual(['001_first.sql']);
  });

  it('has two servers starting at once apply each file once', async () => {
    // A second connection to the same database, as a second server has; PGlite is one.
    const other = scratch.url ? await connectPostgres(scratch.url, 2) : scratch.database;
    if (other !== scratch.database) opened.push(other);

    const [one, two] = await Promise.all([migrate(scratch.database, { directory }), migrate(other, { directory })]);

    expect([...one, ...two].sort()).toEqual(['001_first.sql', '002_second.sql']);
    const { rows } = await sql<{ id: number }>`SELECT id FROM probe.first`.execute(scratch.database.db);
    expect(rows).toEqual([{ id: 1 }]);
  });

  it('refuses a file not named NNN_what.sql', async () => {
    write('3-third.sql', 'CREATE TABLE probe.third (id int);\n');

    await expect(migrate(scratch.database, { directory })).rejects.toThrow('Migration files are named NNN_what.sql (lower case): 3-third.sql is not');
  });
});
