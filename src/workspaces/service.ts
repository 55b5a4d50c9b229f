import { sql, type Selectable } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import type { Workspaces } from '../db/schema.js';
import { inTransaction } from '../db/database.js';
import { invalidState, notFound, retentionOutOfRange } from '../http/errors.js';
import { recordAudit, startAuditChain } from '../audit/service.js';
import { countContactsByStatus } from '../contacts/service.js';
import { createBuiltinRoles, createUserWithToken, type User } from '../users/service.js';
import type { Clock } from '../clock.js';

export interface Retention {
  deletedDays: number;
  archiveFreezeDays: number;
  archiveDays: number;
  pitrHours: number;
}

/** A workspace's mass-delete limits (../shared/API.md, `PATCH /workspace {massDelete}`). */
export interface MassDeleteSettings {
  /** More contacts than this deleted or archived by one actor within the window are held; one request over it needs `confirm`. */
  maxContacts: number;
  /** More than this percentage of the workspace's contacts is held too, where that is at least 100 contacts. */
  maxPercent: number;
  windowMinutes: number;
}

/** The longest retention a workspace's admins may choose: the operator's limit, else the server's range. */
export interface MaxRetention {
  deletedDays: number;
  archiveDays: number;
  pitrHours: number;
}

export interface Workspace {
  id: string;
  name: string;
  activeContactLimit: number | null;
  usage: { active: number; archived: number; deleted: number };
  retention: Retention;
  massDelete: MassDeleteSettings;
  maxRetention: MaxRetention;
  createdAt: string;
}

/** A workspaces row, as the generated table types have it. */
type WorkspaceRow = Selectable<Workspaces>;

/**
 * The ranges retention and the mass-delete guard may take, whatever the operator allows
 * (../shared/API.md: deletedDays 1–365, pitrHours 1–168). Archived contacts are kept up to
 * ten years; they stay frozen (not restorable) for 0 days or more, always less than they
 * are kept. The mass-delete window is at most a day: the guard forgets tallies older than
 * a day (migration 040).
 */
export const retentionRanges = {
  deletedDays: { min: 1, max: 365 },
  archiveFreezeDays: { min: 0, max: 3649 },
  archiveDays: { min: 1, max: 3650 },
  pitrHours: { min: 1, max: 168 },
} as const;

/**
 * API.md: the mass-delete guard's percentage limit counts only where it comes to at least
 * this many contacts (held-deletes' removalLimit); GET /limits names it.
 */
export const minPercentLimit = 100;

export const massDeleteRanges = {
  maxContacts: { min: 1, max: 1_000_000 },
  maxPercent: { min: 0.01, max: 100 },
  windowMinutes: { min: 1, max: 1440 },
} as const;

const retentionOf = (row: WorkspaceRow): Retention => ({
  deletedDays: row.deleted_days,
  archiveFreezeDays: row.archive_freeze_days,
  archiveDays: row.archive_days,
  pitrHours: row.pitr_hours,
});

const massDeleteOf = (row: WorkspaceRow): MassDeleteSettings => ({
  maxContacts: row.mass_delete_max_contacts,
  maxPercent: Number(row.mass_delete_max_percent),
  windowMinutes: row.mass_delete_window_minutes,
});

const maxRetentionOf = (row: WorkspaceRow): MaxRetention => ({
  deletedDays: row.max_deleted_days ?? retentionRanges.deletedDays.max,
  archiveDays: row.max_archive_days ?? retentionRanges.archiveDays.max,
  pitrHours: row.max_pitr_hours ?? retentionRanges.pitrHours.max,
});

export async function getRetention(db: Db | Tx, workspaceId: string): Promise<Retention & { activeContactLimit: number | null }> {
  const row = await findWorkspaceRow(db, workspaceId);
  return { ...retentionOf(row), activeContactLimit: row.active_contact_limit };
}

/** Whether the database holds any workspace at all (a backup is restored only into one that holds none). */
export async function anyWorkspace(tx: Tx): Promise<boolean> {
  const { rows } = await sql<{ held: boolean }>`SELECT EXISTS (SELECT 1 FROM workspaces) AS held`.execute(tx);
  return rows[0].held;
}

export interface WorkspaceRetentionDays {
  id: string;
  deleted_days: number;
  archive_days: number;
}

