import { sql } from 'kysely';
import type { ChangeContext, Tx } from '../db/database.js';

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
  await sql`
    INSERT INTO outbox (workspace_id, type, origin, payload, created_at)
    SELECT ${change.workspaceId}, e->>'type', ${change.origin}, e, ${change.at}
    FROM jsonb_array_elements(${JSON.stringify(events)}::jsonb) WITH ORDINALITY AS t(e, n)
    ORDER BY n`.execute(tx);
}
