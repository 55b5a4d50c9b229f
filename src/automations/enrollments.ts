import { sql } from 'kysely';
import type { ChangeContext, Tx } from '../db/database.js';
import type { DeliveredEvent } from '../outbox/consumer.js';

/**
 * Pauses the running enrollments of contacts that leave (deleted, archived, merged),
 * keeping their step so a restore with resumeAutomations can continue where they were.
 */
export async function pauseEnrollments(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await sql`
    UPDATE enrollments SET resume_status = status, status = 'paused', updated_at = retrace_now()
    WHERE workspace_id = ${workspaceId} AND contact_id = ANY(${contactIds}::text[]) AND status IN ('active', 'waiting')`.execute(tx);
}

/**
 * Resumes paused enrollments of restored contacts at their saved step. The message ledger
 * (unique per automation, step and contact) keeps any step already sent from sending again.
 */
export async function resumeEnrollments(tx: Tx, workspaceId: string, contactIds: string[]): Promise<number> {
  const { rows } = await sql`
    UPDATE enrollments SET status = resume_status, resume_status = NULL, updated_at = retrace_now()
    WHERE workspace_id = ${workspaceId} AND contact_id = ANY(${contactIds}::text[]) AND status = 'paused' AND resume_status IS NOT NULL
    RETURNING contact_id`.execute(tx);
  return rows.length;
}

/**
 * Only a person's own action starts an automation: a user's change or a form submission.
 * Restores and rollbacks put data back and enrol nobody (seed 000: contacts put back on
 * campaigns get their emails twice); imports and system work are not actions of the
 * contact either.
 */
export const enrollingOrigins: readonly ChangeContext['origin'][] = ['user', 'form'];

/**
 * Enrols the contacts of the events in every automation their trigger matches, at step 0.
 * Idempotent: a contact is enrolled in an automation once, ever (the key is the
 * enrollment's primary key), so an event delivered twice enrols nobody twice. Only
 * automations that existed when the event happened, and contacts still active, count.
 */
export async function enrolOnEvents(tx: Tx, change: ChangeContext, events: DeliveredEvent[]): Promise<number> {
  const enrolling = events.filter((e) => enrollingOrigins.includes(e.origin));
  if (enrolling.length === 0) return 0;
  const { rows } = await sql`
    INSERT INTO enrollments (workspace_id, automation_id, contact_id, step_index, status, run_at, created_at, updated_at)
    SELECT DISTINCT ON (a.id, c.id) ${change.workspaceId}, a.id, c.id, 0, 'active', ${change.at}::timestamptz, ${change.at}::timestamptz, ${change.at}::timestamptz
    FROM jsonb_array_elements(${JSON.stringify(enrolling)}::jsonb) AS t(e)
    JOIN automations a ON a.workspace_id = ${change.workspaceId} AND a.trigger->>'type' = e->>'type'
      AND (a.trigger->>'listId' IS NULL OR a.trigger->>'listId' = e->>'listId')
      AND (a.trigger->>'tagId' IS NULL OR a.trigger->>'tagId' = e->>'tagId')
      AND a.created_at <= (e->>'createdAt')::timestamptz
    JOIN contacts c ON c.workspace_id = ${change.workspaceId} AND c.id = e->>'contactId' AND c.status = 'active'
    ORDER BY a.id, c.id
    ON CONFLICT (workspace_id, automation_id, contact_id) DO NOTHING
    RETURNING contact_id`.execute(tx);
  return rows.length;
}
