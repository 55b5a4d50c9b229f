import { sql, type RawBuilder } from 'kysely';
import type { Tx } from '../db/database.js';
import { analyzeWorkTable, fenced, lookUp, versionsOfContact, workspaceIn } from '../db/keys.js';
import { historyCompleteAfter } from '../snapshots/service.js';
import { diffRows } from '../history/service.js';
import { contactsTable, holdsEmail, keyMatches, rolledBackTables, type RolledBackTable } from './tables.js';
import { planCauseUndo } from './cause.js';
import { projectMendDeals } from '../deals/service.js';

export type RollbackScope = { type: 'workspace' } | { type: 'contacts'; contactIds: string[] };

/**
 * Where a rollback takes its images from: the workspace as of a point in time, or, for an
 * undo, each row as it was just before another rollback's transactions wrote it.
 */
export type PlanSource =
  | { kind: 'asOf'; at: Date }
  | { kind: 'undo'; txids: string[]; since: Date }
  // An undo by cause (cause.ts): what these transactions wrote, field by field.
  | { kind: 'cause'; txids: string[]; undoAnyway: boolean; merge: boolean; at: Date };

/** The sources whose images come from a span of history: a point, or a rollback's writes. */
export type SpanSource = Exclude<PlanSource, { kind: 'cause' }>;

/**
 * What the plan is for: a rollback to run, which needs every image whole, or a preview,
 * which shows whole images only for the contacts of its sample (the first `sampleSize`
 * by id) and otherwise reads only whether a row exists then and now, and a contact's
 * status and email.
 */
export type PlanUse = { kind: 'run' } | { kind: 'preview'; sampleSize: number };

/**
 * A partial rollback writes its contacts' rows; an undo of one also puts back the deals
 * it mended (the only rows outside its contacts that it writes).
 */
function tablesIn(scope: RollbackScope, source: SpanSource): RolledBackTable[] {
  return rolledBackTables.filter((t) => scope.type === 'workspace' || t.perContact || (source.kind === 'undo' && t.tableName === 'deals'));
}

/**
 * Writes the plan of a rollback into rollback_targets: the rows to write, each with its
 * image from `source` and the row as it is now; rows that would not change are left out,
 * and rows that must be left alone say why. Set-based: one statement over contacts'
 * history and one over the other tables', each reading only what was written since the
 * point, whatever the size of the workspace. All in `tx` (a preview); a rollback's job
 * makes the same plan a chunk a transaction (planRollbackChunk), so that a job stopped
 * while planning keeps the chunks it finished.
 */
export async function planRollback(
  tx: Tx,
  workspaceId: string,
  rollbackId: string,
  scope: RollbackScope,
  source: PlanSource,
  use: PlanUse = { kind: 'run' },
): Promise<void> {
  if (source.kind === 'cause') {
    await planSettings(tx);
    await planCauseUndo(tx, workspaceId, rollbackId, source, use);
    await finishPlan(tx, workspaceId, rollbackId, source);
    return;
  }
  for (const chunk of planChunks) await planRollbackChunk(tx, workspaceId, rollbackId, scope, source, chunk, use);
}

/**
 * The plan of a rollback to a point or of an undo of one, in chunks, each of which a job
 * commits with its checkpoint: the contacts' rows, the other tables' rows, then the skips.
 * Rows planned in an earlier transaction are compared with the live rows again when they
 * are written (changed_since_plan), as they are whatever the plan's age; the skips read
 * every chunk's rows. (An undo by cause plans in one transaction: its planner, cause.ts,
 * compares the cause's writes with later ones in one pass.)
 */
export const planChunks = ['contacts', 'others', 'skips'] as const;
export type PlanChunk = (typeof planChunks)[number];

export async function planRollbackChunk(
  tx: Tx,
  workspaceId: string,
  rollbackId: string,
  scope: RollbackScope,
  source: SpanSource,
  chunk: PlanChunk,
  use: PlanUse = { kind: 'run' },
): Promise<void> {
  await planSettings(tx);
  const tables = tablesIn(scope, source);
  switch (chunk) {
    case 'contacts': {
      const lookUpEach = (await countChangedContacts(tx, workspaceId, scope, source)) <= contactLookupsUpTo;
      await insertTargets(tx, workspaceId, rollbackId, contactRows(workspaceId, scope, source, use, lookUpEach));
      return;
    }
    case 'others': {
      const others = tables.filter((t) => t !== contactsTable);
      if (others.length > 0) await insertTargets(tx, workspaceId, rollbackId, await otherRows(tx, workspaceId, scope, source, others, use));
      return;
    }
    case 'skips':
      await finishPlan(tx, workspaceId, rollbackId, source);
  }
}

