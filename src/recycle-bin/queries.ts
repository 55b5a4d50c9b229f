import { sql, type RawBuilder, type Selectable } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import type { RestoreJobs } from '../db/schema.js';
import { batchOf, byKeys } from '../db/keys.js';
import { lockContactsToRestore, nameOrEmailMatches } from '../contacts/service.js';
import { dropMembershipsOfDeletedLists, keptMembershipsOf } from '../lists/service.js';
import { dropLinksOfDeletedAccounts, keptAccountLinksOf } from '../accounts/service.js';
import { dropLinksOfDeletedDeals, keptDealLinksOf } from '../deals/service.js';
import { dropTagsDeletedSince, keptTagsOf } from '../tags/service.js';

export type RestoreSource = 'deleted' | 'archived';

/** What "restore all matching" matches: a name or email, and a time of removal. */
export interface RemovedFilter {
  q?: string;
  from?: Date;
  to?: Date;
}

/** The condition "in this source and matching the filter", over `contacts c`. */
export function inSource(source: RestoreSource, filter: RemovedFilter) {
  const column = source === 'deleted' ? sql.ref('c.deleted_at') : sql.ref('c.archived_at');
  // Each bound only when given, as a plain comparison: the bin's index (time, id) then
  // starts and ends at it, where `($1 IS NULL OR time >= $1)` read from the newest down.
  return sql`c.status = ${source} AND ${nameOrEmailMatches(filter.q)}
    AND ${filter.from ? sql`${column} >= ${filter.from}` : sql`true`}
    AND ${filter.to ? sql`${column} <= ${filter.to}` : sql`true`}`;
}

/** What a deleted or archived contact kept, set aside, that a restore brings back. */
export interface KeptAssociations {
  lists: { listId: string; status: string }[];
  accounts: { accountId: string; jobTitle: string | null }[];
  dealIds: string[];
  tags: string[];
}

/**
 * The association rows a contact keeps while it is away, leaving out those whose list,
 * account, deal or tag was deleted since (they do not come back), in the order the live
 * reads give them.
 */
export async function keptAssociations(db: Db, workspaceId: string, contactId: string): Promise<KeptAssociations> {
  const part = (kind: string, n: number, rows: RawBuilder<unknown>) => sql`SELECT ${sql.lit(kind)} AS kind, x.ref, x.detail, x.at, ${sql.lit(n)} AS part FROM (${rows}) x`;
  const { rows } = await sql<{ kind: 'list' | 'account' | 'deal' | 'tag'; ref: string; detail: string | null }>`
    ${part('list', 1, keptMembershipsOf(workspaceId, contactId))}
    UNION ALL
    ${part('account', 2, keptAccountLinksOf(workspaceId, contactId))}
    UNION ALL
    ${part('deal', 3, keptDealLinksOf(workspaceId, contactId))}
    UNION ALL
    ${part('tag', 4, keptTagsOf(workspaceId, contactId))}
    ORDER BY part, at, ref`.execute(db);
  const of = (kind: string) => rows.filter((r) => r.kind === kind);
  return {
    lists: of('list').map((r) => ({ listId: r.ref, status: r.detail as string })),
    accounts: of('account').map((r) => ({ accountId: r.ref, jobTitle: r.detail })),
    dealIds: of('deal').map((r) => r.ref),
    tags: of('tag').map((r) => r.ref),
  };
}

/**
 * Seed 002: a restored contact comes back to lists, accounts, deals and tags unless they
 * were deleted. Reactivating it brings back the rows it kept; this removes those whose
 * list, account, deal or tag was deleted meanwhile, so they do not reappear on the deleted
 * record (a deleted list's member count, a deleted deal's contacts). Each owner's one
 * statement (db/associations.ts), in this order.
 */
export async function dropRowsOfDeletedParents(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  if (contactIds.length === 0) return;
  await dropMembershipsOfDeletedLists(tx, workspaceId, contactIds);
  await dropLinksOfDeletedAccounts(tx, workspaceId, contactIds);
  await dropLinksOfDeletedDeals(tx, workspaceId, contactIds);
  await dropTagsDeletedSince(tx, workspaceId, contactIds);
}

