import { sql, type Selectable } from 'kysely';
import { z, type ZodType } from 'zod';
import type { Db, Tx } from '../db/database.js';
import type { RollbackJobs } from '../db/schema.js';
import { batchOf } from '../db/keys.js';
import { planChunks, type PlanChunk, type RollbackCounts, type RollbackScope, type SkippedContact } from './plan.js';

/**
 * A rollback job's own row (rollback_jobs, migration 094): what it was asked, and its
 * checkpoint. An undo by cause is written back as a rollback (src/undo) and has one too.
 * Its jsonb parts (counts and the skips shown) are read through zod, never a cast.
 */

/** What a rollback was asked to do. */
export interface RollbackSettings {
  /** The point rolled back to; an undo's: when what it undoes began (ISO 8601). */
  at: string;
  scope: RollbackScope;
  resumeAutomations: boolean;
  /** An undo of a rollback: the rollback, and the transactions that wrote its rows. */
  undoOf?: string;
  undoTxids?: string[];
  /** An undo by cause: the cause's transactions, and how the plan treats later changes. */
  cause?: { txids: string[]; undoAnyway: boolean; merge: boolean };
  /** Contacts per transaction, when not the default (tests use small batches). */
  batchSize?: number;
}

/** Where a rollback is: each step commits its next checkpoint with its work. */
export interface RollbackCheckpoint {
  /** plan, parents, release, contacts or done: read as any string, so that a job in another is still shown, and its next step fails naming it. */
  phase: string;
  /** The last contact of the phase done (contacts are worked in id order). */
  lastDoneId: string;
  contactsTotal: number;
  contactsDone: number;
  counts: RollbackCounts | null;
  /** The plan's own counts; `counts` adds the deals a partial rollback will mend. */
  planCounts?: RollbackCounts;
  skipped: SkippedContact[];
  /** Every transaction that wrote rows: what an undo puts back. */
  txids: string[];
  /** The chunks of the plan committed so far (planChunks), while the phase is plan. */
  planned: PlanChunk[];
}

export interface RollbackJob {
  settings: RollbackSettings;
  checkpoint: RollbackCheckpoint;
}

export const firstCheckpoint: RollbackCheckpoint = { phase: 'plan', lastDoneId: '', contactsTotal: 0, contactsDone: 0, counts: null, skipped: [], txids: [], planned: [] };

/** What a rollback does, by table ({add, change, remove} or, for contacts, {revive, revert, remove}), and what it skips. */
const counts: ZodType<RollbackCounts> = z
  .object({ skipped: z.object({ contacts: z.number(), changedSincePlan: z.number().optional() }) })
  .catchall(z.record(z.string(), z.number()));

const skippedContacts: ZodType<SkippedContact[]> = z.array(z.object({ contactId: z.string(), reason: z.string(), takenBy: z.string().optional() }));

/** A rollback job's row (selectRollbackJobs reads it by batch, `r.*`), the scope type the CHECK allows. */
type RollbackJobRow = Omit<Selectable<RollbackJobs>, 'workspace_id' | 'scope_type'> & { scope_type: 'workspace' | 'contacts' };

/** A jsonb column read through its schema: a row that is not what the service writes fails naming it, rather than running on a guess. */
function parsed<T>(schema: ZodType<T>, value: unknown, jobId: string, column: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new Error(`rollback job ${jobId}: its ${column} are not what a rollback writes: ${z.prettifyError(result.error)}`);
  return result.data;
}

function toRollbackJob(r: RollbackJobRow): RollbackJob {
  const planned = r.planned.filter((c): c is PlanChunk => (planChunks as readonly string[]).includes(c));
  return {
    settings: {
      at: r.at.toISOString(),
      scope: r.scope_type === 'contacts' ? { type: 'contacts', contactIds: r.scope_contact_ids ?? [] } : { type: 'workspace' },
      resumeAutomations: r.resume_automations,
      ...(r.undo_of !== null ? { undoOf: r.undo_of, undoTxids: r.undo_txids ?? [] } : {}),
      ...(r.cause_txids !== null ? { cause: { txids: r.cause_txids, undoAnyway: r.cause_undo_anyway ?? false, merge: r.cause_merge ?? false } } : {}),
      ...(r.batch_size !== null ? { batchSize: r.batch_size } : {}),
    },
    checkpoint: {
      phase: r.phase,
      lastDoneId: r.last_done_id,
      contactsTotal: r.contacts_total,
      contactsDone: r.contacts_done,
      counts: r.counts === null ? null : parsed(counts, r.counts, r.job_id, 'counts'),
      ...(r.plan_counts !== null ? { planCounts: parsed(counts, r.plan_counts, r.job_id, 'plan counts') } : {}),
      skipped: parsed(skippedContacts, r.skipped, r.job_id, 'skipped contacts'),
      txids: r.txids,
      planned,
    },
  };
}