async function planSettings(tx: Tx): Promise<void> {
  // The whole pass is sorted in memory where it fits (the rows changed since T, with
  // images). Compiling its expressions (JIT) cost more than it saved: 0.2 s at 1,000,000.
  await sql`SET LOCAL work_mem = '512MB'`.execute(tx);
  await sql`SET LOCAL jit = off`.execute(tx);
}

/** The plan's last chunk: statistics of its rows, then the rows it must leave alone. */
async function finishPlan(tx: Tx, workspaceId: string, rollbackId: string, source: PlanSource): Promise<void> {
  // Fresh rows: the skip checks below and the job's batches join on them, planned from
  // these statistics.
  await analyzeWorkTable(tx, 'rollback_targets', ['workspace_id', 'rollback_id', 'table_name', 'row_key', 'contact_id', 'skip_reason']);
  // An unmerge brings merged contacts back: that is what it is for.
  await markSkips(tx, workspaceId, rollbackId, { mergedComeBack: source.kind === 'cause' && source.merge });
}

/**
 * Up to this many contacts changed since the point, the plan looks each one's live row up
 * by its primary key. The planner would rather hash the workspace's every contact, which
 * took longer whenever a tenth of a workspace of 1,000,000 had changed (BENCHMARKS.md,
 * "A log of before images, built"); past this many, it chooses.
 */
const contactLookupsUpTo = 250_000;

