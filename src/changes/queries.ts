import { sql, type RawBuilder } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { currentTxid } from '../db/database.js';
import { keptToWorkspace, versionsOfContact, workspaceIn } from '../db/keys.js';

/**
 * Change sets (migration 016): one per write transaction and workspace, recorded by the
 * capture triggers with its actor, token, origin and cause. History rows belong to theirs
 * by (workspace_id, txid) and carry its `at`. This module owns the table.
 */

/** What a change set did: for each table, how many rows it created, updated, deleted, … */
export type Counts = Record<string, Record<string, number>>;

/**
 * Counts, from history, what up to `limit` change sets not yet counted did (oldest first),
 * and keeps it on them. A change set's history never changes once committed, so it is
 * counted once. A contact's change is told by its status before (its version's `before`)
 * and after (the next version's `before`, or the live row): to the bin is `deleted`, to the
 * archive `archived`, back to active `restored`, into a survivor `merged`; any other an
 * update. Rows of other tables: a `deleted_at` set is `deleted`, cleared `restored`.
 * Returns how many change sets it counted. On Citus the workspace is a constant on each
 * table read (workspaceIn, keptToWorkspace: the statement goes whole to its node).
 */
export async function countPendingChangeSets(tx: Tx, workspaceId: string, limit: number, waitForOthers = false): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    WITH pending AS (
      SELECT cs.workspace_id, cs.txid, cs.at FROM change_sets cs
      WHERE cs.workspace_id = ${workspaceId} AND cs.counts IS NULL
      ORDER BY cs.at LIMIT ${limit}
      FOR UPDATE ${waitForOthers ? sql`` : sql`SKIP LOCKED`}),
    entries AS (
      SELECT p.txid, h.table_name,
        CASE WHEN h.op = 'insert' THEN 'created'
             WHEN h.op = 'delete' THEN 'deleted'
             WHEN h.before ? 'deleted_at' AND h.before->>'deleted_at' IS NULL AND h.after->>'deleted_at' IS NOT NULL THEN 'deleted'
             WHEN h.before ? 'deleted_at' AND h.before->>'deleted_at' IS NOT NULL AND h.after->>'deleted_at' IS NULL THEN 'restored'
             ELSE 'updated' END AS change
      FROM pending p
      CROSS JOIN LATERAL (SELECT h.table_name, h.op, h.before, h.after FROM history_entries h
                          WHERE h.workspace_id = ${workspaceIn('p', workspaceId)} AND h.at = p.at AND h.txid = p.txid OFFSET 0) h),
    contact_changes AS (
      SELECT p.txid, 'contacts'::text AS table_name,
        CASE WHEN v.op = 'insert' THEN 'created'
             WHEN v.op = 'delete' THEN 'purged'
             WHEN v.before_status IN ('active', 'archived') AND coalesce(nxt.status, live.status) = 'deleted' THEN 'deleted'
             WHEN v.before_status = 'active' AND coalesce(nxt.status, live.status) = 'archived' THEN 'archived'
             WHEN v.before_status IN ('deleted', 'archived') AND coalesce(nxt.status, live.status) = 'active' THEN 'restored'
             WHEN coalesce(nxt.status, live.status) = 'merged' AND v.before_status <> 'merged' THEN 'merged'
             ELSE 'updated' END AS change
      FROM pending p
      CROSS JOIN LATERAL (SELECT v.id, v.op, v.version, (v.before).status AS before_status FROM contact_history v
                          WHERE v.workspace_id = ${workspaceIn('p', workspaceId)} AND v.at = p.at AND v.txid = p.txid OFFSET 0) v
      LEFT JOIN LATERAL (SELECT (n.before).status AS status FROM ${versionsOfContact(sql.ref('v.id'), workspaceId)} n
                         WHERE n.workspace_id = ${workspaceIn('p', workspaceId)} AND n.version > v.version
                         ORDER BY n.version LIMIT 1) nxt ON true
      LEFT JOIN LATERAL (SELECT l.status FROM contacts l WHERE l.workspace_id = ${workspaceIn('p', workspaceId)} AND l.id = v.id OFFSET 0) live ON true),
    by_change AS (
      SELECT txid, table_name, change, count(*)::int AS n FROM (SELECT * FROM entries UNION ALL SELECT * FROM contact_changes) c
      GROUP BY txid, table_name, change),
    by_table AS (
      SELECT txid, table_name, jsonb_object_agg(change, n) AS changes FROM by_change GROUP BY txid, table_name),
    -- materialized: the planner takes the pending sets for one row and would join them by
    -- a nested loop that aggregates everything again for each set (21 s for 200 sets)
    by_set AS MATERIALIZED (
      SELECT txid, jsonb_object_agg(table_name, changes) AS counts FROM by_table GROUP BY txid),
    counted AS (
      UPDATE change_sets cs SET counts = coalesce(s.counts, '{}')
      FROM pending p LEFT JOIN by_set s ON s.txid = p.txid
      WHERE ${keptToWorkspace('cs', workspaceId)} AND cs.workspace_id = p.workspace_id AND cs.txid = p.txid
      RETURNING 1)
    SELECT count(*)::int AS n FROM counted`.execute(tx);
  return rows[0].n;
}

/** Workspaces with change sets still to count. */
export async function workspacesWithPendingCounts(db: Db, workspaceId: string | null): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    SELECT w.id FROM workspaces w
    WHERE (${workspaceId}::text IS NULL OR w.id = ${workspaceId})
      AND EXISTS (SELECT 1 FROM change_sets cs WHERE cs.workspace_id = w.id AND cs.counts IS NULL)
    ORDER BY w.id`.execute(db);
  return rows.map((r) => r.id);
}