/** The workspace (or every one, in id order) with its retention days, for a purge. */
export async function retentionDaysOf(db: Db | Tx, workspaceId: string | null): Promise<WorkspaceRetentionDays[]> {
  const { rows } = await sql<WorkspaceRetentionDays>`
    SELECT id, deleted_days, archive_days FROM workspaces WHERE (${workspaceId}::text IS NULL OR id = ${workspaceId}) ORDER BY id`.execute(db);
  return rows;
}

/**
 * The workspace's mass-delete settings (defaults 1,000 contacts, 5 percent, 10 minutes;
 * migration 040), as `PATCH /workspace {massDelete}` writes them: the one reader of them,
 * which the guard (src/held-deletes) reads in the removal's transaction.
 */
export async function getMassDeleteSettings(db: Db | Tx, workspaceId: string): Promise<MassDeleteSettings> {
  return massDeleteOf(await findWorkspaceRow(db, workspaceId));
}

async function findWorkspaceRow(db: Db | Tx, workspaceId: string, lock = false): Promise<WorkspaceRow> {
  const row = await db
    .selectFrom('workspaces')
    .selectAll()
    .where('id', '=', workspaceId)
    .$if(lock, (query) => query.forUpdate())
    .executeTakeFirst();
  if (!row) throw notFound('Workspace');
  return row;
}

