import { sql } from 'kysely';
import type { AppContext } from '../context.js';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { AppError, notFound } from '../http/errors.js';
import { decodeCursor, toPage, type Page } from '../http/pagination.js';
import { recordAudit, type AuditEntryInput } from '../audit/service.js';
import { activeJob } from '../jobs/service.js';
import { allowHistoryMaintenance } from '../history/service.js';
import { getRetention } from '../workspaces/service.js';
import {
  compactWrittenBetween,
  compactVersionRange,
  completeCompaction,
  deleteExpiredSnapshots,
  insertDueBoundaries,
  insertManualSnapshot,
  lastVersionThrough,
  lockSchedule,
  markPinsReleased,
  markSnapshotDeleted,
  nextInstantBound,
  nextVersionBound,
  reexpireScheduled,
  retainedPointsAround,
  selectCompactedThrough,
  selectRetainedSnapshots,
  selectSchedule,
  selectSnapshot,
  selectSnapshots,
  startCompaction,
  updateSchedule,
  type HistoryStore,
  workspacesDueForCompaction,
  workspacesWithDueBoundaries,
  workspacesWithExpiredSnapshots,
  type ScheduleRow,
  type SnapshotKind,
  type SnapshotRow,
} from './queries.js';

export type { SnapshotKind } from './queries.js';

const hourMs = 3_600_000;
const dayMs = 86_400_000;

/** Seed 003: a snapshot taken by hand is kept a year unless deleted. */
export const manualKeepDays = 365;

export interface Snapshot {
  id: string;
  takenAt: string;
  kind: SnapshotKind;
  label: string | null;
  expiresAt: string | null;
  createdBy: string | null;
  createdAt: string;
}

function presentSnapshot(row: SnapshotRow): Snapshot {
  return {
    id: row.id,
    takenAt: row.taken_at.toISOString(),
    kind: row.kind,
    label: row.label,
    expiresAt: row.expires_at?.toISOString() ?? null,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
  };
}

export interface SnapshotSettings {
  hourly: { enabled: boolean; keepHours: number };
  weekly: { enabled: boolean; keepDays: number };
  monthly: { enabled: boolean; keepDays: number };
}

export interface SnapshotSettingsPatch {
  hourly?: { enabled?: boolean; keepHours?: number };
  weekly?: { enabled?: boolean; keepDays?: number };
  monthly?: { enabled?: boolean; keepDays?: number };
}

/** Seed 003 (Element451): hourly kept 3 days, Saturdays kept a month, month ends kept a year. */
export const defaultSchedule: ScheduleRow = {
  hourly_enabled: true,
  hourly_keep_hours: 72,
  weekly_enabled: true,
  weekly_keep_days: 31,
  monthly_enabled: true,
  monthly_keep_days: 365,
};

function presentSchedule(s: ScheduleRow): SnapshotSettings {
  return {
    hourly: { enabled: s.hourly_enabled, keepHours: s.hourly_keep_hours },
    weekly: { enabled: s.weekly_enabled, keepDays: s.weekly_keep_days },
    monthly: { enabled: s.monthly_enabled, keepDays: s.monthly_keep_days },
  };
}

// ---------------------------------------------------------------- snapshots by hand

/** The workspace's retained snapshots (not deleted, not expired), newest first. */
export async function listSnapshots(db: Db, workspaceId: string, now: Date, page: { limit: number; cursor?: string }): Promise<Page<Snapshot>> {
  const after = decodeCursor(page.cursor, ['timestamp', 'text']);
  const rows = await selectSnapshots(db, workspaceId, now, page.limit + 1, after);
  return toPage(rows, page.limit, (r) => [r.taken_key, r.id], presentSnapshot);
}

export async function getSnapshot(db: Db, workspaceId: string, id: string, now: Date): Promise<Snapshot> {
  const row = await selectSnapshot(db, workspaceId, id, now);
  if (!row) throw notFound('Snapshot');
  return presentSnapshot(row);
}

/** A manual snapshot of now (the change's time), kept `manualKeepDays` unless deleted. */
export async function takeSnapshot(db: Db, change: ChangeContext, input: { label?: string | null }): Promise<Snapshot> {
  return inTransaction(db, change, async (tx) => {
    const row = await insertManualSnapshot(tx, change.workspaceId, {
      takenAt: change.at,
      expiresAt: new Date(change.at.getTime() + manualKeepDays * dayMs),
      label: input.label ?? null,
      createdBy: change.actorId,
    });
    await recordAudit(tx, change, createdEntry(row));
    return presentSnapshot(row);
  });
}

