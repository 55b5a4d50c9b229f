import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';

/** A conflict an undo met (undo_conflicts, written by its plan: src/rollbacks/cause.ts). */
export interface ConflictRow {
  position: number;
  table_name: string;
  row_key: string;
  contact_id: string | null;
  field: string;
  cause_value: unknown;
  later_value: unknown;
  later_by: string | null;
  later_at: Date | null;
  overridden: boolean;
}

export async function selectConflicts(db: Db | Tx, workspaceId: string, undoId: string, afterPosition: number, limit: number): Promise<ConflictRow[]> {
  const { rows } = await sql<ConflictRow>`
    SELECT position, table_name, row_key, contact_id, field, cause_value, later_value, later_by, later_at, overridden FROM undo_conflicts
    WHERE workspace_id = ${workspaceId} AND undo_id = ${undoId} AND position > ${afterPosition}
    ORDER BY position LIMIT ${limit}`.execute(db);
  return rows;
}

export async function countConflicts(db: Db | Tx, workspaceId: string, undoId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM undo_conflicts WHERE workspace_id = ${workspaceId} AND undo_id = ${undoId}`.execute(db);
  return rows[0].n;
}