export interface Candidate {
  id: string;
  status: string | null;
  tombstone: string | null;
  archived_at: Date | null;
  email: string | null;
  taken_by: string | null;
}

/**
 * Each requested id, in order, with its current status, its tombstone if purged, and the
 * other contact now holding its email, if any. Locks the contacts being restored.
 */
export async function candidates(tx: Tx, workspaceId: string, ids: string[]): Promise<Candidate[]> {
  const found = await lockContactsToRestore(tx, workspaceId, ids);
  const byId = new Map(found.map((c) => [c.id, c]));
  const missing = ids.filter((id) => !byId.has(id));
  const tombstones = new Map<string, string>();
  if (missing.length > 0) {
    const { rows } = await byKeys(tx, sql<{ contact_id: string; reason: string }>`
      SELECT t.contact_id, t.reason FROM ${batchOf(workspaceId, missing)}
      JOIN contact_tombstones t ON t.workspace_id = k.workspace_id AND t.contact_id = k.key`);
    for (const r of rows) tombstones.set(r.contact_id, r.reason);
  }
  return ids.map((id) => {
    const c = byId.get(id);
    return c
      ? { ...c, tombstone: null }
      : { id, status: null, tombstone: tombstones.get(id) ?? null, archived_at: null, email: null, taken_by: null };
  });
}

/** Contacts gone for good (purged, erased): a tombstone each, without personal data, says why a restore finds nothing. */
export async function leaveTombstones(tx: Tx, workspaceId: string, ids: string[], reason: 'purged' | 'erased', at: Date): Promise<void> {
  await sql`
    INSERT INTO contact_tombstones (workspace_id, contact_id, reason, at)
    SELECT ${workspaceId}, id, ${reason}, ${at} FROM unnest(${ids}::text[]) AS id
    ON CONFLICT (workspace_id, contact_id) DO UPDATE SET reason = EXCLUDED.reason, at = EXCLUDED.at`.execute(tx);
}

// ---------------------------------------------------------------- restore jobs

/** A restore job's own columns (its status, lease and times are its `jobs` row's), the source one the CHECK allows. */
export type RestoreJobRow = Omit<Selectable<RestoreJobs>, 'workspace_id' | 'source'> & { source: RestoreSource };

export interface NewRestoreJob {
  source: RestoreSource;
  resumeAutomations: boolean;
  matchAll: boolean;
  filter: RemovedFilter;
  removedUntil: Date;
  contactsFixed: boolean;
  requested: number;
}

export async function insertRestoreJob(tx: Tx, workspaceId: string, jobId: string, job: NewRestoreJob): Promise<RestoreJobRow> {
  return tx
    .insertInto('restore_jobs')
    .values({
      workspace_id: workspaceId,
      job_id: jobId,
      source: job.source,
      resume_automations: job.resumeAutomations,
      match_all: job.matchAll,
      filter_q: job.filter.q ?? null,
      filter_from: job.filter.from ?? null,
      filter_to: job.filter.to ?? null,
      removed_until: job.removedUntil,
      contacts_fixed: job.contactsFixed,
      requested: job.requested,
    })
    .returningAll()
    .$narrowType<{ source: RestoreSource }>()
    .executeTakeFirstOrThrow();
}

export async function selectRestoreJob(db: Db | Tx, workspaceId: string, jobId: string): Promise<RestoreJobRow | undefined> {
  return db.selectFrom('restore_jobs').selectAll().where('workspace_id', '=', workspaceId).where('job_id', '=', jobId).$narrowType<{ source: RestoreSource }>().executeTakeFirst();
}

