import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { CompiledQuery, Kysely, PostgresDialect, sql, type ControlledTransaction, type DatabaseConnection, type Driver, type KyselyConfig } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';

import { sendBeginWithFirstStatement } from './deferred-begin.js';
import { prepareMarkedStatements } from './prepared.js';
import type { DB } from './schema.js';

/**
 * The tables, as kysely-codegen generates them from a migrated database (src/db/schema.ts,
 * `npm run gen:db`): Kysely's builder checks every table, column and value against them.
 * Set-based statements are `sql` templates, whose row types are the caller's word.
 */
export type Schema = DB;

export type Db = Kysely<Schema>;
/**
 * A transaction of inTransaction's (or one a preview starts and rolls back): controlled,
 * so that a step can take part of it back to a savepoint (`tx.savepoint(name)`).
 */
export type Tx = ControlledTransaction<Schema>;

/**
 * The database refused a write on the unique index `index`: a concurrent write took the
 * key first. pg names the index in `constraint`; PGlite only in the message.
 */
export const violatesUniqueIndex = (error: unknown, index: string): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505' &&
  String((error as { constraint?: string; message?: string }).constraint ?? (error as { message?: string }).message).includes(index);

/**
 * What a change set is attributed to, so that it can be undone exactly (issue 17): the
 * user or the integration token a request came through, or what acted on its own — an
 * import, an automation's step, a form submission, a merge, a job.
 */
export type CauseKind = 'user' | 'integration' | 'import' | 'automation' | 'form' | 'merge' | 'restore' | 'rollback' | 'undo' | 'system';

/** Who and why a change is made: written into every history row and change set of the transaction. */
export interface ChangeContext {
  workspaceId: string;
  /** The user; for a request through an integration token, that token's id. */
  actorId: string | null;
  origin: 'user' | 'form' | 'import' | 'restore' | 'rollback' | 'undo' | 'backup' | 'system';
  at: Date;
  /** The API token the change came through, if it came through one. */
  tokenId?: string | null;
  /** What the change is attributed to when it is not the user or token it came through. */
  cause?: { kind: CauseKind; id: string };
}

/** One session that runs multi-statement SQL scripts (migrations, benchmarks). */
export interface ScriptSession {
  exec(script: string): Promise<void>;
  rows<R>(query: string): Promise<R[]>;
}

/** A connected database: Kysely for queries, plus a session for multi-statement scripts. */
export interface Database {
  db: Db;
  engine: 'pglite' | 'postgres';
  withScriptSession<T>(fn: (session: ScriptSession) => Promise<T>): Promise<T>;
  /**
   * Runs a multi-statement SQL script on `on`, a connection or transaction of this
   * database's Kysely that the caller holds (PGlite has one connection: its exec runs on
   * it, so only while `on` holds it).
   */
  execScript(on: Db, script: string): Promise<void>;
  close(): Promise<void>;
}

// pg parses int8 as string by default; counts and versions here fit in a JS number.
pg.types.setTypeParser(20, (value) => Number(value));
pg.types.setTypeParser(1700, (value) => Number(value));

/**
 * RETRACE_LOG_STATEMENTS_OVER_MS=<ms>: each statement slower than that, its time and its
 * text (not its values, which hold personal data), one JSON line on stderr. Profiling
 * what a run waited on, on PGlite too, which has no statement log of its own
 * (`npm run bench` passes it on with BENCH_LOG_STATEMENTS).
 */
function slowStatementLog(): KyselyConfig['log'] {
  const over = process.env.RETRACE_LOG_STATEMENTS_OVER_MS;
  if (!over) return undefined;
  if (!/^\d+$/.test(over)) throw new Error('RETRACE_LOG_STATEMENTS_OVER_MS must be a number of milliseconds');
  const overMs = Number(over);
  return (event) => {
    if (event.queryDurationMillis < overMs) return;
    process.stderr.write(`${JSON.stringify({ at: new Date().toISOString(), statementMs: Math.round(event.queryDurationMillis), sql: event.query.sql.replace(/\s+/g, ' ').slice(0, 400) })}\n`);
  };
}

