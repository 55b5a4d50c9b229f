import { sql } from 'kysely';
import type { Tx } from '../db/database.js';

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
