import { sql, type RawBuilder } from 'kysely';
import { prepared } from '../db/prepared.js';
import type { ChangeContext, Db, Tx } from '../db/database.js';

/** The domain events automations listen to. */
export type DomainEvent =
  | { type: 'contact.created'; contactId: string }
  | { type: 'list.subscribed'; listId: string; contactId: string }
  | { type: 'tag.added'; tagId: string; contactId: string };

/**
 * Writes events to the transactional outbox in the caller's transaction, with the
 * change's origin: an event exists exactly when its change committed, and consumers
 * can tell a user's action from a restore's.
 */
export async function emitEvents(tx: Tx, change: ChangeContext, events: DomainEvent[]): Promise<void> {
  if (events.length === 0) return;
  await sql`${prepared}
    INSERT INTO outbox (workspace_id, type, origin, payload, created_at)
    SELECT ${change.workspaceId}, e->>'type', ${change.origin}, e, ${change.at}
    FROM jsonb_array_elements(${JSON.stringify(events)}::jsonb) WITH ORDINALITY AS t(e, n)
    ORDER BY n`.execute(tx);
}

/**
 * The INSERT of the events a caller's statement computes, for a data-modifying WITH of
 * that statement (as emitEvents writes them): a hot write emits its event without a
 * statement of its own. `events` gives rows of (payload jsonb), each a DomainEvent.
 */
export const insertEventsFrom = (change: ChangeContext, events: RawBuilder<unknown>) => sql`
  INSERT INTO outbox (workspace_id, type, origin, payload, created_at)
  SELECT ${change.workspaceId}::text, e.payload->>'type', ${change.origin}::text, e.payload, ${change.at}::timestamptz
  FROM (${events}) AS e`;

/** How long a delivered event is kept, for replays and inquiries, before it is pruned. */
export const deliveredEventDays = 7;

/**
 * Removes events delivered more than deliveredEventDays ago, so the outbox stays small.
 * The automation runner is idempotent and the ledger never sends twice, so a replay
 * never needs an event that old. Returns how many were removed.
 */
export async function pruneDeliveredEvents(db: Db, workspaceId: string | null, now: Date): Promise<number> {
  const before = new Date(now.getTime() - deliveredEventDays * 86_400_000);
  const { rows } = await sql<{ n: number }>`
    WITH pruned AS (
      DELETE FROM outbox
      WHERE (${workspaceId}::text IS NULL OR workspace_id = ${workspaceId}) AND processed_at IS NOT NULL AND processed_at < ${before}
      RETURNING 1)
    SELECT count(*)::int AS n FROM pruned`.execute(db);
  return rows[0].n;
}