/**
 * `applicationName` marks the sessions in pg_stat_activity: a server's job runner names
 * its own (src/jobs/runner.ts), so that the next process of the same runner can end those
 * a killed one left running.
 */
export async function connectPostgres(url: string, poolSize = 10, applicationName?: string): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, ...(applicationName ? { application_name: applicationName } : {}) });
  // A connection the server ended (a takeover by the next process of a runner, an
  // operator's pg_terminate_backend, a restart) is dropped from the pool, which opens a new
  // one when needed; unhandled, its 'error' event would end the process. A query running
  // on it fails with the error as usual.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
    prepareMarkedStatements(client);
    sendBeginWithFirstStatement(client);
  });
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }), log: slowStatementLog() });
  return {
    db,
    engine: 'postgres',
    async withScriptSession(fn) {
      const client = await pool.connect();
      try {
        return await fn({
          exec: async (script) => void (await client.query(script)),
          rows: async (query) => (await client.query(query)).rows,
        });
      } finally {
        client.release();
      }
    },
    async execScript(on, script) {
      // A query without parameters goes by pg's simple protocol, which takes many statements.
      await sql.raw(script).execute(on);
    },
    async close() {
      await db.destroy();
    },
  };
}

/**
 * kysely-pglite-dialect's driver has no savepoint commands, which Kysely's controlled
 * transactions then skip without a word: they are sent as on a server. And it sends every
 * query by the extended protocol, one statement each: a query without parameters goes by
 * the simple protocol here, as pg sends it to a server, so that it may hold several
 * statements (the change context's `SET LOCAL`s) on both engines.
 */
class PGliteAsOnServer extends PGliteDialect {
  constructor(private readonly client: PGlite) {
    super(client);
  }

  override createDriver(): Driver {
    const driver = super.createDriver();
    const command = async (connection: DatabaseConnection, words: string, name: string) => {
      await connection.executeQuery(CompiledQuery.raw(`${words} "${name.replaceAll('"', '""')}"`));
    };
    driver.savepoint = (connection, name) => command(connection, 'SAVEPOINT', name);
    driver.rollbackToSavepoint = (connection, name) => command(connection, 'ROLLBACK TO SAVEPOINT', name);
    driver.releaseSavepoint = (connection, name) => command(connection, 'RELEASE SAVEPOINT', name);
    // The driver checks a released connection by identity, and hands a queued caller the
    // one released: it is changed in place, once.
    const acquire = driver.acquireConnection.bind(driver);
    driver.acquireConnection = async () => {
      const connection = await acquire();
      if (!simpleWhenPlain.has(connection)) {
        simpleWhenPlain.add(connection);
        const extended = connection.executeQuery.bind(connection);
        connection.executeQuery = async <R>(query: CompiledQuery) => {
          if (query.parameters.length > 0) return extended<R>(query);
          const results = await this.client.exec(query.sql);
          const last = results.at(-1);
          return {
            rows: (last?.rows ?? []) as R[],
            ...(last?.affectedRows ? { numAffectedRows: BigInt(last.affectedRows) } : {}),
          };
        };
      }
      return connection;
    };
    return driver;
  }
}

const simpleWhenPlain = new WeakSet<DatabaseConnection>();

/** PGlite in dataDir, or in memory when dataDir is undefined. */
export async function connectPGlite(dataDir: string | undefined): Promise<Database> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  // One options object: PGlite.create(undefined, options) drops the options, and the
  // in-memory database (the tests') would return numeric columns as strings.
  const client = await PGlite.create({
    dataDir,
    // The contacts' search index (migration 093) is a trigram index.
    extensions: { pg_trgm },
    parsers: { 20: (value: string) => Number(value), 1700: (value: string) => Number(value) },
  });
  // PGlite is one connection: the dialect's driver queues every Kysely connection, so a
  // transaction never interleaves with another request's statements.
  const db = new Kysely<Schema>({ dialect: new PGliteAsOnServer(client), log: slowStatementLog() });
  return {
    db,
    engine: 'pglite',
    async withScriptSession(fn) {
      // Through Kysely's queue, so a script never runs inside another transaction.
      return db.connection().execute(() =>
        fn({
          exec: async (script) => void (await client.exec(script)),
          rows: async <R>(query: string) => (await client.query<R>(query)).rows,
        }),
      );
    },
    async execScript(_on, script) {
      // Kysely's PGlite driver sends one statement per query; exec takes a script.
      await client.exec(script);
    },
    async close() {
      // PGlite's close ends its Emscripten runtime, which sets process.exitCode to 0: a
      // command that failed would exit 0. Keep the code the command set.
      const exitCode = process.exitCode;
      await db.destroy();
      process.exitCode = exitCode;
    },
  };
}

