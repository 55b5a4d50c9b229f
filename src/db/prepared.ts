import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type pg from 'pg';

/**
 * Statements every request runs (the token's lookup, the change context, a contact's
 * write and read, its audit entry and event) are prepared once per connection on the
 * PostgreSQL server, and their plans kept, instead of parsed and planned afresh at every
 * execution: the token's five-table join cost more to plan than to run, and planning was
 * half of the server's time for a POST /contacts (BENCHMARKS.md, "Under load").
 *
 * A statement opts in by starting with `${prepared}`: sql`${prepared} SELECT …`. Only
 * statements of one fixed text may (no lists spliced in as one parameter each: every
 * length would be another prepared statement kept for the connection's life), and only
 * key lookups and writes whose plan does not depend on the values (after five executions
 * the server may keep one generic plan). On PGlite the mark is a comment.
 */
const mark = '/* prepared */';
export const prepared = sql.raw(`${mark} `);

const names = new Map<string, string>();

function nameOf(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `retrace_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * Makes a pg client send the statements marked `prepared` as named ones, which pg parses
 * once per connection and the server plans once (pg keeps the names it has prepared).
 */
export function prepareMarkedStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const marked = (text: unknown): text is string => typeof text === 'string' && text.startsWith(mark);
  client.query = ((...args: unknown[]) =>
    marked(args[0]) && args.length <= 2 ? query({ name: nameOf(args[0]), text: args[0], values: args[1] }) : query(...args)) as typeof client.query;
}