/** The versions written to contacts since the point (an upper bound of the contacts changed), counted up to one past contactLookupsUpTo. */
async function countChangedContacts(tx: Tx, workspaceId: string, scope: RollbackScope, source: SpanSource): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM (
      SELECT 1 FROM contact_history h
      WHERE h.workspace_id = ${workspaceId} AND ${contactsWritten(scope, source)}
      LIMIT ${contactLookupsUpTo + 1}) w`.execute(tx);
  return rows[0].n;
}

/** Over `contact_history h`: the versions a plan reads, those written since its point (of an undo: by the rollback undone), in its scope. */
function contactsWritten(scope: RollbackScope, source: SpanSource): RawBuilder<unknown> {
  // `IN (SELECT unnest …)`, not `= ANY`: the picked contacts' versions can then be found
  // by the hash index on id (which cannot take a list) rather than among all written since.
  const inScope = scope.type === 'contacts' ? sql`AND h.id IN (SELECT unnest(${scope.contactIds}::text[]))` : sql``;
  // An undo's versions are found by their transactions among those written since the
  // rollback started, give or take an hour: a job resumed by another server writes with
  // that server's clock.
  const written =
    source.kind === 'asOf'
      ? sql`h.at > ${source.at}`
      : sql`h.at >= ${source.since}::timestamptz - interval '1 hour' AND h.txid = ANY(${source.txids}::bigint[])`;
  return sql`${written} ${inScope}`;
}

/**
 * Contacts (contact_history keeps each version's row as it was before the change): a
 * contact's state at T is the `before` of its first change after T (none: it did not
 * exist), and its state now is the live row, so one pass over the changes since T and
 * the live rows of those contacts give both ends. Compaction keeps that first change
 * after every retained point. An undo takes the `before` of the rollback's first write
 * to each contact, found among the writes since it started by their transactions.
 * Contacts already as the rollback would leave them are left out here, by comparing the
 * rows as they are, before any image is turned into jsonb.
 */
function contactRows(workspaceId: string, scope: RollbackScope, source: SpanSource, use: PlanUse, lookUpEach: boolean): RawBuilder<unknown> {
  const image = (row: string) => {
    const whole = sql`to_jsonb(${sql.ref(row)})`;
    if (use.kind === 'run') return whole;
    const slim = sql`jsonb_build_object('status', (${sql.ref(row)}).status, 'email', (${sql.ref(row)}).email)`;
    return sql`CASE WHEN ${sql.ref(row)} IS NULL THEN NULL WHEN c.position <= ${use.sampleSize} THEN ${whole} ELSE ${slim} END`;
  };
  // OFFSET 0 keeps the lookup a subquery of its own, run once per contact.
  const eachLookedUp = lookUpEach ? sql`OFFSET 0` : sql``;
  // Sorted by id in the "C" collation: ids are nearly unique, so most comparisons end at
  // the sort's abbreviated key. The sample takes the first contacts in that order.
  return sql`
    SELECT 'contacts'::text AS table_name, c.id AS row_key, c.id AS contact_id, ${image('c.before')} AS image, ${image('c.live')} AS live
    FROM (
      SELECT f.id, f.before, live.row AS live, row_number() OVER (ORDER BY f.id COLLATE "C") AS position
      FROM (
        SELECT DISTINCT ON (h.id COLLATE "C") h.id, h.before
        FROM contact_history h
        WHERE h.workspace_id = ${workspaceId} AND ${contactsWritten(scope, source)}
        ORDER BY h.id COLLATE "C", h.version) f
      LEFT JOIN LATERAL (SELECT l AS row FROM contacts l WHERE l.workspace_id = ${workspaceId} AND l.id = f.id ${eachLookedUp}) live ON true
      WHERE NOT (f.before IS NOT DISTINCT FROM live.row
                 OR (f.before IS NULL AND (live.row IS NULL OR (live.row).status NOT IN ('active', 'archived'))))) c`;
}

/**
 * The other tables' rows, from history_entries (each version keeps both images), less
 * those already as the rollback would leave them.
 */
async function otherRows(tx: Tx, workspaceId: string, scope: RollbackScope, source: SpanSource, tables: RolledBackTable[], use: PlanUse): Promise<RawBuilder<unknown>> {
  const dealsToo = source.kind === 'undo' ? sql`OR h.table_name = 'deals'` : sql``;
  const inScope = scope.type === 'contacts' ? sql`AND (h.contact_id = ANY(${scope.contactIds}::text[]) ${dealsToo})` : sql``;
  const tableNames = tables.map((t) => t.tableName);
  if (source.kind === 'asOf') {
    const readsBefore = await historyCompleteAfter(tx, workspaceId, source.at);
    // Only rows written after T can differ from T, and every such row's latest version,
    // which is the row as it is now (none after a delete), is among those writes: history
    // captures every write and compaction keeps each row's latest version. So one pass
    // over the history since T gives both ends without touching the tables. While history
    // holds every change since T, a row's state at T is the `before` of its first change
    // after T (none: it did not exist); past a compaction, its latest version at or
    // before T is looked up row by row (none, or a delete, means it did not exist).
    // Rows are sorted by key before table: keys are nearly unique, so most comparisons end
    // at the sort's abbreviated first key (half the sort's time at 300,000 contacts).
    const row = sql`PARTITION BY h.row_key COLLATE "C", h.table_name COLLATE "C" ORDER BY h.version DESC`;
    const image = readsBefore
      ? sql`last_value(h.before) OVER (${row} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)`
      : sql`(SELECT CASE WHEN t.op = 'delete' THEN NULL ELSE t.after END FROM history_entries t
             WHERE t.workspace_id = ${workspaceId} AND t.table_name = h.table_name AND t.row_key = h.row_key AND t.at <= ${source.at}
             ORDER BY t.version DESC LIMIT 1)`;
    return changedRows(tables, use, sql`
      SELECT DISTINCT ON (h.row_key COLLATE "C", h.table_name COLLATE "C") h.table_name, h.row_key, h.contact_id, ${image} AS image, h.after AS live
      FROM history_entries h
      WHERE h.workspace_id = ${workspaceId} AND h.at > ${source.at} AND h.table_name = ANY(${tableNames}::text[]) ${inScope}
      ORDER BY h.row_key COLLATE "C", h.table_name COLLATE "C", h.version DESC`);
  }
  // An undo: each row as it was just before the rollback's first write to it, and as it
  // is now, looked up by its primary key (it may have changed since).
  const live = sql`CASE h.table_name ${sql.join(
    tables.map(
      (table) => sql`WHEN ${table.tableName} THEN (SELECT to_jsonb(live.*) FROM ${sql.table(table.tableName)} live
                      WHERE live.workspace_id = ${workspaceId} AND ${keyMatches(table, 'h.row_key')})`,
    ),
    sql` `,
  )} END`;
  // The deals a partial rollback mended are not its scope: its undo puts one back only
  // while it is still as the rollback left it. One changed since (deleted when its last
  // contact was deleted, say) is left as it is now.
  const untouchedSince = scope.type === 'contacts' ? sql`WHERE u.table_name <> 'deals' OR u.live IS NOT DISTINCT FROM u.written` : sql``;
  return changedRows(tables, use, sql`
    SELECT u.table_name, u.row_key, u.contact_id, u.image, u.live
    FROM (
      SELECT h.table_name, h.row_key, h.contact_id, h.image, h.written, ${live} AS live
      FROM (
        SELECT DISTINCT ON (h.table_name, h.row_key) h.table_name, h.row_key, h.contact_id, h.before AS image,
          last_value(h.after) OVER (PARTITION BY h.table_name, h.row_key ORDER BY h.version ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS written
        FROM history_entries h
        WHERE h.workspace_id = ${workspaceId} AND h.txid = ANY(${source.txids}::bigint[]) AND h.table_name = ANY(${tableNames}::text[]) ${inScope}
        ORDER BY h.table_name, h.row_key, h.version) h) u
    ${untouchedSince}`);
}

/**
 * Of the planned rows `p`, those the rollback would change. A preview reads only whether
 * such a row exists then and now, so it keeps '{}' for each image it has: less to write.
 */
function changedRows(tables: RolledBackTable[], use: PlanUse, rows: RawBuilder<unknown>): RawBuilder<unknown> {
  const kept = (image: string) => (use.kind === 'preview' ? sql`CASE WHEN ${sql.ref(image)} IS NULL THEN NULL ELSE '{}'::jsonb END` : sql.ref(image));
  return sql`
    SELECT p.table_name, p.row_key, p.contact_id, ${kept('p.image')} AS image, ${kept('p.live')} AS live
    FROM (${rows}) p
    WHERE NOT ${unchanged(tables)}`;
}

async function insertTargets(tx: Tx, workspaceId: string, rollbackId: string, rows: RawBuilder<unknown>): Promise<void> {
  await sql`
    INSERT INTO rollback_targets (workspace_id, rollback_id, table_name, row_key, contact_id, image, live)
    SELECT ${workspaceId}, ${rollbackId}, r.table_name, r.row_key, r.contact_id, r.image, r.live
    FROM (${rows}) r`.execute(tx);
}

/** The row `p` is already as the rollback would leave it: as it was, or gone the way it would go. */
function unchanged(tables: RolledBackTable[]) {
  const goneNow = (table: RolledBackTable) =>
    table.removal === 'soft' ? sql`p.live->>'deleted_at' IS NOT NULL` : table.removal === 'contact' ? sql`NOT ${holdsEmail('p.live')}` : sql`false`;
  const gone = sql`CASE p.table_name ${sql.join(
    tables.map((table) => sql`WHEN ${table.tableName} THEN ${goneNow(table)}`),
    sql` `,
  )} END`;
  return sql`(p.image IS NOT DISTINCT FROM p.live OR (p.image IS NULL AND (p.live IS NULL OR ${gone})))`;
}

/**
 * Rows left alone: a merged contact is never brought back; a contact whose email another
 * contact now holds, and will still hold after the rollback, is skipped and the holder
 * named. A skipped contact's associations are left alone with it.
 */
async function markSkips(tx: Tx, workspaceId: string, rollbackId: string, options: { mergedComeBack: boolean }): Promise<void> {
  const target = sql`rt.workspace_id = ${workspaceId} AND rt.rollback_id = ${rollbackId}`;
  // Both statements drive from the plan's rows (fresh statistics: analyzed above) and join
  // contacts by key only (db/keys.ts): with the workspace as a constant on contacts,
  // which has no statistics, the second one looped over every active contact for each
  // planned row (minutes at 10,000; issue 15). Each runs once a plan, so the planner may
  // still choose to read contacts once rather than look each one up.
  if (!options.mergedComeBack) {
    // Found first, then marked: there are seldom any, and the plan is not read twice for none.
    const { rows: merged } = await sql<{ table_name: string; row_key: string }>`
      SELECT p.table_name, p.row_key
      -- a contact sent to the bin holds its email now (one gone already is not planned): not merged
      FROM ${fenced(sql`SELECT rt.workspace_id, rt.table_name, rt.row_key, rt.contact_id FROM rollback_targets rt WHERE ${target} AND NOT (rt.table_name = 'contacts' AND rt.image IS NULL)`, 'p')}
      ${lookUp('contacts', 'c', sql`c.workspace_id = ${workspaceIn('p', workspaceId)} AND c.id = p.contact_id`)}
      WHERE c.status = 'merged'`.execute(tx);
    if (merged.length > 0) await sql`
      UPDATE rollback_targets rt SET skip_reason = 'merged'
      FROM unnest(${merged.map((m) => m.table_name)}::text[], ${merged.map((m) => m.row_key)}::text[]) AS m(table_name, row_key)
      WHERE ${target} AND rt.table_name = m.table_name AND rt.row_key = m.row_key`.execute(tx);
  }
  const wantsEmail = fenced(
    sql`SELECT rt.workspace_id, rt.rollback_id, rt.row_key, lower(rt.image->>'email') AS email FROM rollback_targets rt
        WHERE ${target} AND rt.table_name = 'contacts' AND rt.skip_reason IS NULL AND ${holdsEmail('rt.image')}
          -- a contact that holds the email now keeps it: nobody else can hold it
          AND NOT (rt.live IS NOT NULL AND ${holdsEmail('rt.live')} AND lower(rt.live->>'email') = lower(rt.image->>'email'))`,
    'w',
  );
  await sql`
    UPDATE rollback_targets rt SET skip_reason = 'email_taken', taken_by = taken.holder_id
    FROM (
      SELECT w.row_key, holder.id AS holder_id
      FROM ${wantsEmail}
      CROSS JOIN LATERAL (
        SELECT h.id FROM contacts h
        WHERE h.workspace_id = ${workspaceIn('w', workspaceId)} AND lower(h.email) = w.email AND h.status IN ('active', 'archived') AND h.id <> w.row_key
        OFFSET 0) holder
      -- the holder keeps the email unless the plan takes it away from it
      WHERE NOT EXISTS (
        SELECT 1 FROM rollback_targets o
        WHERE o.workspace_id = ${workspaceIn('w', workspaceId)} AND o.rollback_id = w.rollback_id AND o.table_name = 'contacts' AND o.row_key = holder.id
          AND o.skip_reason IS NULL
          AND (o.image IS NULL OR NOT ${holdsEmail('o.image')} OR lower(o.image->>'email') <> w.email))) taken
    WHERE ${target} AND rt.table_name = 'contacts' AND rt.row_key = taken.row_key`.execute(tx);
  const { rows: skipped } = await sql<{ row_key: string; skip_reason: string; taken_by: string | null }>`
    SELECT rt.row_key, rt.skip_reason, rt.taken_by FROM rollback_targets rt
    WHERE ${target} AND rt.table_name = 'contacts' AND rt.skip_reason IS NOT NULL`.execute(tx);
  if (skipped.length > 0) {
    await sql`
      UPDATE rollback_targets rt SET skip_reason = c.skip_reason, taken_by = c.taken_by
      FROM jsonb_to_recordset(${JSON.stringify(skipped)}::jsonb) AS c(row_key text, skip_reason text, taken_by text)
      WHERE ${target} AND rt.skip_reason IS NULL AND rt.contact_id = c.row_key`.execute(tx);
  }
  await setAsideWithBinnedContacts(tx, workspaceId, rollbackId);
}

/**
 * A contact created after the point goes to the recycle bin, not out of existence, and
 * like any deleted contact it keeps its associations, set aside: a restore brings them
 * back. So its association rows are left as they are (skip reason `set_aside`, not
 * counted). Looked for only when the plan sends some contact to the bin.
 */
async function setAsideWithBinnedContacts(tx: Tx, workspaceId: string, rollbackId: string): Promise<void> {
  const binned = sql`SELECT c.row_key FROM rollback_targets c
    WHERE c.workspace_id = ${workspaceId} AND c.rollback_id = ${rollbackId} AND c.table_name = 'contacts' AND c.image IS NULL AND c.skip_reason IS NULL`;
  const { rows } = await sql<{ any: boolean }>`SELECT EXISTS (${binned}) AS any`.execute(tx);
  if (!rows[0].any) return;
  await sql`
    UPDATE rollback_targets rt SET skip_reason = 'set_aside'
    WHERE rt.workspace_id = ${workspaceId} AND rt.rollback_id = ${rollbackId} AND rt.table_name <> 'contacts'
      AND rt.contact_id IN (${binned}) AND rt.image IS NULL AND rt.skip_reason IS NULL`.execute(tx);
}

/** Deals a partial rollback will mend once it has run: deleted (no active contact left) and given a new primary. */
export interface DealMends {
  deleted: number;
  repointed: number;
}

/**
 * What the job's last step (mendDealsOfRolledBackContacts) will do to deals, worked out
 * from the plan without writing: each deal the plan's contacts or deal memberships
 * touch, with its memberships and its contacts' statuses as the plan leaves them.
 */
export async function projectDealMends(tx: Tx, workspaceId: string, rollbackId: string): Promise<DealMends> {
  const plan = sql`SELECT rt.table_name, rt.row_key, rt.contact_id, rt.image FROM rollback_targets rt
    WHERE rt.workspace_id = ${workspaceId} AND rt.rollback_id = ${rollbackId} AND rt.skip_reason IS NULL`;
  return projectMendDeals(tx, workspaceId, {
    // a contact that did not exist at the point goes to the recycle bin
    statuses: sql`SELECT row_key AS contact_id, coalesce(image->>'status', 'deleted') AS status FROM (${plan}) p WHERE table_name = 'contacts'`,
    links: sql`SELECT split_part(row_key, ':', 1) AS deal_id, contact_id, image FROM (${plan}) p WHERE table_name = 'deal_contacts'`,
  });
}

type Figures = Record<string, number>;
export type RollbackCounts = Record<string, Figures> & { skipped: { contacts: number; changedSincePlan?: number } };

/** What the plan will do, by table: contacts revived, reverted and removed; rows added, changed and removed. */
async function countPlan(tx: Tx, workspaceId: string, rollbackId: string): Promise<RollbackCounts> {
  const { rows } = await sql<{ table_name: string; add: number; change: number; remove: number; revive: number; revert: number; skipped: number }>`
    SELECT rt.table_name,
      count(*) FILTER (WHERE rt.skip_reason IS NULL AND rt.live IS NULL)::int AS add,
      count(*) FILTER (WHERE rt.skip_reason IS NULL AND rt.live IS NOT NULL AND rt.image IS NOT NULL)::int AS change,
      count(*) FILTER (WHERE rt.skip_reason IS NULL AND rt.image IS NULL)::int AS remove,
      count(*) FILTER (WHERE rt.skip_reason IS NULL AND ${holdsEmail('rt.image')} AND (rt.live IS NULL OR NOT ${holdsEmail('rt.live')}))::int AS revive,
      count(*) FILTER (WHERE rt.skip_reason IS NULL AND rt.live IS NOT NULL AND ${holdsEmail('rt.live')} AND (rt.image IS NULL OR NOT ${holdsEmail('rt.image')}))::int AS leave,
      count(*) FILTER (WHERE rt.skip_reason IS NOT NULL)::int AS skipped
    FROM rollback_targets rt
    WHERE rt.workspace_id = ${workspaceId} AND rt.rollback_id = ${rollbackId}
    GROUP BY rt.table_name`.execute(tx);
  const byTable = new Map(rows.map((r) => [r.table_name, r as typeof r & { leave: number }]));
  const counts: Record<string, Figures> = {};
  for (const table of rolledBackTables) {
    const r = byTable.get(table.tableName);
    if (table === contactsTable) {
      const total = r ? r.add + r.change + r.remove : 0;
      const revive = r?.revive ?? 0;
      const remove = r?.leave ?? 0;
      counts.contacts = { revive, revert: total - revive - remove, remove };
    } else {
      counts[table.countsName] = { add: r?.add ?? 0, change: r?.change ?? 0, remove: r?.remove ?? 0 };
    }
  }
  return { ...counts, skipped: { contacts: byTable.get('contacts')?.skipped ?? 0 } } as RollbackCounts;
}

export interface SkippedContact {
  contactId: string;
  reason: string;
  takenBy?: string;
}

/** The plan's counts and up to `limit` of the contacts it skips, with why. */
export async function summarizePlan(tx: Tx, workspaceId: string, rollbackId: string, limit: number): Promise<{ counts: RollbackCounts; skipped: SkippedContact[] }> {
  const counts = await countPlan(tx, workspaceId, rollbackId);
  const skipped = counts.skipped.contacts === 0 ? [] : await skippedContacts(tx, workspaceId, rollbackId, limit);
  return { counts, skipped };
}

async function skippedContacts(tx: Tx, workspaceId: string, rollbackId: string, limit: number): Promise<SkippedContact[]> {
  const { rows } = await sql<{ row_key: string; skip_reason: string; taken_by: string | null }>`
    SELECT row_key, skip_reason, taken_by FROM rollback_targets
    WHERE workspace_id = ${workspaceId} AND rollback_id = ${rollbackId} AND table_name = 'contacts' AND skip_reason IS NOT NULL
    ORDER BY row_key LIMIT ${limit}`.execute(tx);
  return rows.map((r) => ({ contactId: r.row_key, reason: r.skip_reason, ...(r.taken_by ? { takenBy: r.taken_by } : {}) }));
}

export interface SampleRecord {
  contactId: string;
  /** Who the contact is: its email and name now, or at the point when it is gone now. */
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  change: 'revive' | 'revert' | 'remove';
  /** Field by field: the value now and the value the rollback writes back. */
  differences: { field: string; now: unknown; then: unknown }[];
  /** The latest change after the point, which the rollback overrides. */
  lastChange: { at: string; actorId: string | null; origin: string } | null;
  skipped?: SkippedContact;
}

/** Up to `limit` contacts of the plan with their field-by-field differences. */
export async function samplePlan(tx: Tx, workspaceId: string, rollbackId: string, limit: number): Promise<SampleRecord[]> {
  const { rows } = await sql<{ row_key: string; image: Record<string, unknown> | null; live: Record<string, unknown> | null; skip_reason: string | null; taken_by: string | null; last_at: Date | null; last_actor: string | null; last_origin: string | null }>`
    SELECT rt.row_key, rt.image, rt.live, rt.skip_reason, rt.taken_by, last.at AS last_at, last.actor_id AS last_actor, last.origin AS last_origin
    FROM (
      SELECT * FROM rollback_targets rt
      WHERE rt.workspace_id = ${workspaceId} AND rt.rollback_id = ${rollbackId} AND rt.table_name = 'contacts'
      ORDER BY rt.row_key COLLATE "C" LIMIT ${limit}) rt
    -- looked up for the sampled contacts only
    LEFT JOIN LATERAL (
      SELECT h.at, h.actor_id, h.origin FROM ${versionsOfContact(sql.ref('rt.row_key'), workspaceId)} h
      WHERE h.workspace_id = ${workspaceId}
      ORDER BY h.version DESC LIMIT 1) last ON true
    ORDER BY rt.row_key COLLATE "C"`.execute(tx);
  const holds = (row: Record<string, unknown> | null) => row !== null && ['active', 'archived'].includes(String(row.status));
  const text = (row: Record<string, unknown> | null, column: string) => (typeof row?.[column] === 'string' ? (row[column] as string) : null);
  return rows.map((r) => {
    const known = r.live ?? r.image;
    return {
      contactId: r.row_key,
      email: text(known, 'email'),
      firstName: text(known, 'first_name'),
      lastName: text(known, 'last_name'),
      change: holds(r.image) && !holds(r.live) ? 'revive' : holds(r.live) && !holds(r.image) ? 'remove' : 'revert',
      // A contact that did not exist at the point goes to the recycle bin as it is: there
      // is no older value of its fields to show.
      differences:
        r.image === null || r.live === null
          ? []
          : Object.entries(diffRows(r.live, r.image)).map(([field, { from, to }]) => ({ field, now: from, then: to })),
      lastChange: r.last_at ? { at: r.last_at.toISOString(), actorId: r.last_actor, origin: r.last_origin ?? 'sql' } : null,
      ...(r.skip_reason ? { skipped: { contactId: r.row_key, reason: r.skip_reason, ...(r.taken_by ? { takenBy: r.taken_by } : {}) } } : {}),
    };
  });
}