export { migrate } from './migrator.js';

/**
 * What a change is attributed to: the cause it names, or the user or integration token of
 * the request it came from (an integration's changes have the token as their actor).
 */
export function causeOf(change: ChangeContext): { kind: CauseKind; id: string | null } {
  if (change.cause) return change.cause;
  if (change.origin !== 'user' || change.actorId === null) return { kind: 'system', id: null };
  if (change.tokenId && change.actorId === change.tokenId) return { kind: 'integration', id: change.tokenId };
  return { kind: 'user', id: change.actorId };
}

/**
 * Runs fn in a transaction whose history rows and change set carry ctx's actor, token,
 * origin, cause and time. Every write of the application goes through here.
 */
export async function inTransaction<T>(db: Db, ctx: ChangeContext, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return withTransaction(db, async (tx) => {
    await applyChangeContext(tx, ctx);
    return fn(tx);
  });
}

/**
 * Runs fn in a transaction, committed when it returns and rolled back when it throws, as
 * db.transaction().execute does, but controlled: fn may take part of it back to a
 * savepoint. Without a change context: for what history does not capture (the audit
 * chain, counts, delivery records) and reads; every other write goes through inTransaction.
 */
export async function withTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const tx = await db.startTransaction().execute();
  try {
    const result = await fn(tx);
    await tx.commit().execute();
    return result;
  } catch (error) {
    await tx.rollback().execute();
    throw error;
  }
}

/**
 * This transaction's id as history records it (retrace_txid(): the coordinator's on
 * Citus), read on its own: Citus refuses the function inside an UPDATE of a distributed
 * table (its inlined COALESCE is not IMMUTABLE), so a statement that needs it takes it as
 * a parameter.
 */
export async function currentTxid(tx: Tx): Promise<string> {
  const { rows } = await sql<{ txid: string }>`SELECT retrace_txid()::text AS txid`.execute(tx);
  return rows[0].txid;
}

/**
 * Puts the change context into the transaction's settings, which the capture triggers and
 * the `DEFAULT retrace_now()` of every timestamp column read (a transaction controlled by
 * hand, such as a preview's, that is rolled back, sets it this way).
 *
 * As `SET LOCAL`s with literals, in one statement without parameters: on the server it
 * travels with the transaction's BEGIN (src/db/deferred-begin.ts), and on Citus a
 * `SET LOCAL` reaches the worker shards' triggers, which `set_config(…, true)` does not
 * (with `citus.propagate_set_commands = 'local'`).
 */
export async function applyChangeContext(tx: Tx, ctx: ChangeContext): Promise<void> {
  const cause = causeOf(ctx);
  const settings: [string, string][] = [
    ['retrace.now', ctx.at.toISOString()],
    ['retrace.actor', ctx.actorId ?? ''],
    ['retrace.origin', ctx.origin],
    ['retrace.workspace', ctx.workspaceId],
    ['retrace.token', ctx.tokenId ?? ''],
    ['retrace.cause_kind', cause.kind],
    ['retrace.cause_id', cause.id ?? ''],
  ];
  // retrace_share_txid (migration 110): on Citus, the coordinator's txid as `retrace.txid`
  // too, so that history on the workers and the application name the same transaction.
  const statements = [...settings.map(([name, value]) => `SET LOCAL ${name} = ${pg.escapeLiteral(value)}`), 'SELECT retrace_share_txid()'];
  await sql.raw(statements.join('; ')).execute(tx);
}
