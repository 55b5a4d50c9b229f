import { sql } from 'kysely';
import { openDatabase } from '../src/app.js';
import { createDatabase, dropDatabase } from '../src/db/new-database.js';
import { connectPGlite, migrate, type Database } from '../src/db/database.js';

/** A migrated database for one benchmark, and how to get rid of it afterwards. */
export interface BenchDatabase {
  database: Database;
  /** The engine and its version, as reported by the database. */
  version: string;
  dispose(): Promise<void>;
}

const defaultServerUrl = 'postgres://postgres@127.0.0.1:5432/test';

/**
 * The PostgreSQL server database: BENCH_DATABASE_URL as given (kept afterwards), or a
 * fresh retrace_bench_<pid>_<name> created on BENCH_SERVER_URL and dropped at the end.
 */
export async function serverDatabase(name: string): Promise<BenchDatabase> {
  const given = process.env.BENCH_DATABASE_URL;
  if (given) {
    const database = await openDatabase({ databaseUrl: given, dataDir: '' });
    return { database, version: await versionOf(database), dispose: () => database.close() };
  }
  const serverUrl = process.env.BENCH_SERVER_URL ?? defaultServerUrl;
  const dbName = `retrace_bench_${process.pid}_${name}`;
  const databaseUrl = await createDatabase(serverUrl, dbName);
  try {
    const database = await openDatabase({ databaseUrl, dataDir: '' });
    return {
      database,
      version: await versionOf(database),
      async dispose() {
        await database.close();
        await dropDatabase(serverUrl, dbName);
      },
    };
  } catch (error) {
    await dropDatabase(serverUrl, dbName);
    throw error;
  }
}

/** Embedded PGlite, in memory. */
export async function pgliteDatabase(): Promise<BenchDatabase> {
  const database = await connectPGlite(undefined);
  await migrate(database);
  return { database, version: `PGlite (${await versionOf(database)})`, dispose: () => database.close() };
}

async function versionOf(database: Database): Promise<string> {
  const { rows } = await sql<{ v: string }>`SELECT split_part(version(), ' on ', 1) AS v`.execute(database.db);
  return rows[0].v;
}