export interface ChangeFilter {
  actorId?: string;
  tokenId?: string;
  causeKind?: string;
  causeId?: string;
  from: Date;
  to: Date;
}

/** Over `change_sets cs`: those of the workspace the filter takes, that changed something. */
function filtered(workspaceId: string, filter: ChangeFilter): RawBuilder<unknown> {
  return sql`cs.workspace_id = ${workspaceId} AND cs.at >= ${filter.from} AND cs.at <= ${filter.to}
    AND cs.counts IS NOT NULL AND cs.counts <> '{}'::jsonb
    AND (${filter.actorId ?? null}::text IS NULL OR cs.actor_id = ${filter.actorId ?? null})
    AND (${filter.tokenId ?? null}::text IS NULL OR cs.token_id = ${filter.tokenId ?? null})
    AND (${filter.causeKind ?? null}::text IS NULL OR cs.cause_kind = ${filter.causeKind ?? null})
    AND (${filter.causeId ?? null}::text IS NULL OR cs.cause_id = ${filter.causeId ?? null})`;
}

export interface CauseRow {
  cause_kind: string;
  cause_id: string | null;
  first_at: Date;
  last_at: Date;
  last_key: string;
  actor_ids: (string | null)[];
  token_ids: (string | null)[];
  change_sets: number;
  counts: Counts;
}

/**
 * The causes of the change sets the filter takes, newest last change first, each with
 * what it did in all: a cause that acts by its own id (an import, a merge, a job) is one;
 * a user, token, automation or form is one for each burst of its changes, a burst ending
 * where it made no change for `gapMinutes`. After the cursor (last change, kind, id).
 */
export async function selectCauses(
  db: Db,
  workspaceId: string,
  filter: ChangeFilter,
  gapMinutes: number,
  after: [string, string, string] | undefined,
  limit: number,
): Promise<CauseRow[]> {
  const { rows } = await sql<CauseRow>`
    WITH sets AS (
      SELECT cs.cause_kind, cs.cause_id, cs.at, cs.actor_id, cs.token_id, cs.counts,
        CASE WHEN cs.cause_kind IN ('user', 'integration', 'automation', 'form', 'system', 'sql')
              AND cs.at - lag(cs.at) OVER (PARTITION BY cs.cause_kind, cs.cause_id ORDER BY cs.at) > make_interval(mins => ${gapMinutes})
             THEN 1 ELSE 0 END AS starts_burst
      FROM change_sets cs WHERE ${filtered(workspaceId, filter)}),
    bursts AS (
      SELECT s.*, sum(s.starts_burst) OVER (PARTITION BY s.cause_kind, s.cause_id ORDER BY s.at) AS burst FROM sets s),
    summed AS (
      SELECT b.cause_kind, b.cause_id, b.burst, t.key AS table_name, c.key AS change, sum(c.value::int)::int AS n
      FROM bursts b CROSS JOIN LATERAL jsonb_each(b.counts) t CROSS JOIN LATERAL jsonb_each_text(t.value) c
      GROUP BY 1, 2, 3, 4, 5),
    counted AS (
      SELECT cause_kind, cause_id, burst, jsonb_object_agg(table_name, changes) AS counts
      FROM (SELECT cause_kind, cause_id, burst, table_name, jsonb_object_agg(change, n) AS changes FROM summed GROUP BY 1, 2, 3, 4) t
      GROUP BY 1, 2, 3),
    causes AS (
      SELECT b.cause_kind, b.cause_id, b.burst, min(b.at) AS first_at, max(b.at) AS last_at,
        array_agg(DISTINCT b.actor_id) AS actor_ids, array_agg(DISTINCT b.token_id) AS token_ids, count(*)::int AS change_sets
      FROM bursts b GROUP BY 1, 2, 3)
    SELECT c.cause_kind, c.cause_id, c.first_at, c.last_at, to_char(c.last_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_key,
      c.actor_ids, c.token_ids, c.change_sets, n.counts
    FROM causes c JOIN counted n ON n.cause_kind = c.cause_kind AND n.cause_id IS NOT DISTINCT FROM c.cause_id AND n.burst = c.burst
    WHERE (${after?.[0] ?? null}::timestamptz IS NULL
           OR (c.last_at, c.cause_kind, coalesce(c.cause_id, '')) < (${after?.[0] ?? null}::timestamptz, ${after?.[1] ?? null}::text, ${after?.[2] ?? null}::text))
    ORDER BY c.last_at DESC, c.cause_kind DESC, coalesce(c.cause_id, '') DESC
    LIMIT ${limit}`.execute(db);
  return rows;
}

