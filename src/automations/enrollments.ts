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