export async function selectRestoreJobs(db: Db, workspaceId: string, jobIds: string[]): Promise<Map<string, RestoreJobRow>> {
  if (jobIds.length === 0) return new Map();
  const { rows } = await sql<RestoreJobRow>`
    SELECT r.* FROM ${batchOf(workspaceId, jobIds)} JOIN restore_jobs r ON r.workspace_id = k.workspace_id AND r.job_id = k.key`.execute(db);
  return new Map(rows.map((r) => [r.job_id, r]));
}

export interface SkippedRow {
  contactId: string;
  reason: string;
  takenBy?: string;
}

const presentSkip = (r: { contact_id: string; reason: string; taken_by: string | null }): SkippedRow => ({
  contactId: r.contact_id,
  reason: r.reason,
  ...(r.taken_by ? { takenBy: r.taken_by } : {}),
});

/** The first `limit` skips of each job, in the order met. */
export async function selectSkips(db: Db, workspaceId: string, jobIds: string[], limit: number): Promise<Map<string, SkippedRow[]>> {
  if (jobIds.length === 0) return new Map();
  const { rows } = await sql<{ job_id: string; contact_id: string; reason: string; taken_by: string | null }>`
    SELECT k.key AS job_id, s.contact_id, s.reason, s.taken_by
    FROM ${batchOf(workspaceId, jobIds)}
    CROSS JOIN LATERAL (
      SELECT s.contact_id, s.reason, s.taken_by, s.position FROM restore_job_skips s
      WHERE s.workspace_id = k.workspace_id AND s.job_id = k.key ORDER BY s.position LIMIT ${limit}) s
    ORDER BY k.n, s.position`.execute(db);
  const byJob = new Map<string, SkippedRow[]>();
  for (const r of rows) byJob.set(r.job_id, [...(byJob.get(r.job_id) ?? []), presentSkip(r)]);
  return byJob;
}

export async function selectSkipPage(db: Db, workspaceId: string, jobId: string, afterPosition: number, limit: number): Promise<(SkippedRow & { position: number })[]> {
  const rows = await db
    .selectFrom('restore_job_skips')
    .select(['position', 'contact_id', 'reason', 'taken_by'])
    .where('workspace_id', '=', workspaceId)
    .where('job_id', '=', jobId)
    .where('position', '>', afterPosition)
    .orderBy('position')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ position: r.position, ...presentSkip(r) }));
}

/** Appends a batch's skips after the `already` the job has. */
export async function insertSkips(tx: Tx, workspaceId: string, jobId: string, already: number, skips: SkippedRow[]): Promise<void> {
  if (skips.length === 0) return;
  await sql`
    INSERT INTO restore_job_skips (workspace_id, job_id, position, contact_id, reason, taken_by)
    SELECT ${workspaceId}, ${jobId}, ${already}::integer + s.n::integer - 1, s.contact_id, s.reason, s.taken_by
    FROM unnest(${skips.map((s) => s.contactId)}::text[], ${skips.map((s) => s.reason)}::text[], ${skips.map((s) => s.takenBy ?? null)}::text[])
         WITH ORDINALITY AS s(contact_id, reason, taken_by, n)`.execute(tx);
}

/** The checkpoint of a batch: how far the job is, and its figures. */
export async function advanceRestoreJob(tx: Tx, workspaceId: string, jobId: string, worked: number, restored: number, skipped: number): Promise<RestoreJobRow> {
  return tx
    .updateTable('restore_jobs')
    .set((eb) => ({ next_position: eb('next_position', '+', worked), restored: eb('restored', '+', restored), skipped: eb('skipped', '+', skipped) }))
    .where('workspace_id', '=', workspaceId)
    .where('job_id', '=', jobId)
    .returningAll()
    .$narrowType<{ source: RestoreSource }>()
    .executeTakeFirstOrThrow();
}

export async function markContactsFixed(tx: Tx, workspaceId: string, jobId: string, requested: number): Promise<void> {
  await tx.updateTable('restore_jobs').set({ contacts_fixed: true, requested }).where('workspace_id', '=', workspaceId).where('job_id', '=', jobId).execute();
}

