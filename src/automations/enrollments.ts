import { sql } from 'kysely';
import { joinContact } from '../contacts/guards.js';
import type { ChangeContext, Tx } from '../db/database.js';
import { batchOf, byKeys, keptToWorkspace, lookUp } from '../db/keys.js';
import type { DeliveredEvent } from '../outbox/consumer.js';

/** The enrollments of each contact of the batch `k`, as `x` (db/keys.ts). */
const enrollmentsOf = () => lookUp('enrollments', 'x', sql`x.workspace_id = k.workspace_id AND x.contact_id = k.key`, 'FOR UPDATE');

/** The enrollment `e` is the one `found` names (kept to the workspace on Citus: keptToWorkspace). */
const isFound = (workspaceId: string) =>
  sql`${keptToWorkspace('e', workspaceId)} AND e.workspace_id = found.workspace_id AND e.automation_id = found.automation_id AND e.contact_id = found.contact_id`;

/**
 * Pauses the running enrollments of contacts that leave (deleted, archived, merged),
 * keeping their step so a restore with resumeAutomations can continue where they were.
 * `at` is the change's time: Citus refuses retrace_now() (its COALESCE is not IMMUTABLE)
 * in an UPDATE of a distributed table (issue 20).
 */
export async function pauseEnrollments(tx: Tx, workspaceId: string, contactIds: string[], at: Date): Promise<void> {
  await byKeys(tx, sql`
    UPDATE enrollments e SET resume_status = e.status, status = 'paused', updated_at = ${at}
    FROM (SELECT x.workspace_id, x.automation_id, x.contact_id FROM ${batchOf(workspaceId, contactIds)} ${enrollmentsOf()}
          WHERE x.status IN ('active', 'waiting')) found
    WHERE ${isFound(workspaceId)}`);
}

/**
 * Resumes paused enrollments of restored contacts at their saved step. The message ledger
 * (unique per automation, step and contact) keeps any step already sent from sending again.
 */
export async function resumeEnrollments(tx: Tx, workspaceId: string, contactIds: string[], at: Date): Promise<number> {
  const { rows } = await byKeys(tx, sql`
    UPDATE enrollments e SET status = e.resume_status, resume_status = NULL, updated_at = ${at}
    FROM (SELECT x.workspace_id, x.automation_id, x.contact_id FROM ${batchOf(workspaceId, contactIds)} ${enrollmentsOf()}
          WHERE x.status = 'paused' AND x.resume_status IS NOT NULL) found
    WHERE ${isFound(workspaceId)}
    RETURNING e.contact_id`);
  return rows.length;
}

/** Contacts gone for good (purged, erased): their enrollments go. */
export async function forgetEnrollments(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await byKeys(tx, sql`DELETE FROM enrollments e USING ${batchOf(workspaceId, contactIds)} WHERE e.workspace_id = k.workspace_id AND e.contact_id = k.key`);
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
 * automations that existed when the event happened, and are neither paused nor deleted
 * when it is delivered, and contacts still active, count.
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
      AND a.created_at <= (e->>'createdAt')::timestamptz AND a.paused_at IS NULL AND a.deleted_at IS NULL
    ${joinContact('c', change.workspaceId, sql`e->>'contactId'`, { active: true })}
    ORDER BY a.id, c.id
    ON CONFLICT (workspace_id, automation_id, contact_id) DO NOTHING
    RETURNING contact_id`.execute(tx);
  return rows.length;
}