const json = (value: unknown) => (value === undefined || value === null ? null : JSON.stringify(value));

/** The row of a rollback (or undo) just queued, in the transaction that queues its job. */
export async function insertRollbackJob(tx: Tx, workspaceId: string, jobId: string, settings: RollbackSettings, checkpoint: RollbackCheckpoint): Promise<void> {
  const contactIds = settings.scope.type === 'contacts' ? settings.scope.contactIds : null;
  // The jsonb columns go as JSON text, as saveCheckpoint writes them.
  await tx
    .insertInto('rollback_jobs')
    .values({
      workspace_id: workspaceId,
      job_id: jobId,
      at: settings.at,
      scope_type: settings.scope.type,
      scope_contact_ids: contactIds,
      resume_automations: settings.resumeAutomations,
      undo_of: settings.undoOf ?? null,
      undo_txids: settings.undoTxids ?? null,
      cause_txids: settings.cause?.txids ?? null,
      cause_undo_anyway: settings.cause?.undoAnyway ?? null,
      cause_merge: settings.cause?.merge ?? null,
      batch_size: settings.batchSize ?? null,
      counts: json(checkpoint.counts),
      skipped: JSON.stringify(checkpoint.skipped),
    })
    .execute();
}

/** The next checkpoint of a rollback, written by the step that reached it. */
export async function saveCheckpoint(tx: Tx, workspaceId: string, jobId: string, next: RollbackCheckpoint): Promise<void> {
  await tx
    .updateTable('rollback_jobs')
    .set({
      phase: next.phase,
      last_done_id: next.lastDoneId,
      contacts_total: next.contactsTotal,
      contacts_done: next.contactsDone,
      counts: json(next.counts),
      plan_counts: json(next.planCounts),
      skipped: JSON.stringify(next.skipped),
      txids: next.txids,
      planned: next.planned,
    })
    .where('workspace_id', '=', workspaceId)
    .where('job_id', '=', jobId)
    .execute();
}

/** The rows of these rollback (or undo) jobs, by job id. */
export async function selectRollbackJobs(db: Db | Tx, workspaceId: string, jobIds: string[]): Promise<Map<string, RollbackJob>> {
  if (jobIds.length === 0) return new Map();
  const { rows } = await sql<RollbackJobRow>`
    SELECT r.* FROM ${batchOf(workspaceId, jobIds)} JOIN rollback_jobs r ON r.workspace_id = k.workspace_id AND r.job_id = k.key`.execute(db);
  return new Map(rows.map((r) => [r.job_id, toRollbackJob(r)]));
}

export async function selectRollbackJob(db: Db | Tx, workspaceId: string, jobId: string): Promise<RollbackJob> {
  const found = (await selectRollbackJobs(db, workspaceId, [jobId])).get(jobId);
  if (!found) throw new Error(`rollback job ${jobId} has no rollback_jobs row`);
  return found;
}

/** For each of these rollbacks that was undone, the undo (one not failed). */
export async function selectUndosOf(db: Db | Tx, workspaceId: string, rollbackIds: string[]): Promise<Map<string, string>> {
  if (rollbackIds.length === 0) return new Map();
  const { rows } = await sql<{ undo_of: string; id: string }>`
    SELECT r.undo_of, j.id FROM rollback_jobs r
    JOIN jobs j ON j.workspace_id = r.workspace_id AND j.id = r.job_id
    WHERE r.workspace_id = ${workspaceId} AND r.undo_of = ANY(${rollbackIds}::text[]) AND j.kind = 'rollback' AND j.status <> 'failed'`.execute(db);
  return new Map(rows.map((r) => [r.undo_of, r.id]));
}
