import type { z } from 'zod';
import { sql, type Selectable } from 'kysely';
import { joinContact } from '../contacts/guards.js';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import type { Messages } from '../db/schema.js';
import { inTransaction } from '../db/database.js';
import { batchOf, byKeys } from '../db/keys.js';
import { cursorTime, decodeCursor, toPage, type Page } from '../http/pagination.js';
import type { Logger } from '../logger.js';
import type { OutgoingMessage, Sender } from './sender.js';
import type { messageSchema } from './routes.js';

/** One message of the ledger as GET /messages answers it (routes.ts messageSchema). */
export type Message = z.output<typeof messageSchema>;

/** Its delivery status is one deliverMessages writes (or the column's default, pending). */
type MessageRow = Pick<Selectable<Messages>, 'id' | 'contact_id' | 'automation_id' | 'step_index' | 'subject' | 'sent_at'> & {
  delivery_status: Message['deliveryStatus'];
};

const presentMessage = (r: MessageRow): Message => ({
  id: r.id,
  contactId: r.contact_id,
  automationId: r.automation_id,
  stepIndex: r.step_index,
  subject: r.subject,
  sentAt: r.sent_at.toISOString(),
  deliveryStatus: r.delivery_status,
});

/** One message an automation step wants to send. */
export interface MessageClaim {
  automationId: string;
  stepIndex: number;
  contactId: string;
  subject: string;
}

/** Contacts gone for good (purged, erased): the messages sent them go. */
export async function forgetMessages(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await byKeys(tx, sql`DELETE FROM messages m USING ${batchOf(workspaceId, contactIds)} WHERE m.workspace_id = k.workspace_id AND m.contact_id = k.key`);
}

/**
 * Writes ledger rows for the claims, inside the transaction that advances their steps.
 * The unique (automation, step, contact) key with ON CONFLICT DO NOTHING means only
 * claims never made before come back: those, and only those, may be handed to a sender.
 */
export async function claimMessages(tx: Tx, change: ChangeContext, claims: MessageClaim[]): Promise<OutgoingMessage[]> {
  if (claims.length === 0) return [];
  const { rows } = await sql<{ id: string; automation_id: string; step_index: number; contact_id: string; subject: string; to: string }>`
    WITH claimed AS (
      INSERT INTO messages (workspace_id, automation_id, step_index, contact_id, subject, sent_at)
      SELECT ${change.workspaceId}, c->>'automationId', (c->>'stepIndex')::int, c->>'contactId', c->>'subject', ${change.at}
      FROM jsonb_array_elements(${JSON.stringify(claims)}::jsonb) AS t(c)
      ON CONFLICT (workspace_id, automation_id, step_index, contact_id) DO NOTHING
      RETURNING id, automation_id, step_index, contact_id, subject)
    SELECT m.id, m.automation_id, m.step_index, m.contact_id, m.subject, c.email AS to
    FROM claimed m ${joinContact('c', change.workspaceId, sql`m.contact_id`)}`.execute(tx);
  return rows.map((r) => ({
    id: r.id,
    workspaceId: change.workspaceId,
    automationId: r.automation_id,
    stepIndex: r.step_index,
    contactId: r.contact_id,
    to: r.to,
    subject: r.subject,
  }));
}

/**
 * Hands committed claims to the sender and records each outcome. A failed delivery is
 * recorded, not retried: retrying could send a message the transport did accept before
 * failing, and the contract is "at most once". The log says which message and how it
 * went, never to whom (an SMTP error's text quotes the recipient: only its codes go).
 */
export async function deliverMessages(db: Db, log: Logger, change: ChangeContext, sender: Sender, messages: OutgoingMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const outcomes: { id: string; error: string | null }[] = [];
  for (const message of messages) {
    try {
      await sender.send(message);
      log.info({ workspaceId: change.workspaceId, messageId: message.id, sender: sender.name, outcome: 'delivered' }, 'message delivered');
      outcomes.push({ id: message.id, error: null });
    } catch (error) {
      const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown };
      log.warn({ workspaceId: change.workspaceId, messageId: message.id, sender: sender.name, outcome: 'failed', code, responseCode }, 'message not delivered');
      outcomes.push({ id: message.id, error: error instanceof Error ? error.message : String(error) });
    }
  }
  await inTransaction(db, change, async (tx) => {
    await sql`
      UPDATE messages m SET
        delivery_status = CASE WHEN o->>'error' IS NULL THEN 'delivered' ELSE 'failed' END,
        delivered_at = CASE WHEN o->>'error' IS NULL THEN ${change.at}::timestamptz END,
        delivery_error = o->>'error'
      FROM jsonb_array_elements(${JSON.stringify(outcomes)}::jsonb) AS t(o)
      WHERE m.workspace_id = ${change.workspaceId} AND m.id = o->>'id'`.execute(tx);
  });
}

/** The ledger, oldest first; of one contact when contactId is given. */
export async function listMessages(
  db: Db,
  workspaceId: string,
  query: { contactId?: string; limit: number; cursor?: string },
): Promise<Page<Message>> {
  const after = decodeCursor(query.cursor, ['timestamp', 'text']);
  const { rows } = await sql<MessageRow & { sent_key: string }>`
    SELECT id, contact_id, automation_id, step_index, subject, sent_at, delivery_status, ${cursorTime('sent_at')} AS sent_key
    FROM messages
    WHERE workspace_id = ${workspaceId}
      AND (${query.contactId ?? null}::text IS NULL OR contact_id = ${query.contactId ?? null})
      AND (${after?.[0] ?? null}::timestamptz IS NULL OR (sent_at, id) > (${after?.[0] ?? null}::timestamptz, ${after?.[1] ?? null}::text))
    ORDER BY sent_at, id
    LIMIT ${query.limit + 1}`.execute(db);
  return toPage(rows, query.limit, (r) => [r.sent_key, r.id], presentMessage);
}
