import { sql } from 'kysely';
import type { AppContext } from '../context.js';
import type { ChangeContext, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import type { DomainEvent } from './service.js';

/** An event as the outbox delivers it: with its position and the origin of its change. */
export type DeliveredEvent = DomainEvent & { id: number; origin: ChangeContext['origin']; createdAt: Date };

/**
 * Handles one batch of a workspace's events, in order, inside the transaction that marks
 * them delivered. Delivery is at least once (a batch whose transaction fails is delivered
 * again), so a handler must be idempotent.
 */
export type EventHandler = (tx: Tx, change: ChangeContext, events: DeliveredEvent[]) => Promise<void>;

const batchSize = 500;

/**
 * Delivers the pending events of one workspace (or of every workspace with some) to the
 * handler, oldest first, batch by batch, until none is left. Returns how many it delivered.
 */
export async function consumeOutbox(ctx: AppContext, workspaceId: string | null, handler: EventHandler): Promise<number> {
  const workspaceIds =
    workspaceId !== null
      ? [workspaceId]
      : // Maintenance of every workspace: the one unscoped query finds where there is work.
        (await sql<{ workspace_id: string }>`SELECT DISTINCT workspace_id FROM outbox WHERE processed_at IS NULL`.execute(ctx.db)).rows.map(
          (r) => r.workspace_id,
        );
  let delivered = 0;
  for (const id of workspaceIds) {
    for (;;) {
      const change: ChangeContext = { workspaceId: id, actorId: null, origin: 'system', at: ctx.clock.now() };
      const count = await inTransaction(ctx.db, change, (tx) => deliverBatch(tx, change, handler));
      delivered += count;
      if (count < batchSize) break;
    }
  }
  return delivered;
}

async function deliverBatch(tx: Tx, change: ChangeContext, handler: EventHandler): Promise<number> {
  // One consumer per workspace at a time, so events are handled in order: a second one
  // waits here, then finds the batch already delivered.
  await sql`SELECT pg_advisory_xact_lock(hashtext('retrace.outbox'), hashtext(${change.workspaceId}))`.execute(tx);
  const { rows } = await sql<{ id: number; type: DomainEvent['type']; origin: ChangeContext['origin']; payload: DomainEvent; created_at: Date }>`
    SELECT id, type, origin, payload, created_at FROM outbox
    WHERE workspace_id = ${change.workspaceId} AND processed_at IS NULL
    ORDER BY id
    LIMIT ${batchSize}`.execute(tx);
  if (rows.length === 0) return 0;
  await handler(
    tx,
    change,
    rows.map((r) => ({ ...r.payload, id: r.id, origin: r.origin, createdAt: r.created_at })),
  );
  await sql`
    UPDATE outbox SET processed_at = ${change.at}
    WHERE workspace_id = ${change.workspaceId} AND id = ANY(${rows.map((r) => r.id)}::bigint[])`.execute(tx);
  return rows.length;
}
