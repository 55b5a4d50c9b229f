import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from '../http/pagination.js';

/**
 * The rows a rollback (or an undo by cause) left alone, kept in rollback_skips after the
 * job's plan is gone: the plan's own skips and those changed after it (changed_since_plan).
 */
export interface RollbackSkip {
  contactId: string | null;
  reason: string;
  takenBy?: string;
  /** For a row that is not the contact itself (a list, a deal, a membership): its table and history key. */
  record?: { table: string; key: string };
  /** For changed_since_plan: the change made after the plan, which the job kept. */
  changedAt?: string;
  changedBy?: string | null;
  changedOrigin?: string;
}

interface SkipRow {
  position: number;
  table_name: string;
  row_key: string;
  contact_id: string | null;
  reason: string;
  taken_by: string | null;
  changed_at: Date | null;
  changed_by: string | null;
  changed_origin: string | null;
}

function presentSkip(r: SkipRow): RollbackSkip {
  return {
    contactId: r.contact_id,
    reason: r.reason,
    ...(r.taken_by ? { takenBy: r.taken_by } : {}),
    ...(r.table_name === 'contacts' ? {} : { record: { table: r.table_name, key: r.row_key } }),
    ...(r.changed_at ? { changedAt: r.changed_at.toISOString(), changedBy: r.changed_by, changedOrigin: r.changed_origin ?? 'sql' } : {}),
  };
}

/** The next position of the rollback's skips (they are numbered in the order met). */
async function nextPosition(tx: Tx, workspaceId: string, rollbackId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT coalesce(max(position) + 1, 0)::int AS n FROM rollback_skips WHERE workspace_id = ${workspaceId} AND rollback_id = ${rollbackId}`.execute(tx);
  return rows[0].n;
}

/** Keeps the contacts the plan skips (merged, email_taken), in contact order, for paging once the plan is gone. */
export async function recordPlanSkips(tx: Tx, workspaceId: string, rollbackId: string): Promise<void> {
  const first = await nextPosition(tx, workspaceId, rollbackId);
  await sql`
    INSERT INTO rollback_skips (workspace_id, rollback_id, position, table_name, row_key, contact_id, reason, taken_by)
    SELECT rt.workspace_id, rt.rollback_id, ${first}::int + (row_number() OVER (ORDER BY rt.row_key COLLATE "C"))::int - 1,
           rt.table_name, rt.row_key, rt.contact_id, rt.skip_reason, rt.taken_by
    FROM rollback_targets rt
    WHERE rt.workspace_id = ${workspaceId} AND rt.rollback_id = ${rollbackId} AND rt.table_name = 'contacts' AND rt.skip_reason IS NOT NULL`.execute(tx);
}

/** A row found changed since the plan, with the latest change to it (who, when, how). */
export interface ChangedRow {
  tableName: string;
  rowKey: string;
  contactId: string | null;
  at: Date | null;
  actorId: string | null;
  origin: string | null;
}

/** Appends rows skipped as changed_since_plan after those the rollback has. */
export async function recordChangedSincePlan(tx: Tx, workspaceId: string, rollbackId: string, changed: ChangedRow[]): Promise<void> {
  if (changed.length === 0) return;
  const first = await nextPosition(tx, workspaceId, rollbackId);
  await sql`
    INSERT INTO rollback_skips (workspace_id, rollback_id, position, table_name, row_key, contact_id, reason, changed_at, changed_by, changed_origin)
    SELECT ${workspaceId}, ${rollbackId}, ${first}::int + s.n::int - 1, s.table_name, s.row_key, s.contact_id, 'changed_since_plan', s.at, s.actor_id, s.origin
    FROM unnest(${changed.map((c) => c.tableName)}::text[], ${changed.map((c) => c.rowKey)}::text[], ${changed.map((c) => c.contactId)}::text[],
                ${changed.map((c) => c.at?.toISOString() ?? null)}::timestamptz[], ${changed.map((c) => c.actorId)}::text[], ${changed.map((c) => c.origin)}::text[])
         WITH ORDINALITY AS s(table_name, row_key, contact_id, at, actor_id, origin, n)`.execute(tx);
}

/** The skips of a rollback in the order met, a page at a time. */
export async function selectRollbackSkips(db: Db, workspaceId: string, rollbackId: string, page: PageRequest): Promise<Page<RollbackSkip>> {
  const after = decodeCursor(page.cursor, ['integer']);
  const { rows } = await sql<SkipRow>`
    SELECT position, table_name, row_key, contact_id, reason, taken_by, changed_at, changed_by, changed_origin FROM rollback_skips
    WHERE workspace_id = ${workspaceId} AND rollback_id = ${rollbackId} AND position > ${after ? Number(after[0]) : -1}
    ORDER BY position LIMIT ${page.limit + 1}`.execute(db);
  const kept = rows.slice(0, page.limit);
  const last = kept.at(-1);
  return { data: kept.map(presentSkip), nextCursor: rows.length > page.limit && last ? encodeCursor([last.position]) : null };
}