export interface ActivityRow {
  at: Date;
  changes: Record<string, number>;
}

/** Changes summed over every kind of record, by what they were, per bucket of time. */
export async function selectActivity(db: Db, workspaceId: string, filter: ChangeFilter, bucket: 'minute' | 'hour' | 'day'): Promise<ActivityRow[]> {
  const { rows } = await sql<ActivityRow>`
    SELECT b.at, coalesce(jsonb_object_agg(b.change, b.n) FILTER (WHERE b.change IS NOT NULL), '{}') AS changes
    FROM (
      SELECT date_trunc(${bucket}, cs.at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS at, c.key AS change, sum(c.value::int)::int AS n
      FROM change_sets cs CROSS JOIN LATERAL jsonb_each(cs.counts) t CROSS JOIN LATERAL jsonb_each_text(t.value) c
      WHERE ${filtered(workspaceId, filter)}
      GROUP BY 1, 2) b
    GROUP BY b.at ORDER BY b.at`.execute(db);
  return rows;
}

/** The transactions of the change sets the filter takes, oldest first: what an undo of that cause reverts. */
export async function selectTransactions(db: Db | Tx, workspaceId: string, filter: ChangeFilter & { txid?: string }): Promise<{ txid: string; at: Date }[]> {
  let query = db
    .selectFrom('change_sets as cs')
    .select((eb) => [eb.cast<string>('cs.txid', 'text').as('txid'), 'cs.at'])
    .where('cs.workspace_id', '=', workspaceId)
    .where('cs.at', '>=', filter.from)
    .where('cs.at', '<=', filter.to);
  if (filter.txid !== undefined) query = query.where('cs.txid', '=', sql<number>`${filter.txid}::bigint`);
  if (filter.actorId !== undefined) query = query.where('cs.actor_id', '=', filter.actorId);
  if (filter.tokenId !== undefined) query = query.where('cs.token_id', '=', filter.tokenId);
  if (filter.causeKind !== undefined) query = query.where('cs.cause_kind', '=', filter.causeKind);
  if (filter.causeId !== undefined) query = query.where('cs.cause_id', '=', filter.causeId);
  // By cs.txid, the bigint: a bare `txid` would be the text selected under that name.
  return query.orderBy('cs.at').orderBy('cs.txid').execute();
}

/**
 * Names this transaction's change set's cause once its id is known (a merge's first audit
 * entry). The txid is read first (currentTxid: Citus refuses it in an UPDATE).
 */
export async function nameThisChangeSet(tx: Tx, workspaceId: string, cause: { kind: string; id: string }): Promise<void> {
  const txid = await currentTxid(tx);
  await tx
    .updateTable('change_sets')
    .set({ cause_kind: cause.kind, cause_id: cause.id })
    .where('workspace_id', '=', workspaceId)
    .where('txid', '=', sql<number>`${txid}::bigint`)
    .execute();
}

/**
 * What each cause is called where it has a name: a user's name or email, an integration
 * token's name, an import's file, an automation's or a form's name. Keyed `kind:id`.
 */
export async function selectCauseNames(db: Db, workspaceId: string, causes: { kind: string; id: string | null }[]): Promise<Map<string, string>> {
  const ids = (kind: string) => [...new Set(causes.flatMap((c) => (c.kind === kind && c.id !== null ? [c.id] : [])))];
  const { rows } = await sql<{ key: string; name: string | null }>`
    SELECT 'user:' || u.id AS key, coalesce(u.name, u.email) AS name FROM users u
    WHERE u.workspace_id = ${workspaceId} AND u.id = ANY(${ids('user')}::text[])
    UNION ALL
    SELECT 'integration:' || t.id, t.name FROM api_tokens t WHERE t.workspace_id = ${workspaceId} AND t.id = ANY(${ids('integration')}::text[])
    UNION ALL
    SELECT 'automation:' || a.id, a.name FROM automations a WHERE a.workspace_id = ${workspaceId} AND a.id = ANY(${ids('automation')}::text[])
    UNION ALL
    SELECT 'form:' || f.id, f.name FROM forms f WHERE f.workspace_id = ${workspaceId} AND f.id = ANY(${ids('form')}::text[])
    UNION ALL
    SELECT 'import:' || j.id, j.params->>'originalName' FROM jobs j
    WHERE j.workspace_id = ${workspaceId} AND j.kind = 'import' AND j.id = ANY(${ids('import')}::text[])`.execute(db);
  return new Map(rows.flatMap((r) => (r.name ? [[r.key, r.name] as [string, string]] : [])));
}
