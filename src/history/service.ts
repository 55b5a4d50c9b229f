import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { batchOf, byKeys } from '../db/keys.js';
import { decodeCursor, toPage, type Page, type PageRequest } from '../http/pagination.js';

export interface FieldChange {
  from: unknown;
  to: unknown;
}

export interface Version {
  version: number;
  at: string;
  op: 'insert' | 'update' | 'delete';
  /** Which record changed: the contact itself, or one of its associations. */
  entity: string;
  /** The ids that name that record beside the contact (an update's changes may not hold them): e.g. `{listId}`. */
  ref: Record<string, string>;
  actorId: string | null;
  origin: string;
  changes: Record<string, FieldChange>;
}

const entityOf: Record<string, string> = {
  contacts: 'contact',
  list_memberships: 'list_membership',
  account_contacts: 'account_contact',
  deal_contacts: 'deal_contact',
  contact_tags: 'contact_tag',
  enrollments: 'enrollment',
  messages: 'message',
};

/** The columns that, with the contact, identify a row of each captured table. */
const refColumns: Record<string, string[]> = {
  contacts: [],
  list_memberships: ['list_id'],
  account_contacts: ['account_id'],
  deal_contacts: ['deal_id'],
  contact_tags: ['tag_id'],
  enrollments: ['automation_id'],
  messages: ['id', 'automation_id'],
};

const camel = (column: string) => column.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());

/**
 * A value of a row image as the API shows it: a time column's value (`…_at`, a
 * timestamptz, which JSON holds as `2026-11-26T03:31:21.03+00:00`) in UTC as `…Z`, like
 * every other time; anything else as it is.
 */
const shown = (column: string, value: unknown): unknown => {
  if (!column.endsWith('_at') || typeof value !== 'string') return value;
  const time = Date.parse(value);
  return Number.isNaN(time) ? value : new Date(time).toISOString();
};

/** Field-by-field differences between two row images; absent images count as all-null. */
export function diffRows(before: Record<string, unknown> | null, after: Record<string, unknown> | null): Record<string, FieldChange> {
  const changes: Record<string, FieldChange> = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const key of keys) {
    if (key === 'workspace_id') continue;
    const from = before?.[key] ?? null;
    const to = after?.[key] ?? null;
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[camel(key)] = { from: shown(key, from), to: shown(key, to) };
  }
  return changes;
}

interface HistoryRow {
  version: number;
  at: Date;
  op: Version['op'];
  table_name: string;
  actor_id: string | null;
  origin: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

/** Every captured change of a contact and its associations, oldest first, a page at a time. */
export async function contactHistory(db: Db, workspaceId: string, contactId: string, request: PageRequest): Promise<Page<Version>> {
  const after = decodeCursor(request.cursor, ['integer']);
  const { rows } = await sql<HistoryRow>`
    SELECT version, at, op, table_name, actor_id, origin, before, after
    FROM history WHERE workspace_id = ${workspaceId} AND contact_id = ${contactId} AND version > ${after?.[0] ?? 0}
    ORDER BY version LIMIT ${request.limit + 1}`.execute(db);
  return toPage(rows, request.limit, (r) => [r.version], (r) => ({
    version: r.version,
    at: r.at.toISOString(),
    op: r.op,
    entity: entityOf[r.table_name] ?? r.table_name,
    ref: Object.fromEntries((refColumns[r.table_name] ?? []).map((c) => [camel(c), String((r.after ?? r.before)?.[c] ?? '')])),
    actorId: r.actor_id,
    origin: r.origin,
    changes: diffRows(r.before, r.after),
  }));
}

/**
 * Lets this transaction remove history (migration 001's history_append_only allows it
 * while `retrace.history_maintenance` is on). A `SET LOCAL`, not `set_config(…, true)`:
 * on Citus only the first reaches the triggers of the worker shards (issue 20).
 */
export async function allowHistoryMaintenance(tx: Tx): Promise<void> {
  await sql`SET LOCAL retrace.history_maintenance = 'on'`.execute(tx);
}

/**
 * Contacts gone for good (purged, erased): every history row about them goes, the delete's
 * own capture included, so no rollback or snapshot brings them back. History is
 * append-only but for this maintenance (migration 001's history_append_only), switched on
 * for the rest of the transaction.
 */
export async function forgetHistoryOfContacts(tx: Tx, workspaceId: string, ids: string[]): Promise<void> {
  await allowHistoryMaintenance(tx);
  // Each id found by contact_history's hash index on id.
  await byKeys(tx, sql`DELETE FROM contact_history h USING ${batchOf(workspaceId, ids)} WHERE h.id = k.key AND h.workspace_id = k.workspace_id`);
  await byKeys(tx, sql`DELETE FROM history_entries h USING ${batchOf(workspaceId, ids)} WHERE h.workspace_id = k.workspace_id AND h.contact_id = k.key`);
}