export async function getWorkspace(db: Db | Tx, workspaceId: string): Promise<Workspace> {
  const row = await findWorkspaceRow(db, workspaceId);
  const usage = await countContactsByStatus(db, workspaceId);
  return {
    id: row.id,
    name: row.name,
    activeContactLimit: row.active_contact_limit,
    usage,
    retention: retentionOf(row),
    massDelete: massDeleteOf(row),
    maxRetention: maxRetentionOf(row),
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
    await tx.insertInto('workspaces').values({ id: workspaceId, name: input.name, active_contact_limit: input.activeContactLimit ?? null, created_at: at }).execute();
    await startAuditChain(tx, workspaceId);
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

export interface WorkspaceSettingsChange {
  retention?: Partial<Retention>;
  massDelete?: Partial<MassDeleteSettings>;
}

/** The fields of `next` that differ from `current`, as `{field: {from, to}}`. */
function changedFields<T extends object>(current: T, next: T): Partial<Record<keyof T, { from: unknown; to: unknown }>> {
  const changes: Partial<Record<keyof T, { from: unknown; to: unknown }>> = {};
  for (const key of Object.keys(next) as (keyof T)[]) {
    if (current[key] !== next[key]) changes[key] = { from: current[key], to: next[key] };
  }
  return changes;
}

/**
 * Refuses retention the workspace may not take (422 retention_out_of_range): longer than
 * the operator allows (`max`), or an archive freeze that does not end before the archived
 * contact is purged. The absolute ranges are the route's (retentionRanges).
 */
function checkRetention(next: Retention, max: MaxRetention): void {
  for (const field of ['deletedDays', 'archiveDays', 'pitrHours'] as const) {
    if (next[field] > max[field]) {
      throw retentionOutOfRange(`retention.${field} may be at most ${max[field]} in this workspace`, { field, value: next[field], max: max[field] });
    }
  }
  if (next.archiveFreezeDays >= next.archiveDays) {
    throw retentionOutOfRange('retention.archiveFreezeDays must be less than archiveDays', {
      field: 'archiveFreezeDays',
      value: next.archiveFreezeDays,
      max: next.archiveDays - 1,
    });
  }
}

/**
 * Changes the workspace's retention and mass-delete settings (PATCH /workspace), within
 * the operator's limits; what is not named keeps its value. Every rule that reads them
 * (purges, the archive freeze, the recoverable window, the guard) reads the columns
 * written here. Each kind of change is one audit entry with what changed.
 */
export async function updateWorkspaceSettings(db: Db, change: ChangeContext, input: WorkspaceSettingsChange): Promise<Workspace> {
  return inTransaction(db, change, async (tx) => {
    const row = await findWorkspaceRow(tx, change.workspaceId, true);
    const retention = retentionOf(row);
    const massDelete = massDeleteOf(row);
    const nextRetention = { ...retention, ...input.retention };
    const nextMassDelete = { ...massDelete, ...input.massDelete };
    checkRetention(nextRetention, maxRetentionOf(row));
    const retentionChanges = changedFields(retention, nextRetention);
    const massDeleteChanges = changedFields(massDelete, nextMassDelete);
    if (Object.keys(retentionChanges).length + Object.keys(massDeleteChanges).length === 0) return getWorkspace(tx, change.workspaceId);
    await tx
      .updateTable('workspaces')
      .set({
        deleted_days: nextRetention.deletedDays,
        archive_freeze_days: nextRetention.archiveFreezeDays,
        archive_days: nextRetention.archiveDays,
        pitr_hours: nextRetention.pitrHours,
        mass_delete_max_contacts: nextMassDelete.maxContacts,
        mass_delete_max_percent: nextMassDelete.maxPercent,
        mass_delete_window_minutes: nextMassDelete.windowMinutes,
      })
      .where('id', '=', change.workspaceId)
      .execute();
    await recordAudit(
      tx,
      change,
      ...(Object.keys(retentionChanges).length > 0
        ? [{ action: 'workspace.retention_changed', targetType: 'workspace', targetId: change.workspaceId, details: { changes: retentionChanges } }]
        : []),
      ...(Object.keys(massDeleteChanges).length > 0
        ? [{ action: 'workspace.mass_delete_changed', targetType: 'workspace', targetId: change.workspaceId, details: { changes: massDeleteChanges } }]
        : []),
    );
    return getWorkspace(tx, change.workspaceId);
  });
}

export interface WorkspaceLimitsChange {
  activeContactLimit?: number | null;
  /** A limit null lifts it: the server's range applies. */
  maxRetention?: { deletedDays?: number | null; archiveDays?: number | null; pitrHours?: number | null };
}

/**
 * The operator changes a workspace's limits (PATCH /workspaces/:id): its contact limit and
 * the longest retention its admins may choose. A limit below what the workspace keeps now
 * is refused (409 invalid_state), not applied by purging sooner: shortening retention is
 * the workspace admins' decision (PATCH /workspace), so nothing goes earlier than they chose.
 */
export async function updateWorkspaceLimits(db: Db, clock: Clock, workspaceId: string, input: WorkspaceLimitsChange): Promise<Workspace> {
  const change: ChangeContext = { workspaceId, actorId: null, origin: 'system', at: clock.now() };
  const exists = await db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).executeTakeFirst();
  if (!exists) throw notFound('Workspace');
  return inTransaction(db, change, async (tx) => {
    const row = await findWorkspaceRow(tx, workspaceId, true);
    const current = { activeContactLimit: row.active_contact_limit, maxDeletedDays: row.max_deleted_days, maxArchiveDays: row.max_archive_days, maxPitrHours: row.max_pitr_hours };
    const next = {
      activeContactLimit: input.activeContactLimit === undefined ? current.activeContactLimit : input.activeContactLimit,
      maxDeletedDays: input.maxRetention?.deletedDays === undefined ? current.maxDeletedDays : input.maxRetention.deletedDays,
      maxArchiveDays: input.maxRetention?.archiveDays === undefined ? current.maxArchiveDays : input.maxRetention.archiveDays,
      maxPitrHours: input.maxRetention?.pitrHours === undefined ? current.maxPitrHours : input.maxRetention.pitrHours,
    };
    const retention = retentionOf(row);
    for (const [field, max] of [['deletedDays', next.maxDeletedDays], ['archiveDays', next.maxArchiveDays], ['pitrHours', next.maxPitrHours]] as const) {
      if (max !== null && retention[field] > max) {
        throw invalidState(`The workspace keeps retention.${field} at ${retention[field]}, above ${max}: its admins must lower it first`, {
          field,
          current: retention[field],
          max,
        });
      }
    }
    const changes = changedFields(current, next);
    if (Object.keys(changes).length === 0) return getWorkspace(tx, workspaceId);
    await tx
      .updateTable('workspaces')
      .set({
        active_contact_limit: next.activeContactLimit,
        max_deleted_days: next.maxDeletedDays,
        max_archive_days: next.maxArchiveDays,
        max_pitr_hours: next.maxPitrHours,
      })
      .where('id', '=', workspaceId)
      .execute();
    await recordAudit(tx, change, { action: 'workspace.limits_changed', targetType: 'workspace', targetId: workspaceId, details: { changes } });
    return getWorkspace(tx, workspaceId);
  });
}
