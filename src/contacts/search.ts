import { sql, type RawBuilder } from 'kysely';
import { withTransaction, type Db } from '../db/database.js';
import { withPlannerOff } from '../db/keys.js';

/** `%q%` for ILIKE, its own wildcards taken literally. */
const containing = (q: string) => `%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;

/** `q` matched as a substring of the name or email, case-insensitively, over `contacts c`. */
export function nameOrEmailMatches(q: string | undefined): RawBuilder<unknown> {
  if (!q) return sql`true`;
  const pattern = containing(q);
  return sql`(c.email ILIKE ${pattern} OR c.first_name ILIKE ${pattern} OR c.last_name ILIKE ${pattern}
              OR (coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) ILIKE ${pattern})`;
}

/**
 * A page of contacts whose name or email contains `q`, in a given order, read in about the
 * same time whether `q` is common or rare (issue 15: a rare one read the whole recycle bin,
 * 1.4 s at 1,000,000 deleted contacts).
 *
 * A common `q` is found by reading the contacts in page order: a page fills within the
 * first few hundred. A rare one is found from the other side, through the trigram index of
 * the contacts' search text (`contact_search`, migration 093): its matches, each contact
 * looked up by key, then sorted. Which one `q` is only the data can tell, and the planner
 * cannot (it has no statistics to tell it: PGlite never analyzes, this server's autovacuum
 * may be off), so the first is tried over a window of the first `windowRows` contacts in
 * order; when that does not give a page, the second answers.
 *
 * Both give the same page: the first, because its window is the start of the order; the
 * second, because the trigram match finds every contact the exact condition could keep.
 */
export interface ContactSearch {
  workspaceId: string;
  q: string | undefined;
  /** Select list over `contacts c`. */
  columns: RawBuilder<unknown>;
  /** Conditions over `contacts c` besides the workspace and `q`: status, time range, cursor. */
  scope: RawBuilder<unknown>;
  /** ORDER BY over `contacts c`, ending with the id (a total order). */
  order: RawBuilder<unknown>;
  /** Rows wanted (a page and one more, to know there is a next page). */
  limit: number;
}

/** Contacts read in order before the trigram index is asked. */
const windowRows = 2000;

/** Shorter than a trigram, `q` cannot narrow the index: such a search reads in order. */
const shortestIndexedQuery = 3;

export async function searchContacts<R>(db: Db, search: ContactSearch): Promise<R[]> {
  const { workspaceId, q, columns, scope, order, limit } = search;
  const matches = nameOrEmailMatches(q);
  if (!q || q.length < shortestIndexedQuery) {
    const { rows } = await sql<R>`
      SELECT ${columns} FROM contacts c
      WHERE c.workspace_id = ${workspaceId} AND ${scope} AND ${matches}
      ORDER BY ${order} LIMIT ${limit}`.execute(db);
    return rows;
  }

  // The window's count is taken before q filters it, so a window that held the whole
  // scope (fewer rows than it could) answers too, even with less than a page.
  const { rows: inWindow } = await sql<R & { window_rows: number }>`
    SELECT ${columns}, c.window_rows FROM (
      SELECT c.*, count(*) OVER () AS window_rows FROM (
        SELECT c.* FROM contacts c WHERE c.workspace_id = ${workspaceId} AND ${scope} ORDER BY ${order} LIMIT ${windowRows}) c) c
    WHERE ${matches}
    ORDER BY ${order} LIMIT ${limit}`.execute(db);
  if (inWindow.length === limit || (inWindow.length > 0 && Number(inWindow[0].window_rows) < windowRows)) {
    return inWindow.map(({ window_rows: _n, ...row }) => row as R);
  }

  // The trigram index drives: its matches (a superset), each contact looked up by key and
  // kept by the exact conditions, then ordered. The index holds the text alone (migration
  // 093), so the workspace is kept outside the fence, where no b-tree on it (the primary
  // key) can be picked over the index. Planned as lookups whatever the planner guesses of
  // the index's selectivity (db/keys.ts).
  const pattern = containing(q);
  return withTransaction(db, async (tx) => {
    const { rows } = await withPlannerOff(
      tx,
      ['enable_seqscan', 'enable_hashjoin', 'enable_mergejoin', 'jit'],
      sql<R>`
        SELECT ${columns}
        FROM (SELECT s.workspace_id, s.contact_id FROM contact_search s WHERE s.search_text ILIKE ${pattern} OFFSET 0) hit
        CROSS JOIN LATERAL (SELECT c.* FROM contacts c WHERE c.workspace_id = hit.workspace_id AND c.id = hit.contact_id OFFSET 0) c
        WHERE hit.workspace_id = ${workspaceId} AND ${scope} AND ${matches}
        ORDER BY ${order} LIMIT ${limit}`,
    );
    return rows;
  });
}
