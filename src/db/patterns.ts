import { sql, type RawBuilder, type SqlBool } from 'kysely';

/** `%q%` for LIKE and ILIKE: `q` anywhere in the text, its own wildcards taken literally. */
export const containing = (q: string): string => `%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;

/**
 * `lower(column) = lower(value)`: the case-insensitive match that the `lower(…)` unique
 * indexes (users' emails, roles' and tokens' names) hold, so the lookup uses them.
 */
export const equalsIgnoringCase = (column: string, value: string): RawBuilder<SqlBool> => sql<SqlBool>`lower(${sql.ref(column)}) = lower(${value})`;
