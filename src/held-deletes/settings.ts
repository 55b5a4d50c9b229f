import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { notFound } from '../http/errors.js';

/** A workspace's mass-delete limits (../shared/API.md, `PATCH /workspace {massDelete}`). */
export interface MassDeleteSettings {
  /** More contacts than this deleted or archived by one actor within the window are held; one request over it needs `confirm`. */
  maxContacts: number;
  /** More than this percentage of the workspace's contacts is held too, where that is at least 100 contacts. */
  maxPercent: number;
  windowMinutes: number;
}

/**
 * The workspace's mass-delete settings (defaults 1,000 contacts, 5 percent, 10 minutes;
 * migration 040). This module's own reader until `PATCH /workspace {massDelete}` lands
 * with its own in src/workspaces/service.ts under this name and signature; then that one
 * replaces it.
 */
export async function getMassDeleteSettings(db: Db | Tx, workspaceId: string): Promise<MassDeleteSettings> {
  const { rows } = await sql<{ max_contacts: number; max_percent: number; window_minutes: number }>`
    SELECT mass_delete_max_contacts AS max_contacts, mass_delete_max_percent AS max_percent, mass_delete_window_minutes AS window_minutes
    FROM workspaces WHERE id = ${workspaceId}`.execute(db);
  const row = rows[0];
  if (!row) throw notFound('Workspace');
  return { maxContacts: row.max_contacts, maxPercent: Number(row.max_percent), windowMinutes: row.window_minutes };
}
