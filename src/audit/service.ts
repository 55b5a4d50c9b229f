import { sql } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { decodeCursor, toPage, type Page } from '../http/pagination.js';
import { chainHash, type ChainedFields } from './chain.js';

export interface AuditEntryInput {
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  id: string;
  at: string;
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown>;
  hash: string;
  prevHash: string | null;
}

interface AuditRow {
  id: number;
  at: Date;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: Record<string, unknown>;
  hash: string;
  prev_hash: string | null;
}

/**
 * Appends entries to the workspace's audit chain inside the caller's transaction, so an
 * entry exists exactly when its change does, and returns their ids in order. Call it last
 * in a transaction: it locks the chain's head until commit.
 */
export async function recordAudit(tx: Tx, change: ChangeContext, ...entries: AuditEntryInput[]): Promise<string[]> {
  if (entries.length === 0) return [];
  const head = await sql<{ hash: string | null }>`
    SELECT hash FROM audit_heads WHERE workspace_id = ${change.workspaceId} FOR UPDATE`.execute(tx);
  let prevHash = head.rows[0]?.hash ?? null;
  // Columns, not rows: a restore writes thousands of entries in one statement (parsing
  // them from one JSON document cost more); ORDER BY n keeps ids in chain order.
  const actions: string[] = [];
  const targetTypes: (string | null)[] = [];
  const targetIds: (string | null)[] = [];
  const details: string[] = [];
  const prevHashes: (string | null)[] = [];
  const hashes: string[] = [];
  for (const entry of entries) {
    const fields: ChainedFields = {
      at: change.at,
      actorId: change.actorId,
      action: entry.action,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId ?? null,
      details: entry.details ?? {},
    };
    const hash = chainHash(prevHash, fields);
    actions.push(fields.action);
    targetTypes.push(fields.targetType);
    targetIds.push(fields.targetId);
    details.push(JSON.stringify(fields.details));
    prevHashes.push(prevHash);
    hashes.push(hash);
    prevHash = hash;
  }
  const { rows: inserted } = await sql<{ id: number }>`
    INSERT INTO audit_log (workspace_id, at, actor_id, action, target_type, target_id, details, prev_hash, hash, txid)
    SELECT ${change.workspaceId}::text, ${change.at}::timestamptz, ${change.actorId}::text, e.action, e.target_type, e.target_id, e.details::jsonb, e.prev_hash, e.hash,
           txid_current()
    FROM unnest(${actions}::text[], ${targetTypes}::text[], ${targetIds}::text[], ${details}::text[], ${prevHashes}::text[], ${hashes}::text[])
         WITH ORDINALITY AS e(action, target_type, target_id, details, prev_hash, hash, n)
    ORDER BY e.n
    RETURNING id`.execute(tx);
  await sql`
    INSERT INTO audit_heads (workspace_id, hash) VALUES (${change.workspaceId}, ${prevHash})
    ON CONFLICT (workspace_id) DO UPDATE SET hash = EXCLUDED.hash`.execute(tx);
  return inserted.map((r) => String(r.id));
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

/** The workspace's audit entries, newest first. */
export async function listAuditEntries(db: Db, workspaceId: string, filter: AuditFilter): Promise<Page<AuditEntry>> {
  const after = decodeCursor(filter.cursor, ['integer']);
  const { rows } = await sql<AuditRow>`
    SELECT id, at, actor_id, action, target_type, target_id, details, hash, prev_hash
    FROM audit_log
    WHERE workspace_id = ${workspaceId}
      AND (${filter.action ?? null}::text IS NULL OR action = ${filter.action ?? null})
      AND (${filter.actorId ?? null}::text IS NULL OR actor_id = ${filter.actorId ?? null})
      AND (${filter.targetId ?? null}::text IS NULL OR target_id = ${filter.targetId ?? null})
      AND (${filter.from ?? null}::timestamptz IS NULL OR at >= ${filter.from ?? null})
      AND (${filter.to ?? null}::timestamptz IS NULL OR at <= ${filter.to ?? null})
      AND (${after?.[0] ?? null}::bigint IS NULL OR id < ${after?.[0] ?? null})
    ORDER BY id DESC
    LIMIT ${filter.limit + 1}`.execute(db);
  return toPage(rows, filter.limit, (r) => [r.id], presentEntry);
}

export type ChainVerdict = { ok: true; entries: number } | { ok: false; brokenAt: string; entries: number };

/** Recomputes the chain from the first entry; the first entry whose hash or link is off breaks it. */
export async function verifyAuditChain(db: Db, workspaceId: string): Promise<ChainVerdict> {
  const { rows } = await sql<AuditRow>`
    SELECT id, at, actor_id, action, target_type, target_id, details, hash, prev_hash
    FROM audit_log WHERE workspace_id = ${workspaceId} ORDER BY id`.execute(db);
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
