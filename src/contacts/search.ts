import { sql, type RawBuilder } from 'kysely';
import { withTransaction, type Db } from '../db/database.js';
import { batchOf, byKeys, withPlannerOff } from '../db/keys.js';
import { containing } from '../db/patterns.js';


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
 * Which kind `q` is only the data can tell; the planner cannot (it has no statistics to
 * tell it: PGlite never analyzes, a server's autovacuum may be off). So, in turn:
 * 1. The first `windowRows` contacts in page order: a common `q` fills a page there.
 * 2. The trigram index of the contacts' search text (`contact_search`, migration 093):
 *    when it matches at most `mostMatches` of the workspace's contacts, those are looked
 *    up by key, kept by the exact condition, and ordered (11,111 at 1,000,000: 0.1 s).
 * 3. Otherwise `q` is so common that reading in page order usually finds a page soon. Not
 *    always: matches that all sit at the end of the order (the oldest deletions) are
 *    found after reading the rest, which is why step 2 takes as many as it does.
 * Each gives the same page: 1 and 3 read in page order, and 2 holds every contact the
 * exact condition could keep (a trigram match is a superset).
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

/** Contacts read in page order before the trigram index is asked. */
const windowRows = 500;

/** Matches the index may give for them to be looked up one by one. */
const mostMatches = 20_000;

/** Shorter than a trigram, `q` cannot narrow the index: such a search reads in order. */
const shortestIndexedQuery = 3;

export async function searchContacts<R>(db: Db, search: ContactSearch): Promise<R[]> {
  const { workspaceId, q, columns, scope, order, limit } = search;
  const matches = nameOrEmailMatches(q);
  const inOrder = async (window: number | null) => {
    const scanned = window === null ? sql`contacts c` : sql`(SELECT c.* FROM contacts c WHERE c.workspace_id = ${workspaceId} AND ${scope} ORDER BY ${order} LIMIT ${window}) c`;
    const { rows } = await sql<R>`
      SELECT ${columns} FROM ${scanned}
      WHERE c.workspace_id = ${workspaceId} AND ${scope} AND ${matches}
      ORDER BY ${order} LIMIT ${limit}`.execute(db);
    return rows;
  };
  if (!q || q.length < shortestIndexedQuery) return inOrder(null);

  const inWindow = await inOrder(windowRows);
  if (inWindow.length === limit) return inWindow;

  const fromIndex = await withTransaction(db, async (tx) => {
    // The index holds the text alone (migration 093): the workspace is kept outside the
    // fence, where no b-tree on it (the primary key) can be picked over the index; and no
    // scan of the table either, which the planner, guessing, would often rather do.
    const { rows: hits } = await withPlannerOff(
      tx,
      ['enable_seqscan'],
      sql<{ contact_id: string }>`
        SELECT hit.contact_id
        FROM (SELECT s.workspace_id, s.contact_id FROM contact_search s WHERE s.search_text ILIKE ${containing(q)} OFFSET 0) hit
        WHERE hit.workspace_id = ${workspaceId}
        LIMIT ${mostMatches + 1}`,
    );
    // Too many to look up: read in order, once this transaction has ended (on PGlite, one
    // connection, a read from outside it would wait for it).
    if (hits.length > mostMatches) return null;
    if (hits.length === 0) return [];
    // Each match looked up by key, whatever the planner guesses of how many (db/keys.ts).
    const { rows } = await byKeys(
      tx,
      sql<R>`
        SELECT ${columns}
        FROM ${batchOf(workspaceId, hits.map((h) => h.contact_id))}
        CROSS JOIN LATERAL (SELECT c.* FROM contacts c WHERE c.workspace_id = k.workspace_id AND c.id = k.key OFFSET 0) c
        WHERE ${scope} AND ${matches}
        ORDER BY ${order} LIMIT ${limit}`,
    );
    return rows;
  });
  return fromIndex ?? inOrder(null);
}