/** Deletes a retained snapshot: it stops pinning history, and the schedule does not take its boundary again. */
export async function deleteSnapshot(db: Db, change: ChangeContext, id: string): Promise<void> {
  await inTransaction(db, change, async (tx) => {
    const row = await markSnapshotDeleted(tx, change.workspaceId, id, change.at, change.actorId);
    if (!row) throw notFound('Snapshot');
    await markPinsReleased(tx, change.workspaceId);
    await recordAudit(tx, change, {
      action: 'snapshot.deleted',
      targetType: 'snapshot',
      targetId: row.id,
      details: { kind: row.kind, takenAt: row.taken_at.toISOString() },
    });
  });
}

function createdEntry(row: SnapshotRow): AuditEntryInput {
  return {
    action: 'snapshot.created',
    targetType: 'snapshot',
    targetId: row.id,
    details: { kind: row.kind, takenAt: row.taken_at.toISOString(), expiresAt: row.expires_at?.toISOString() ?? null, label: row.label },
  };
}

// ---------------------------------------------------------------- the schedule

export async function getSnapshotSettings(db: Db | Tx, workspaceId: string): Promise<SnapshotSettings> {
  return presentSchedule((await selectSchedule(db, workspaceId)) ?? defaultSchedule);
}

/**
 * Changes the schedule. A new keep applies to the kind's existing snapshots too (their
 * expiresAt moves); turning a kind off takes no new ones and leaves the existing ones to
 * expire.
 */
export async function updateSnapshotSettings(db: Db, change: ChangeContext, patch: SnapshotSettingsPatch): Promise<SnapshotSettings> {
  return inTransaction(db, change, async (tx) => {
    const ws = change.workspaceId;
    const old = await lockSchedule(tx, ws, defaultSchedule);
    const next: ScheduleRow = {
      hourly_enabled: patch.hourly?.enabled ?? old.hourly_enabled,
      hourly_keep_hours: patch.hourly?.keepHours ?? old.hourly_keep_hours,
      weekly_enabled: patch.weekly?.enabled ?? old.weekly_enabled,
      weekly_keep_days: patch.weekly?.keepDays ?? old.weekly_keep_days,
      monthly_enabled: patch.monthly?.enabled ?? old.monthly_enabled,
      monthly_keep_days: patch.monthly?.keepDays ?? old.monthly_keep_days,
    };
    await updateSchedule(tx, ws, next, change.at, change.actorId);
    if (next.hourly_keep_hours !== old.hourly_keep_hours) {
      await reexpireScheduled(tx, ws, 'hourly', sql`make_interval(hours => ${next.hourly_keep_hours})`, change.at);
    }
    if (next.weekly_keep_days !== old.weekly_keep_days) {
      await reexpireScheduled(tx, ws, 'weekly', sql`make_interval(days => ${next.weekly_keep_days})`, change.at);
    }
    if (next.monthly_keep_days !== old.monthly_keep_days) {
      await reexpireScheduled(tx, ws, 'monthly', sql`make_interval(days => ${next.monthly_keep_days})`, change.at);
    }
    const before = presentSchedule(old);
    const after = presentSchedule(next);
    await recordAudit(tx, change, { action: 'snapshot_settings.updated', targetType: 'workspace', targetId: ws, details: { before, after } });
    return after;
  });
}

/**
 * Maintenance: takes every scheduled snapshot whose boundary has passed and is not taken
 * yet (see dueBoundaries for which: never older than the recoverable window, never
 * before the workspace, never already expired). Returns how many were taken.
 */
export async function takeScheduledSnapshots(ctx: AppContext, workspaceId: string | null): Promise<number> {
  const now = ctx.clock.now();
  let taken = 0;
  // One transaction per workspace: its audit chain is written with its snapshots.
  for (const ws of await workspacesWithDueBoundaries(ctx.db, workspaceId, now, defaultSchedule)) {
    const change: ChangeContext = { workspaceId: ws, actorId: null, origin: 'system', at: now };
    taken += await inTransaction(ctx.db, change, async (tx) => {
      const rows = await insertDueBoundaries(tx, ws, now, defaultSchedule);
      await recordAudit(tx, change, ...rows.map(createdEntry));
      return rows.length;
    });
  }
  return taken;
}

/** Maintenance: removes snapshots whose expiresAt has come. Returns how many retained ones expired. */
export async function expireSnapshots(ctx: AppContext, workspaceId: string | null): Promise<number> {
  const now = ctx.clock.now();
  let expired = 0;
  for (const ws of await workspacesWithExpiredSnapshots(ctx.db, workspaceId, now)) {
    const change: ChangeContext = { workspaceId: ws, actorId: null, origin: 'system', at: now };
    expired += await inTransaction(ctx.db, change, async (tx) => {
      const rows = await deleteExpiredSnapshots(tx, ws, now);
      if (rows.length > 0) await markPinsReleased(tx, ws);
      await recordAudit(
        tx,
        change,
        ...rows.map((r) => ({
          action: 'snapshot.expired',
          targetType: 'snapshot',
          targetId: r.id,
          details: { kind: r.kind, takenAt: r.taken_at.toISOString() },
        })),
      );
      return rows.length;
    });
  }
  return expired;
}

