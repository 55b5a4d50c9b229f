import type pg from 'pg';

/**
 * On the PostgreSQL server a transaction's BEGIN travels with its first statement instead
 * of alone: one round trip fewer for every transaction whose first statement has no
 * parameters, which is every write's (the change context, `SET LOCAL` with literals:
 * src/db/database.ts). A request of POST /contacts made ten round trips, and each cost
 * both sides more CPU than most of its statements (BENCHMARKS.md, "Under load").
 *
 * A statement without parameters goes by the simple protocol, which takes several in one
 * message: BEGIN is put in front of it, and its own result handed back. A first statement
 * with parameters, or a cursor, is sent after the BEGIN, as before. A transaction that ran
 * nothing commits or rolls back without a word to the server. Nothing the server sees
 * changes but the packing: a transaction's snapshot is taken at its first statement
 * either way.
 */
export function sendBeginWithFirstStatement(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  let begin: string | null = null;
  client.query = ((...args: unknown[]) => {
    const [text, values] = args;
    const plain = typeof text === 'string' && args.length <= 2;
    if (plain && beginning.test(text)) {
      begin = text;
      return Promise.resolve(emptyResult('BEGIN'));
    }
    if (begin === null) return query(...args);
    const opening = begin;
    begin = null;
    if (plain && ending.test(text)) return Promise.resolve(emptyResult(text.trim().toUpperCase() === 'COMMIT' ? 'COMMIT' : 'ROLLBACK'));
    if (plain && (values === undefined || (Array.isArray(values) && values.length === 0))) {
      return (query(`${opening};\n${text}`) as Promise<pg.QueryResult | pg.QueryResult[]>).then((results) => {
        const own = (results as pg.QueryResult[]).slice(1);
        return own.length === 1 ? own[0] : own;
      });
    }
    // pg runs a client's queries in the order they were given: the BEGIN goes first. A
    // cursor (pg-cursor) is returned at once, not as a promise, so it cannot wait on it.
    const began = query(opening) as Promise<unknown>;
    if (!plain) {
      began.catch(() => {});
      return query(...args);
    }
    return began.then(() => query(...args));
  }) as typeof client.query;
}

// Kysely opens a transaction with `begin` or `start transaction …` and ends it with
// `commit` or `rollback`.
const beginning = /^\s*(begin|start transaction\b[^;]*)\s*$/i;
const ending = /^\s*(commit|rollback)\s*$/i;

const emptyResult = (command: string) => ({ command, rowCount: null, rows: [], fields: [], oid: 0 });