export interface RestoreFigures {
  /** The contacts the job works through. */
  requested: number;
  /** Those of them restorable now: in the source, and archived ones past their freeze. */
  restorable: number;
}

/**
 * Writes down picked contacts (once each, in the order given) as the job's contacts, and
 * counts those restorable now in the same statement, each looked up by key (db/keys.ts).
 */
export async function fixPickedContacts(tx: Tx, workspaceId: string, jobId: string, ids: string[], source: RestoreSource, frozenSince: Date): Promise<RestoreFigures> {
  const { rows } = await byKeys(tx, sql<RestoreFigures>`
    WITH picked AS (
      SELECT p.key AS id, p.n, c.status, c.archived_at
      FROM (SELECT DISTINCT ON (k.key) k.workspace_id, k.key, k.n FROM ${batchOf(workspaceId, ids)} ORDER BY k.key, k.n) p
      LEFT JOIN contacts c ON c.workspace_id = p.workspace_id AND c.id = p.key),
    fixed AS (
      INSERT INTO restore_job_contacts (workspace_id, job_id, position, contact_id)
      SELECT ${workspaceId}, ${jobId}, (row_number() OVER (ORDER BY picked.n) - 1)::int, picked.id FROM picked
      RETURNING 1)
    SELECT (SELECT count(*)::int FROM fixed) AS requested, ${restorableCount(source, frozenSince)} AS restorable FROM picked`);
  return rows[0];
}

const restorableCount = (source: RestoreSource, frozenSince: Date) =>
  sql`count(*) FILTER (WHERE status = ${source} AND (status <> 'archived' OR archived_at <= ${frozenSince}))::int`;

/** How many contacts "restore all matching" would take now, and how many of them are restorable. */
export async function countMatching(tx: Tx, workspaceId: string, source: RestoreSource, filter: RemovedFilter, frozenSince: Date): Promise<RestoreFigures> {
  const { rows } = await sql<RestoreFigures>`
    SELECT count(*)::int AS requested, ${restorableCount(source, frozenSince)} AS restorable
    FROM contacts c WHERE c.workspace_id = ${workspaceId} AND ${inSource(source, filter)}`.execute(tx);
  return rows[0];
}

/**
 * Writes down the contacts of a "restore all matching" job, by id: those of the source
 * matching its filter that were removed at or before it was requested. Returns how many.
 */
export async function fixMatchingContacts(tx: Tx, workspaceId: string, jobId: string, job: RestoreJobRow): Promise<number> {
  const removedAt = job.source === 'deleted' ? sql.ref('c.deleted_at') : sql.ref('c.archived_at');
  const filter = { q: job.filter_q ?? undefined, from: job.filter_from ?? undefined, to: job.filter_to ?? undefined };
  const result = await sql`
    INSERT INTO restore_job_contacts (workspace_id, job_id, position, contact_id)
    SELECT ${workspaceId}, ${jobId}, (row_number() OVER (ORDER BY c.id) - 1)::int, c.id
    FROM contacts c
    WHERE c.workspace_id = ${workspaceId} AND ${inSource(job.source, filter)} AND ${removedAt} <= ${job.removed_until}`.execute(tx);
  return Number(result.numAffectedRows ?? 0);
}

/** The job's contacts from position `offset` on, at most `limit` of them. */
export async function jobContacts(tx: Tx, workspaceId: string, jobId: string, offset: number, limit: number): Promise<string[]> {
  const rows = await tx
    .selectFrom('restore_job_contacts')
    .select('contact_id')
    .where('workspace_id', '=', workspaceId)
    .where('job_id', '=', jobId)
    .where('position', '>=', offset)
    .orderBy('position')
    .limit(limit)
    .execute();
  return rows.map((r) => r.contact_id);
}

export async function forgetJobContacts(tx: Tx, workspaceId: string, jobId: string): Promise<void> {
  await tx.deleteFrom('restore_job_contacts').where('workspace_id', '=', workspaceId).where('job_id', '=', jobId).execute();
}