// ---------------------------------------------------------------- recoverable points

export interface RecoverableRange {
  /** The PITR window: every instant from `from` to `to` (now) is recoverable. */
  from: Date;
  to: Date;
  /** Retained snapshots, newest first: each takenAt is recoverable too. */
  snapshots: { id: string; takenAt: Date; kind: SnapshotKind }[];
}

/**
 * The start of the PITR window: now − pitr_hours, or later if history was compacted
 * further than that (pitr_hours grew since), because before that point only what
 * snapshots pinned is left.
 */
async function windowStart(db: Db | Tx, workspaceId: string, now: Date): Promise<{ from: Date; pitrHours: number }> {
  const { pitrHours } = await getRetention(db, workspaceId);
  const compacted = await selectCompactedThrough(db, workspaceId);
  const from = new Date(Math.max(now.getTime() - pitrHours * hourMs, compacted?.getTime() ?? -Infinity));
  return { from, pitrHours };
}

/**
 * The workspace's recoverable points at `now`: the PITR window and the retained snapshots.
 *
 * @example
 * const { from, to, snapshots } = await recoverableRange(db, workspaceId, ctx.clock.now());
 */
export async function recoverableRange(db: Db | Tx, workspaceId: string, now: Date): Promise<RecoverableRange> {
  const { from } = await windowStart(db, workspaceId, now);
  const rows = await selectRetainedSnapshots(db, workspaceId, now);
  return { from, to: now, snapshots: rows.map((r) => ({ id: r.id, takenAt: r.taken_at, kind: r.kind })) };
}

/**
 * Whether history holds every change made after `at`: compaction only ever removes
 * entries at or before the point it compacted through. Then a row's state at `at` is the
 * `before` of its first entry after `at`, with no need to look further back.
 */
export async function historyCompleteAfter(db: Db | Tx, workspaceId: string, at: Date): Promise<boolean> {
  const compacted = await selectCompactedThrough(db, workspaceId);
  return compacted === null || at.getTime() >= compacted.getTime();
}

/** How far inside the moving window start a suggested point lies. */
const windowStartMarginMs = 60_000;

/**
 * Throws 422 point_not_recoverable unless `at` can be rolled back to at `now`: it lies in
 * the PITR window (now − pitr_hours <= at <= now, both inclusive), or it is exactly the
 * takenAt of a retained snapshot (timestamptz equality; takenAt has millisecond
 * precision, so the ISO string GET /snapshots gives matches). `details.nearest` lists,
 * oldest first, the nearest recoverable times: a minute after the window's start (when `at` is before
 * it) or its end (`now`, when `at` is after it), and the nearest retained snapshots before and
 * after `at`. `details.window` is `{from, to}`.
 *
 * @example
 * await assertRecoverable(tx, change.workspaceId, at, change.at); // then read history as of `at`
 */
export async function assertRecoverable(db: Db | Tx, workspaceId: string, at: Date, now: Date): Promise<void> {
  const { from, pitrHours } = await windowStart(db, workspaceId, now);
  if (at.getTime() >= from.getTime() && at.getTime() <= now.getTime()) return;
  const around = await retainedPointsAround(db, workspaceId, at, now);
  if (around.exact) return;
  const nearest = new Set<number>();
  if (around.before) nearest.add(around.before.getTime());
  // The window's start moves with the clock: offer a point a minute inside it, so it is
  // still recoverable when the admin acts on it.
  if (at.getTime() < from.getTime()) nearest.add(Math.min(from.getTime() + windowStartMarginMs, now.getTime()));
  if (at.getTime() > now.getTime()) nearest.add(now.getTime());
  if (around.after) nearest.add(around.after.getTime());
  throw new AppError(
    422,
    'point_not_recoverable',
    `${at.toISOString()} cannot be recovered: recoverable points are the last ${pitrHours} hours ` +
      `(${from.toISOString()} to ${now.toISOString()}) and the times of retained snapshots`,
    {
      nearest: [...nearest].sort((a, b) => a - b).map((t) => new Date(t).toISOString()),
      window: { from: from.toISOString(), to: now.toISOString() },
    },
  );
}

// ---------------------------------------------------------------- history compaction

