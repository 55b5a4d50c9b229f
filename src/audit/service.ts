import type { z } from 'zod';
import { sql, type RawBuilder, type Selectable } from 'kysely';
import { prepared } from '../db/prepared.js';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import type { AuditLog, JsonObject } from '../db/schema.js';
import { withTransaction } from '../db/database.js';
import { byKeys } from '../db/keys.js';
import { decodeCursor, toPage, type Page } from '../http/pagination.js';
import { chainHash } from './chain.js';
import type { auditEntrySchema } from './routes.js';

export interface AuditEntryInput {
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

/** An entry of the audit log as GET /audit-log answers it (routes.ts auditEntrySchema). */
export type AuditEntry = z.output<typeof auditEntrySchema>;

/** The columns an entry's hash covers, with its id. */
const hashedColumns = ['id', 'at', 'actor_id', 'action', 'target_type', 'target_id', 'details'] as const;
/** A chained entry: its hash is set (chain_seq IS NOT NULL), its details an object (recordAudit writes `{}` for none). */
type AuditRow = Pick<Selectable<AuditLog>, (typeof hashedColumns)[number] | 'prev_hash'> & { hash: string; details: JsonObject };
const chainedColumns = [...hashedColumns, 'hash', 'prev_hash'] as const;

/**
 * Appends entries to the workspace's audit log inside the caller's transaction, so an
 * entry exists exactly when its change does, and returns their ids in order. The entries
 * join the hash chain after commit (chainPendingEntries): nothing here waits for another
 * write of the workspace.
 */
/** A new workspace's audit chain: its head, which chaining extends (one chainer at a time holds it). */
export async function startAuditChain(tx: Tx, workspaceId: string): Promise<void> {
  await tx.insertInto('audit_heads').values({ workspace_id: workspaceId }).execute();
}

export async function recordAudit(tx: Tx, change: ChangeContext, ...entries: AuditEntryInput[]): Promise<string[]> {
  if (entries.length === 0) return [];
  // Columns, not rows: a restore writes thousands of entries in one statement (parsing
  // them from one JSON document cost more); ORDER BY n keeps ids in the order given.
  const { rows: inserted } = await sql<{ id: number }>`${prepared}
    INSERT INTO audit_log (workspace_id, at, actor_id, action, target_type, target_id, details, txid)
    SELECT ${change.workspaceId}::text, ${change.at}::timestamptz, ${change.actorId}::text, e.action, e.target_type, e.target_id, e.details::jsonb,
           retrace_txid()
    FROM unnest(${entries.map((e) => e.action)}::text[], ${entries.map((e) => e.targetType ?? null)}::text[],
                ${entries.map((e) => e.targetId ?? null)}::text[], ${entries.map((e) => JSON.stringify(e.details ?? {}))}::text[])
         WITH ORDINALITY AS e(action, target_type, target_id, details, n)
    ORDER BY e.n
    RETURNING id`.execute(tx);
  return inserted.map((r) => String(r.id));
}

/**
 * The INSERT of the audit entries a caller's statement computes, for a data-modifying
 * WITH of that statement: a hot write records its entry without a statement of its own.
 * `entries` gives rows of (action, target_type, target_id, details jsonb).
 */
export const insertAuditEntriesFrom = (change: ChangeContext, entries: RawBuilder<unknown>) => sql`
  INSERT INTO audit_log (workspace_id, at, actor_id, action, target_type, target_id, details, txid)
  SELECT ${change.workspaceId}::text, ${change.at}::timestamptz, ${change.actorId}::text, e.action, e.target_type, e.target_id, e.details, retrace_txid()
  FROM (${entries}) AS e`;

/** Entries chained per statement. */
const chainBatch = 5000;

/**
 * Extends the workspace's hash chain over the entries committed since it was last
 * extended, in id order (what a workspace writes at once is chained in its order). One
 * chainer at a time: it holds the chain head's lock. Stops at the entries that were
 * there when it began, so a stream of writes cannot keep it going, or earlier when
 * `yieldNow()` says so between statements (what it chained so far commits). Returns how
 * many it chained.
 */
export async function chainPendingEntries(db: Db, workspaceId: string, yieldNow: () => boolean = () => false): Promise<number> {
  return withTransaction(db, async (tx) => {
    await tx.insertInto('audit_heads').values({ workspace_id: workspaceId }).onConflict((oc) => oc.column('workspace_id').doNothing()).execute();
    const head = await tx.selectFrom('audit_heads').select(['hash', 'last_seq']).where('workspace_id', '=', workspaceId).forUpdate().executeTakeFirstOrThrow();
    let prevHash = head.hash;
    let seq = head.last_seq;
    const { last_id: lastId } = await tx
      .selectFrom('audit_log')
      .select((eb) => eb.fn.max<number | null>('id').as('last_id'))
      .where('workspace_id', '=', workspaceId)
      .where('chain_seq', 'is', null)
      .executeTakeFirstOrThrow();
    let chained = 0;
    for (let afterId = 0; lastId !== null && !yieldNow(); ) {
      const rows = await tx
        .selectFrom('audit_log')
        .select(hashedColumns)
        .where('workspace_id', '=', workspaceId)
        .where('chain_seq', 'is', null)
        .where('id', '>', afterId)
        .where('id', '<=', lastId)
        .orderBy('id')
        .limit(chainBatch)
        .execute();
      if (rows.length === 0) break;
      const links = rows.map((row) => {
        const hash = chainHash(prevHash, {
          at: row.at,
          actorId: row.actor_id,
          action: row.action,
          targetType: row.target_type,
          targetId: row.target_id,
          details: row.details,
        });
        const link = { id: row.id, prevHash, hash, seq: (seq += 1) };
        prevHash = hash;
        return link;
      });
      await byKeys(tx, sql`
        UPDATE audit_log a SET prev_hash = l.prev_hash, hash = l.hash, chain_seq = l.seq
        FROM (SELECT ${workspaceId}::text AS workspace_id, l.* FROM unnest(${links.map((l) => l.id)}::bigint[], ${links.map((l) => l.prevHash)}::text[],
                                                      ${links.map((l) => l.hash)}::text[], ${links.map((l) => l.seq)}::bigint[]) AS l(id, prev_hash, hash, seq)
              OFFSET 0) l
        WHERE a.workspace_id = l.workspace_id AND a.id = l.id`);
      chained += links.length;
      afterId = rows[rows.length - 1].id;
    }
    if (chained > 0) await tx.updateTable('audit_heads').set({ hash: prevHash, last_seq: seq }).where('workspace_id', '=', workspaceId).execute();
    return chained;
  });
}

/** Chains every workspace's pending entries (one workspace's when given): the maintenance pass's part. */
export async function chainAllPendingEntries(db: Db, workspaceId: string | null, yieldNow: () => boolean = () => false): Promise<number> {
  let pending = db.selectFrom('audit_log').select('workspace_id').distinct().where('chain_seq', 'is', null);
  if (workspaceId !== null) pending = pending.where('workspace_id', '=', workspaceId);
  const rows = await pending.execute();
  let chained = 0;
  for (const { workspace_id } of rows) {
    if (yieldNow()) break;
    chained += await chainPendingEntries(db, workspace_id, yieldNow);
  }
  return chained;
}

export interface AuditFilter {
  action?: string;
  actorId?: string;
  targetId?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

function presentEntry(row: AuditRow): AuditEntry {
  return {
    id: String(row.id),
    at: row.at.toISOString(),
    actorId: row.actor_id,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    details: row.details,
    hash: row.hash,
    prevHash: row.prev_hash,
  };
}

/** The workspace's audit entries, newest first, every one chained. */
export async function listAuditEntries(db: Db, workspaceId: string, filter: AuditFilter): Promise<Page<AuditEntry>> {
  const after = decodeCursor(filter.cursor, ['integer']);
  await chainPendingEntries(db, workspaceId);
  let query = db.selectFrom('audit_log').select(chainedColumns).where('workspace_id', '=', workspaceId).where('chain_seq', 'is not', null);
  if (filter.action !== undefined) query = query.where('action', '=', filter.action);
  if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId);
  if (filter.targetId !== undefined) query = query.where('target_id', '=', filter.targetId);
  if (filter.from !== undefined) query = query.where('at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('at', '<=', filter.to);
  if (after !== undefined) query = query.where('id', '<', Number(after[0]));
  const rows = await query.orderBy('id', 'desc').limit(filter.limit + 1).$narrowType<Pick<AuditRow, 'hash' | 'details'>>().execute();
  return toPage(rows, filter.limit, (r) => [r.id], presentEntry);
}

export type ChainVerdict = { ok: true; entries: number } | { ok: false; brokenAt: string; entries: number };

/**
 * Chains what is pending, then recomputes the chain from its first entry, in chain order;
 * the first entry whose hash or link is off breaks it.
 */
export async function verifyAuditChain(db: Db, workspaceId: string): Promise<ChainVerdict> {
  await chainPendingEntries(db, workspaceId);
  const rows = await db
    .selectFrom('audit_log')
    .select(chainedColumns)
    .where('workspace_id', '=', workspaceId)
    .where('chain_seq', 'is not', null)
    .orderBy('chain_seq')
    .$narrowType<Pick<AuditRow, 'hash' | 'details'>>()
    .execute();
  let prevHash: string | null = null;
  for (const row of rows) {
    const expected = chainHash(prevHash, {
      at: row.at,
      actorId: row.actor_id,
      action: row.action,
      targetType: row.target_type,
      targetId: row.target_id,
      details: row.details,
    });
    if (row.prev_hash !== prevHash || row.hash !== expected) return { ok: false, brokenAt: String(row.id), entries: rows.length };
    prevHash = row.hash;
  }
  return { ok: true, entries: rows.length };
}

/** The transaction that wrote the audit entry `id` of this action, if there is one (null for entries written before transactions were kept). */
export async function transactionOfEntry(db: Db, workspaceId: string, id: string, action: string): Promise<{ txid: string | null; at: Date } | null> {
  if (!/^\d{1,18}$/.test(id)) return null;
  const { rows } = await sql<{ txid: string | null; at: Date }>`
    SELECT txid::text AS txid, at FROM audit_log WHERE workspace_id = ${workspaceId} AND id = ${id}::bigint AND action = ${action}`.execute(db);
  return rows[0] ?? null;
}
