import { sql } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { notFound } from '../http/errors.js';
import { recordAudit } from '../audit/service.js';
import { createBuiltinRoles, createUserWithToken, type User } from '../users/service.js';
import type { Clock } from '../clock.js';

export interface Retention {
  deletedDays: number;
  archiveFreezeDays: number;
  archiveDays: number;
  pitrHours: number;
}

export interface Workspace {
  id: string;
  name: string;
  activeContactLimit: number | null;
  usage: { active: number; archived: number; deleted: number };
  retention: Retention;
  createdAt: string;
}

interface WorkspaceRow {
  id: string;
  name: string;
  active_contact_limit: number | null;
  deleted_days: number;
  archive_freeze_days: number;
  archive_days: number;
  pitr_hours: number;
  created_at: Date;
}

export async function getRetention(db: Db | Tx, workspaceId: string): Promise<Retention & { activeContactLimit: number | null }> {
  const row = await findWorkspaceRow(db, workspaceId);
  return {
    deletedDays: row.deleted_days,
    archiveFreezeDays: row.archive_freeze_days,
    archiveDays: row.archive_days,
    pitrHours: row.pitr_hours,
    activeContactLimit: row.active_contact_limit,
  };
}

async function findWorkspaceRow(db: Db | Tx, workspaceId: string): Promise<WorkspaceRow> {
  const { rows } = await sql<WorkspaceRow>`SELECT * FROM workspaces WHERE id = ${workspaceId}`.execute(db);
  const row = rows[0];
  if (!row) throw notFound('Workspace');
  return row;
}

export async function getWorkspace(db: Db | Tx, workspaceId: string): Promise<Workspace> {
  const row = await findWorkspaceRow(db, workspaceId);
  const usage = await sql<{ active: number; archived: number; deleted: number }>`
    SELECT count(*) FILTER (WHERE status = 'active')::int AS active,
           count(*) FILTER (WHERE status = 'archived')::int AS archived,
           count(*) FILTER (WHERE status = 'deleted')::int AS deleted
    FROM contacts WHERE workspace_id = ${workspaceId}`.execute(db);
  return {
    id: row.id,
    name: row.name,
    activeContactLimit: row.active_contact_limit,
    usage: usage.rows[0],
    retention: {
      deletedDays: row.deleted_days,
      archiveFreezeDays: row.archive_freeze_days,
      archiveDays: row.archive_days,
      pitrHours: row.pitr_hours,
    },
    createdAt: row.created_at.toISOString(),
  };
}

export interface NewWorkspace {
  name: string;
  adminEmail: string;
  activeContactLimit?: number | null;
}

/** A workspace with the built-in roles and its first admin, who gets the first token. */
export async function createWorkspace(
  db: Db,
  clock: Clock,
  input: NewWorkspace,
): Promise<{ workspace: Workspace; user: User; token: string }> {
  const at = clock.now();
  const { rows } = await sql<{ id: string }>`SELECT gen_random_uuid()::text AS id`.execute(db);
  const workspaceId = rows[0].id;
  const change: ChangeContext = { workspaceId, actorId: null, origin: 'system', at };
  return inTransaction(db, change, async (tx) => {
    await sql`INSERT INTO workspaces (id, name, active_contact_limit, created_at)
              VALUES (${workspaceId}, ${input.name}, ${input.activeContactLimit ?? null}, ${at})`.execute(tx);
    await sql`INSERT INTO audit_heads (workspace_id) VALUES (${workspaceId})`.execute(tx);
    const roles = await createBuiltinRoles(tx, workspaceId);
    const { user, token } = await createUserWithToken(tx, workspaceId, { email: input.adminEmail, name: null, roleId: roles.admin });
    await recordAudit(
      tx,
      change,
      { action: 'workspace.created', targetType: 'workspace', targetId: workspaceId, details: { name: input.name } },
      { action: 'user.created', targetType: 'user', targetId: user.id, details: { role: 'admin' } },
    );
    return { workspace: await getWorkspace(tx, workspaceId), user, token };
  });
}