/** History versions (or, incrementally, entries written) examined per transaction: a huge workspace never holds one giant one. */
export const compactionBatchSize = 5000;

/**
 * Maintenance: removes the history entries no recoverable point needs (see
 * removeUnneededEntries and removeUnneededContactVersions in queries.ts for the rules),
 * so storage stays bounded: per row, what gives its state now, at the window's start and
 * at each retained snapshot's takenAt, and everything inside the window. A pass examines only the rows written since
 * the last complete pass, or all history after a snapshot stopped pinning (or when the
 * last pass did not finish). A workspace with a restore or rollback queued or running is
 * left for the next pass, since the job reads history as it goes; `yieldNow`, asked
 * between batches, leaves the rest for the next pass too (a job started on PGlite:
 * maintenance/service.ts). Returns how many entries were removed.
 */
export async function compactHistory(ctx: AppContext, workspaceId: string | null, options: { batchSize?: number; yieldNow?: () => boolean } = {}): Promise<number> {
  const batchSize = options.batchSize ?? compactionBatchSize;
  const yieldNow = options.yieldNow ?? (() => false);
  const now = ctx.clock.now();
  let removed = 0;
  // Per workspace, in batches: each batch is one short transaction.
  for (const { workspace_id: ws, through } of await workspacesDueForCompaction(ctx.db, workspaceId, now)) {
    if (yieldNow()) break;
    if (await activeJob(ctx.db, ws)) continue;
    const change: ChangeContext = { workspaceId: ws, actorId: null, origin: 'system', at: now };
    const { since } = await inTransaction(ctx.db, change, (tx) => startCompaction(tx, ws, through, now));
    const pass = inSequence(historyStores.map((store) => (since === null ? fullPass(store, batchSize) : incrementalPass(store, since, batchSize))));
    let finished = false;
    for (;;) {
      const batch = await inTransaction(ctx.db, change, async (tx) => {
        if (await activeJob(tx, ws)) return null;
        await allowHistoryMaintenance(tx);
        const result = await pass(tx, ws, through, now);
        if (result.removed > 0) {
          await recordAudit(tx, change, { action: 'history.compacted', targetType: 'workspace', targetId: ws, details: { removed: result.removed, through: through.toISOString() } });
        }
        return result;
      });
      // null: a job started; the pass stays incomplete, so the next one examines everything.
      if (!batch) break;
      removed += batch.removed;
      if (batch.done) {
        finished = true;
        break;
      }
      // A job started elsewhere (maintenance/service.ts): left incomplete, as above.
      if (yieldNow()) break;
    }
    await inTransaction(ctx.db, change, (tx) => (finished ? completeCompaction(tx, ws, now) : markPinsReleased(tx, ws)));
  }
  return removed;
}

/** One batch of a pass: how many entries went, and whether the pass is over. */
type CompactionStep = (tx: Tx, workspaceId: string, through: Date, now: Date) => Promise<{ removed: number; done: boolean }>;

const historyStores: HistoryStore[] = ['history_entries', 'contact_history'];

/** Each step's batches until it is done, then the next step's. */
function inSequence(steps: CompactionStep[]): CompactionStep {
  let current = 0;
  return async (tx, ws, through, now) => {
    const { removed, done } = await steps[current](tx, ws, through, now);
    if (done) current += 1;
    return { removed, done: current === steps.length };
  };
}

/** Every entry of the store older than the window, by version ranges up to the last such entry. */
function fullPass(store: HistoryStore, batchSize: number): CompactionStep {
  let afterVersion = 0;
  let lastVersion: number | null | undefined;
  return async (tx, ws, through, now) => {
    if (lastVersion === undefined) lastVersion = await lastVersionThrough(tx, store, ws, through);
    if (lastVersion === null || afterVersion >= lastVersion) return { removed: 0, done: true };
    const bound = await nextVersionBound(tx, store, ws, afterVersion, batchSize);
    const upper = bound === null ? lastVersion : Math.min(bound, lastVersion);
    const removed = await compactVersionRange(tx, store, ws, through, now, afterVersion, upper);
    afterVersion = upper;
    return { removed, done: afterVersion >= lastVersion };
  };
}

/** What the store had written in (since, through], by ranges of instants. */
function incrementalPass(store: HistoryStore, since: Date, batchSize: number): CompactionStep {
  let afterAt = since.toISOString();
  return async (tx, ws, through, now) => {
    const bound = await nextInstantBound(tx, store, ws, afterAt, through, batchSize);
    const upTo = bound ?? through.toISOString();
    const removed = await compactWrittenBetween(tx, store, ws, through, now, afterAt, upTo);
    afterAt = upTo;
    return { removed, done: bound === null };
  };
}
