import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { cursorTime, type CursorKey } from '../http/pagination.js';
import type { Removal } from '../contacts/service.js';

// ---------------------------------------------------------------- the tally

/**
 * Serializes the guard's decisions for one actor of one workspace until the transaction
 * ends: two requests of the same actor at once take turns, so both cannot pass the limit.
 */
export async function lockActor(tx: Tx, workspaceId: string, actorId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended('mass-delete:' || ${workspaceId} || ':' || ${actorId}, 0))`.execute(tx);
}

/**
 * How many contacts the actor deleted or archived after `since` (each request applied
 * counts what it removed), and the workspace's contacts as first counted in that time.
 */
export async function removedSince(tx: Tx, workspaceId: string, actorId: string, since: Date): Promise<{ removed: number; base: number | null }> {
  const { rows } = await sql<{ removed: number; base: number | null }>`
    SELECT coalesce(sum(removed), 0)::int AS removed, (array_agg(base ORDER BY at, id) FILTER (WHERE base IS NOT NULL))[1] AS base
    FROM mass_delete_tallies
    WHERE workspace_id = ${workspaceId} AND actor_id = ${actorId} AND at > ${since}`.execute(tx);
  return rows[0];
}

/** The contacts the actor deleted or archived after `since`, in the order it did. */
export async function contactsRemovedSince(tx: Tx, workspaceId: string, actorId: string, since: Date): Promise<string[]> {
  const rows = await tx
    .selectFrom('mass_delete_tallies')
    .select('contact_ids')
    .where('workspace_id', '=', workspaceId)
    .where('actor_id', '=', actorId)
    .where('at', '>', since)
    .orderBy('at')
    .orderBy('id')
    .execute();
  return rows.flatMap((r) => r.contact_ids);
}

export interface TallyEntry {
  actorId: string;
  tokenId: string | null;
  removal: Removal;
  at: Date;
  contactIds: string[];
  /** The workspace's contacts as counted for the window, if they were. */
  base: number | null;
}

export async function insertTally(tx: Tx, workspaceId: string, entry: TallyEntry): Promise<void> {
  await tx
    .insertInto('mass_delete_tallies')
    .values({
      workspace_id: workspaceId,
      actor_id: entry.actorId,
      token_id: entry.tokenId,
      removal: entry.removal,
      at: entry.at,
      contact_ids: entry.contactIds,
      removed: entry.contactIds.length,
      base: entry.base,
    })
    .execute();
}

/** Forgets what the actor removed so far: after a release its window starts again. */
export async function forgetTally(tx: Tx, workspaceId: string, actorId: string): Promise<void> {
  await tx.deleteFrom('mass_delete_tallies').where('workspace_id', '=', workspaceId).where('actor_id', '=', actorId).execute();
}

/**
 * Removes rows from before `before`, except those of actors with a pending held request
 * (a rejection with undo still needs them).
 */
export async function pruneTally(tx: Tx, workspaceId: string, before: Date): Promise<void> {
  await sql`
    DELETE FROM mass_delete_tallies t
    WHERE t.workspace_id = ${workspaceId} AND t.at < ${before}
      AND NOT EXISTS (SELECT 1 FROM held_deletes h WHERE h.workspace_id = t.workspace_id AND h.actor_id = t.actor_id AND h.status = 'pending')`.execute(tx);
}

// ---------------------------------------------------------------- held requests

export type HeldStatus = 'pending' | 'released' | 'rejected';
export type LimitBy = 'maxContacts' | 'maxPercent';

export interface HeldOutcome {
  deleted?: number;
  archived?: number;
  restored?: number;
  skipped: number;
}

export interface HeldRow {
  id: string;
  actor_id: string;
  token_id: string | null;
  status: HeldStatus;
  held_at: Date;
  removed_in_window: number;
  limit_contacts: number;
  limit_by: LimitBy;
  window_minutes: number;
  window_from: Date;
  decided_by: string | null;
  decided_at: Date | null;
  undo: boolean | null;
  outcome: HeldOutcome | null;
  /** Aggregates of its requests. */
  requests: number;
  to_delete: number;
  to_archive: number;
  page_time: string;
}

const heldColumns = sql`
  h.id, h.actor_id, h.token_id, h.status, h.held_at, h.removed_in_window, h.limit_contacts, h.limit_by, h.window_minutes,
  h.window_from, h.decided_by, h.decided_at, h.undo, h.outcome, ${cursorTime('h.held_at')} AS page_time,
  s.requests, s.to_delete, s.to_archive`;

// Its requests, read by the primary key's prefix for each held request.
const requestSums = sql`
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS requests,
           coalesce(sum(r.removable) FILTER (WHERE r.removal = 'delete'), 0)::int AS to_delete,
           coalesce(sum(r.removable) FILTER (WHERE r.removal = 'archive'), 0)::int AS to_archive
    FROM held_delete_requests r WHERE r.workspace_id = h.workspace_id AND r.held_id = h.id) s`;

export interface NewHeld {
  actorId: string;
  tokenId: string | null;
  heldAt: Date;
  removedInWindow: number;
  limit: number;
  limitBy: LimitBy;
  windowMinutes: number;
  windowFrom: Date;
}

export async function insertHeld(tx: Tx, workspaceId: string, held: NewHeld): Promise<string> {
  const row = await tx
    .insertInto('held_deletes')
    .values({
      workspace_id: workspaceId,
      actor_id: held.actorId,
      token_id: held.tokenId,
      held_at: held.heldAt,
      removed_in_window: held.removedInWindow,
      limit_contacts: held.limit,
      limit_by: held.limitBy,
      window_minutes: held.windowMinutes,
      window_from: held.windowFrom,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Adds a request after the held request's others. */
export async function appendHeldRequest(
  tx: Tx,
  workspaceId: string,
  heldId: string,
  request: { removal: Removal; contactIds: string[]; removable: number; requestedAt: Date },
): Promise<void> {
  await sql`
    INSERT INTO held_delete_requests (workspace_id, held_id, position, removal, contact_ids, removable, requested_at)
    SELECT ${workspaceId}, ${heldId},
           coalesce((SELECT max(position) + 1 FROM held_delete_requests WHERE workspace_id = ${workspaceId} AND held_id = ${heldId}), 0),
           ${request.removal}, ${request.contactIds}::text[], ${request.removable}, ${request.requestedAt}`.execute(tx);
}

/** The actor's pending held request, if it has one (at most one: a unique index). */
export async function selectPendingHeldId(tx: Tx, workspaceId: string, actorId: string): Promise<string | undefined> {
  const row = await tx.selectFrom('held_deletes')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('actor_id', '=', actorId)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return row?.id;
}

export async function selectHeld(db: Db | Tx, workspaceId: string, heldId: string): Promise<HeldRow | undefined> {
  const { rows } = await sql<HeldRow>`
    SELECT ${heldColumns} FROM held_deletes h ${requestSums}
    WHERE h.workspace_id = ${workspaceId} AND h.id = ${heldId}`.execute(db);
  return rows[0];
}

/** Locks the held request's row; answers its status. */
export async function lockHeld(tx: Tx, workspaceId: string, heldId: string): Promise<HeldStatus | undefined> {
  const row = await tx.selectFrom('held_deletes')
    .select('status')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', heldId)
    .forUpdate()
    .$narrowType<{ status: HeldStatus }>()
    .executeTakeFirst();
  return row?.status;
}

/** Held requests, newest first, of one status or all. */
export async function selectHeldPage(db: Db, workspaceId: string, status: HeldStatus | undefined, after: CursorKey | undefined, fetch: number): Promise<HeldRow[]> {
  const { rows } = await sql<HeldRow>`
    SELECT ${heldColumns} FROM held_deletes h ${requestSums}
    WHERE h.workspace_id = ${workspaceId} AND (${status ?? null}::text IS NULL OR h.status = ${status ?? null})
      AND (${after?.[0] ?? null}::timestamptz IS NULL OR (h.held_at, h.id) < (${after?.[0] ?? null}::timestamptz, ${after?.[1] ?? null}::text))
    ORDER BY h.held_at DESC, h.id DESC LIMIT ${fetch}`.execute(db);
  return rows;
}

/** The held request's requests, in the order they came. */
export async function selectHeldRequests(tx: Tx, workspaceId: string, heldId: string): Promise<{ removal: Removal; contact_ids: string[] }[]> {
  return tx
    .selectFrom('held_delete_requests')
    .select(['removal', 'contact_ids'])
    .where('workspace_id', '=', workspaceId)
    .where('held_id', '=', heldId)
    .orderBy('position')
    .$narrowType<{ removal: Removal }>()
    .execute();
}

export async function markDecided(
  tx: Tx,
  workspaceId: string,
  heldId: string,
  decision: { status: 'released' | 'rejected'; by: string | null; at: Date; undo: boolean | null; outcome: HeldOutcome | null },
): Promise<void> {
  // The outcome (jsonb) goes as JSON text.
  await tx
    .updateTable('held_deletes')
    .set({
      status: decision.status,
      decided_by: decision.by,
      decided_at: decision.at,
      undo: decision.undo,
      outcome: decision.outcome === null ? null : JSON.stringify(decision.outcome),
    })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', heldId)
    .execute();
}
