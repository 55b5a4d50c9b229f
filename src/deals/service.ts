import type { z } from 'zod';
import { sql, type RawBuilder } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { batchOf, byKeys, keptToWorkspace, lookUp, workspaceIn } from '../db/keys.js';
import { dropRowsOfDeletedParent } from '../db/associations.js';
import { invalidRequest, invalidState, notFound } from '../http/errors.js';
import { pageByTime, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { joinContact, lockActiveContacts, ofActiveContact } from '../contacts/guards.js';
import { moveToBin } from '../deleted-objects/bin.js';
import type { dealSchema } from './routes.js';

/** A deal as GET /deals/:id answers it: its schema's output (routes.ts dealSchema). */
export type Deal = z.output<typeof dealSchema>;

interface DealRow {
  id: string;
  title: string;
  value: number | null;
  stage: string | null;
  primary_contact_id: string | null;
  created_at: Date;
  deleted_at: Date | null;
  contact_ids: string[];
}

const presentDeal = (r: DealRow): Deal => ({
  id: r.id,
  title: r.title,
  value: r.value,
  stage: r.stage,
  contactIds: r.contact_ids,
  primaryContactId: r.primary_contact_id,
  createdAt: r.created_at.toISOString(),
  ...(r.deleted_at ? { deletedAt: r.deleted_at.toISOString() } : {}),
});

/** The deal `d` is the one `found` names (kept to the workspace on Citus: keptToWorkspace). */
const isFoundDeal = (workspaceId: string) => sql`${keptToWorkspace('d', workspaceId)} AND d.workspace_id = found.workspace_id AND d.id = found.id`;

/** The deal `alias` is the one the batch's row `k` names (db/keys.ts). */
const dealOfKey = (alias: string) => sql`${sql.table(alias)}.workspace_id = k.workspace_id AND ${sql.table(alias)}.id = k.key`;

/**
 * Seed 002's rule for a live deal whose contacts changed, the one place it is written: a
 * deal with no active contact left is deleted; one whose primary is no longer an active
 * contact on it is repointed (mendDeals gives it the earliest-added active contact). Over
 * two facts of the deal, which mendDeals reads from the deal as it is and
 * projectMendDeals from the deal as a planned change would leave it.
 */
const dealRule = (facts: { anyActive: RawBuilder<unknown>; primaryActive: RawBuilder<unknown> }) => ({
  deleted: sql`NOT (${facts.anyActive})`,
  repointed: sql`(${facts.anyActive}) AND NOT (${facts.primaryActive})`,
});

/**
 * The facts of dealRule for the deal `alias` as it is: each an EXISTS that stops at the
 * first active contact (looked up for each deal, db/keys.ts).
 */
function dealAsItIs(alias: string, workspaceId: string) {
  const activeLinkOf = (contact?: RawBuilder<unknown>) => sql`EXISTS (SELECT 1 FROM deal_contacts dc
    WHERE dc.workspace_id = ${workspaceIn(alias, workspaceId)} AND dc.deal_id = ${sql.table(alias)}.id
      ${contact ? sql`AND dc.contact_id = ${contact}` : sql``} AND ${ofActiveContact('dc', workspaceId)} OFFSET 0)`;
  return dealRule({ anyActive: activeLinkOf(), primaryActive: activeLinkOf(sql.ref(`${alias}.primary_contact_id`)) });
}

/** The columns of a deal as presented, for `FROM deals d` of the workspace `workspaceId` (a constant there on Citus: workspaceIn). */
const dealColumns = (workspaceId: string) => sql`
  d.id, d.title, d.value, d.stage, d.primary_contact_id, d.created_at, d.deleted_at,
  coalesce((SELECT array_agg(dc.contact_id ORDER BY dc.added_seq) FROM deal_contacts dc
            WHERE dc.workspace_id = ${workspaceIn('d', workspaceId)} AND dc.deal_id = d.id AND ${ofActiveContact('dc', workspaceId)}), '{}') AS contact_ids`;

export async function getDeal(db: Db | Tx, workspaceId: string, dealId: string): Promise<Deal> {
  const { rows } = await sql<DealRow>`SELECT ${dealColumns(workspaceId)} FROM deals d WHERE d.workspace_id = ${workspaceId} AND d.id = ${dealId}`.execute(db);
  if (!rows[0]) throw notFound('Deal');
  return presentDeal(rows[0]);
}

export async function listDeals(db: Db, workspaceId: string, request: PageRequest): Promise<Page<Deal>> {
  const paging = pageByTime(request, 'd.created_at', 'd.id');
  const { rows } = await sql<DealRow & { page_time: string }>`
    SELECT ${dealColumns(workspaceId)}, ${paging.pageTime} FROM deals d
    WHERE d.workspace_id = ${workspaceId} AND d.deleted_at IS NULL AND ${paging.pastCursor} ORDER BY d.created_at, d.id LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.id, presentDeal);
}

/** Live deals the contact is on (none while it is deleted or archived). */
export async function contactDeals(db: Db, workspaceId: string, contactId: string, request: PageRequest): Promise<Page<Deal>> {
  const paging = pageByTime(request, 'd.created_at', 'd.id');
  const { rows } = await sql<DealRow & { page_time: string }>`
    SELECT ${dealColumns(workspaceId)}, ${paging.pageTime} FROM deals d
    WHERE d.workspace_id = ${workspaceId} AND d.deleted_at IS NULL AND ${paging.pastCursor}
      AND EXISTS (SELECT 1 FROM deal_contacts dc WHERE dc.workspace_id = d.workspace_id AND dc.deal_id = d.id AND dc.contact_id = ${contactId}
                  AND ${ofActiveContact('dc', workspaceId)})
    ORDER BY d.created_at, d.id LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.id, presentDeal);
}

/** The live deals among `dealIds`, oldest first. */
export async function liveDealsWithIds(db: Db | Tx, workspaceId: string, dealIds: string[]): Promise<Deal[]> {
  if (dealIds.length === 0) return [];
  const { rows } = await sql<DealRow>`
    SELECT ${dealColumns(workspaceId)} FROM ${batchOf(workspaceId, dealIds)} ${lookUp('deals', 'd', dealOfKey('d'))}
    WHERE d.deleted_at IS NULL
    ORDER BY d.created_at, d.id`.execute(db);
  return rows.map(presentDeal);
}

export interface NewDeal {
  title: string;
  value?: number | null;
  stage?: string | null;
  contactIds: string[];
  primaryContactId?: string;
}

/** Every id names an active contact of the workspace, each locked against leaving meanwhile; else 400. */
async function requireActiveContacts(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  const active = await lockActiveContacts(tx, workspaceId, contactIds);
  if (active.size !== contactIds.length) {
    throw invalidRequest('Every contact of a deal must be an active contact of this workspace', {
      issues: contactIds.filter((id) => !active.has(id)).map((id) => ({ in: 'body', path: ['contactIds'], message: `no active contact ${id}` })),
    });
  }
}

export async function createDeal(db: Db, change: ChangeContext, input: NewDeal): Promise<Deal> {
  const contactIds = [...new Set(input.contactIds)];
  const primary = input.primaryContactId ?? contactIds[0];
  if (!contactIds.includes(primary)) {
    throw invalidRequest('primaryContactId must be one of contactIds', {
      issues: [{ in: 'body', path: ['primaryContactId'], message: 'not among contactIds' }],
    });
  }
  return inTransaction(db, change, async (tx) => {
    await requireActiveContacts(tx, change.workspaceId, contactIds);
    const { rows } = await sql<{ id: string }>`
      INSERT INTO deals (workspace_id, title, value, stage, primary_contact_id, created_at, updated_at)
      VALUES (${change.workspaceId}, ${input.title}, ${input.value ?? null}, ${input.stage ?? null}, ${primary}, ${change.at}, ${change.at})
      RETURNING id`.execute(tx);
    const dealId = rows[0].id;
    await sql`
      INSERT INTO deal_contacts (workspace_id, deal_id, contact_id, added_at)
      SELECT ${change.workspaceId}, ${dealId}, c, ${change.at} FROM unnest(${contactIds}::text[]) WITH ORDINALITY AS t(c, n) ORDER BY n`.execute(tx);
    await recordAudit(tx, change, { action: 'deal.created', targetType: 'deal', targetId: dealId, details: { title: input.title, contactIds } });
    return getDeal(tx, change.workspaceId, dealId);
  });
}

export interface DealChange {
  title?: string;
  value?: number | null;
  stage?: string | null;
  contactIds?: string[];
  primaryContactId?: string;
}

const primaryNotAmongContacts = () =>
  invalidRequest('primaryContactId must be one of the deal’s contacts after the change', {
    issues: [{ in: 'body', path: ['primaryContactId'], message: 'not among the deal’s contacts' }],
  });

/**
 * Changes a live deal (PATCH /deals/:id; a deleted one is 409 invalid_state). `contactIds`
 * replaces its active contacts, in the order given: contacts it keeps keep their rows (and
 * when they joined), new ones are added, and where the order given is not the order they
 * hold, each is given a new place (added_seq) in that order. Contacts set aside on it
 * (deleted or archived) stay set aside. A primary that leaves without a new one named is
 * passed on by seed 002's rule (mendDeals): the earliest-added contact, the first given.
 * One `deal.updated` audit entry names what changed.
 */
export async function updateDeal(db: Db, change: ChangeContext, dealId: string, input: DealChange): Promise<Deal> {
  const contactIds = input.contactIds && [...new Set(input.contactIds)];
  const ws = change.workspaceId;
  const requireLiveDeal = async (tx: Tx, lock: boolean) => {
    const deal = await tx
      .selectFrom('deals')
      .select('deleted_at')
      .where('workspace_id', '=', ws)
      .where('id', '=', dealId)
      .$if(lock, (qb) => qb.forUpdate())
      .executeTakeFirst();
    if (!deal) throw notFound('Deal');
    if (deal.deleted_at) throw invalidState('Only live deals can be changed; this one is deleted', { status: 'deleted' });
  };
  return inTransaction(db, change, async (tx) => {
    await requireLiveDeal(tx, false);
    // Contacts before the deal, as a contact's delete locks them (then its deals): the
    // other order could deadlock with a delete of one of these contacts.
    if (contactIds) await requireActiveContacts(tx, ws, contactIds);
    await requireLiveDeal(tx, true);
    const before = await getDeal(tx, ws, dealId);
    const after = contactIds ?? before.contactIds;
    if (input.primaryContactId !== undefined && !after.includes(input.primaryContactId)) throw primaryNotAmongContacts();
    if (contactIds) await replaceDealContacts(tx, change, dealId, before.contactIds, contactIds);
    const fields = {
      title: input.title ?? before.title,
      value: input.value === undefined ? before.value : input.value,
      stage: input.stage === undefined ? before.stage : input.stage,
      primaryContactId: input.primaryContactId ?? before.primaryContactId,
    };
    if (fields.title !== before.title || fields.value !== before.value || fields.stage !== before.stage || fields.primaryContactId !== before.primaryContactId) {
      await sql`
        UPDATE deals SET title = ${fields.title}, value = ${fields.value}, stage = ${fields.stage}, primary_contact_id = ${fields.primaryContactId},
                         updated_at = ${change.at}
        WHERE workspace_id = ${ws} AND id = ${dealId}`.execute(tx);
    }
    if (contactIds) await mendDeals(tx, ws, [dealId], change.at);
    const updated = await getDeal(tx, ws, dealId);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const key of ['title', 'value', 'stage', 'contactIds', 'primaryContactId'] as const) {
      if (JSON.stringify(before[key]) !== JSON.stringify(updated[key])) changes[key] = { from: before[key], to: updated[key] };
    }
    if (Object.keys(changes).length > 0) {
      await recordAudit(tx, change, { action: 'deal.updated', targetType: 'deal', targetId: dealId, details: { changes } });
    }
    return updated;
  });
}

/**
 * Makes `next` the deal's active contacts, in that order, from `current` (its active
 * contacts in order). Kept contacts keep their place when the order allows (each new one
 * then joins at the end); otherwise every one of `next` takes a new place, in order.
 */
async function replaceDealContacts(tx: Tx, change: ChangeContext, dealId: string, current: string[], next: string[]): Promise<void> {
  const ws = change.workspaceId;
  const leaving = current.filter((id) => !next.includes(id));
  const kept = current.filter((id) => next.includes(id));
  const joining = next.filter((id) => !current.includes(id));
  if (leaving.length > 0) {
    await sql`DELETE FROM deal_contacts WHERE workspace_id = ${ws} AND deal_id = ${dealId} AND contact_id = ANY(${leaving}::text[])`.execute(tx);
  }
  const inOrder = [...kept, ...joining].every((id, i) => id === next[i]);
  const placed = inOrder ? joining : next;
  if (placed.length === 0) return;
  // New places, increasing in the order given (sorted here: the order nextval hands them
  // out within one statement is not promised).
  const { rows } = await sql<{ seq: string }>`SELECT nextval('deal_contacts_added_seq')::text AS seq FROM generate_series(1, ${placed.length})`.execute(tx);
  const seqs = rows.map((r) => BigInt(r.seq)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
  const moved = placed.filter((id) => kept.includes(id));
  if (moved.length > 0) {
    await sql`
      UPDATE deal_contacts dc SET added_seq = p.seq::bigint
      FROM unnest(${placed}::text[], ${seqs}::text[]) AS p(contact_id, seq)
      WHERE dc.workspace_id = ${ws} AND dc.deal_id = ${dealId} AND dc.contact_id = p.contact_id AND dc.contact_id = ANY(${moved}::text[])`.execute(tx);
  }
  const added = placed.filter((id) => !kept.includes(id));
  if (added.length > 0) {
    await sql`
      INSERT INTO deal_contacts (workspace_id, deal_id, contact_id, added_seq, added_at)
      SELECT ${ws}, ${dealId}, p.contact_id, p.seq::bigint, ${change.at}
      FROM unnest(${placed}::text[], ${seqs}::text[]) AS p(contact_id, seq) WHERE p.contact_id = ANY(${added}::text[])`.execute(tx);
  }
}

/**
 * Deletes a deal (to the bin of GET /deleted-objects). Its contacts keep their rows on
 * it, in order, so a restore brings them back with it.
 */
export async function deleteDeal(db: Db, change: ChangeContext, dealId: string): Promise<Deal> {
  return inTransaction(db, change, async (tx) => {
    await moveToBin(tx, change, 'deal', dealId);
    return getDeal(tx, change.workspaceId, dealId);
  });
}

/**
 * Takes contacts that are leaving (deleted, archived, merged away: no longer active) off
 * their deals. Seed 002: a deal whose only active contacts these were is deleted with
 * them (and not restored later); a deal with others keeps them, and if its primary left,
 * the earliest-added remaining active contact becomes primary. With `keepRows` (deleted
 * and archived contacts) their deal_contacts rows stay, set aside for a restore; otherwise
 * (merged contacts) they are removed. Returns the ids of the deals deleted.
 */
export async function detachContactsFromDeals(tx: Tx, change: ChangeContext, contactIds: string[], keepRows: boolean): Promise<string[]> {
  const ws = change.workspaceId;
  // Locks the deals (in id order, so two detaches cannot deadlock) before looking at who
  // remains on them: two contacts of one deal deleted at once would otherwise each see
  // the other still on it, and the deal would live on with no contact.
  const { rows: onDeals } = await byKeys(tx, sql<{ deal_id: string }>`
    SELECT DISTINCT dc.deal_id FROM ${batchOf(ws, contactIds)} ${lookUp('deal_contacts', 'dc', sql`dc.workspace_id = k.workspace_id AND dc.contact_id = k.key`)}
    ORDER BY dc.deal_id`);
  const { rows: affected } = await byKeys(tx, sql<{ deal_id: string }>`
    SELECT d.id AS deal_id FROM ${batchOf(ws, onDeals.map((r) => r.deal_id))} ${lookUp('deals', 'd', dealOfKey('d'), 'FOR UPDATE')}
    WHERE d.deleted_at IS NULL
    ORDER BY d.id`);
  if (!keepRows) await removeFromAllDeals(tx, ws, contactIds);
  if (affected.length === 0) return [];
  return (await mendDeals(tx, ws, affected.map((r) => r.deal_id), change.at)).deleted;
}

/** A restore: the links these contacts kept to deals deleted since go (seed 002: they do not come back). */
export async function dropLinksOfDeletedDeals(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await dropRowsOfDeletedParent(tx, { table: 'deal_contacts', parent: 'deals', parentKey: 'deal_id' }, workspaceId, contactIds);
}

/** Takes contacts off every deal, live or deleted, without mending the deals (detachContactsFromDeals does that); history keeps the rows. */
export async function removeFromAllDeals(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await byKeys(tx, sql`DELETE FROM deal_contacts dc USING ${batchOf(workspaceId, contactIds)} WHERE dc.workspace_id = k.workspace_id AND dc.contact_id = k.key`);
}

/**
 * Deals `dealIds` after contacts left them, by dealRule (seed 002): a live deal with no
 * active contact left is deleted; one whose primary is no longer an active contact on it
 * gets the earliest-added active contact it still has as primary. Returns the ids of the
 * deals deleted and of those given a new primary.
 */
export async function mendDeals(tx: Tx, workspaceId: string, dealIds: string[], at: Date): Promise<{ deleted: string[]; repointed: string[] }> {
  if (dealIds.length === 0) return { deleted: [], repointed: [] };
  const { rows: orphaned } = await byKeys(tx, sql<{ id: string }>`
    UPDATE deals d SET deleted_at = ${at}, deleted_by = retrace_actor(), updated_at = ${at}
    FROM (SELECT x.workspace_id, x.id FROM ${batchOf(workspaceId, dealIds)} ${lookUp('deals', 'x', dealOfKey('x'), 'FOR UPDATE')}
          WHERE x.deleted_at IS NULL AND ${dealAsItIs('x', workspaceId).deleted}) found
    WHERE ${isFoundDeal(workspaceId)}
    RETURNING d.id`);
  const { rows: repointed } = await byKeys(tx, sql<{ id: string }>`
    UPDATE deals d SET primary_contact_id = (
        SELECT dc.contact_id FROM deal_contacts dc WHERE dc.workspace_id = ${workspaceIn('d', workspaceId)} AND dc.deal_id = d.id AND ${ofActiveContact('dc', workspaceId)}
        ORDER BY dc.added_seq LIMIT 1),
      updated_at = ${at}
    FROM (SELECT x.workspace_id, x.id FROM ${batchOf(workspaceId, dealIds)} ${lookUp('deals', 'x', dealOfKey('x'), 'FOR UPDATE')}
          WHERE x.deleted_at IS NULL AND ${dealAsItIs('x', workspaceId).repointed}) found
    WHERE ${isFoundDeal(workspaceId)}
    RETURNING d.id`);
  return { deleted: orphaned.map((r) => r.id), repointed: repointed.map((r) => r.id) };
}

/**
 * What mendDeals would do once a change is written, worked out without writing it (a
 * rollback's preview and its plan's counts): the deals of `touched` (ids, live), with
 * their contacts' statuses and deal links as `statuses` and `links` leave them.
 *
 * - statuses: `(contact_id, status)` rows, the contacts whose status the change sets;
 * - links: `(deal_id, contact_id, image)` rows, the deal links it writes (image NULL: removed).
 *
 * dealRule, as mendDeals applies it, over facts gathered per deal in one pass (an EXISTS
 * per deal over the planned rows, which are not indexed, would read them all for each).
 */
export async function projectMendDeals(
  tx: Tx,
  workspaceId: string,
  planned: { statuses: RawBuilder<unknown>; links: RawBuilder<unknown> },
): Promise<{ deleted: number; repointed: number }> {
  // A deal none of whose links the change leaves has no row in after_by_deal.
  const rule = dealRule({ anyActive: sql`coalesce(a.any_active, false)`, primaryActive: sql`coalesce(a.primary_active, false)` });
  const { rows } = await sql<{ deleted: number; repointed: number }>`
    WITH planned_status AS (${planned.statuses}),
    planned_links AS (${planned.links}),
    touched AS (
      SELECT d.id, d.primary_contact_id FROM deals d
      WHERE d.workspace_id = ${workspaceId} AND d.deleted_at IS NULL
        AND (d.primary_contact_id IN (SELECT contact_id FROM planned_status)
             OR d.id IN (SELECT deal_id FROM planned_links)
             OR d.id IN (SELECT dc.deal_id FROM deal_contacts dc
                         WHERE dc.workspace_id = ${workspaceId} AND dc.contact_id IN (SELECT contact_id FROM planned_status)))),
    links_after AS (
      SELECT dc.deal_id, dc.contact_id FROM deal_contacts dc JOIN touched t ON t.id = dc.deal_id
      WHERE dc.workspace_id = ${workspaceId}
        AND NOT EXISTS (SELECT 1 FROM planned_links pl WHERE pl.deal_id = dc.deal_id AND pl.contact_id = dc.contact_id)
      UNION ALL
      SELECT pl.deal_id, pl.contact_id FROM planned_links pl JOIN touched t ON t.id = pl.deal_id WHERE pl.image IS NOT NULL),
    after_by_deal AS (
      SELECT la.deal_id,
             bool_or(coalesce(ps.status, c.status) = 'active') AS any_active,
             bool_or(coalesce(ps.status, c.status) = 'active' AND la.contact_id IS NOT DISTINCT FROM t.primary_contact_id) AS primary_active
      FROM links_after la
      JOIN touched t ON t.id = la.deal_id
      LEFT JOIN planned_status ps ON ps.contact_id = la.contact_id
      ${joinContact('c', workspaceId, sql`la.contact_id`, { left: true })}
      GROUP BY la.deal_id)
    SELECT count(*) FILTER (WHERE ${rule.deleted})::int AS deleted,
           count(*) FILTER (WHERE ${rule.repointed})::int AS repointed
    FROM touched t LEFT JOIN after_by_deal a ON a.deal_id = t.id`.execute(tx);
  return rows[0];
}

/**
 * The deal links a removed contact keeps, set aside, leaving out those of deals deleted since
 * (they do not come back with it): rows `(ref, detail, at)`, its deal (detail NULL), and the deal's creation. A fragment
 * for the recycle bin, which reads what a restore brings back in one statement.
 */
export function keptDealLinksOf(workspaceId: string, contactId: string) {
  return sql`SELECT d.deal_id AS ref, NULL AS detail, p.created_at AS at
    FROM deal_contacts d JOIN deals p ON p.workspace_id = d.workspace_id AND p.id = d.deal_id AND p.deleted_at IS NULL
    WHERE d.workspace_id = ${workspaceId} AND d.contact_id = ${contactId}`;
}

/** A merge: the survivor `toId` is put on every deal `fromIds` are on (deleted deals too), added at `at`. */
export async function moveDealLinks(tx: Tx, workspaceId: string, fromIds: string[], toId: string, at: Date): Promise<void> {
  await byKeys(tx, sql`
    INSERT INTO deal_contacts (workspace_id, deal_id, contact_id, added_at)
    SELECT DISTINCT ${workspaceId}, d.deal_id, ${toId}, ${at}::timestamptz
    FROM ${batchOf(workspaceId, fromIds)} JOIN deal_contacts d ON d.workspace_id = k.workspace_id AND d.contact_id = k.key
    ON CONFLICT DO NOTHING`);
}

/**
 * A merge: the live deals whose primary is one of `fromIds` get `toId` (the survivor,
 * already on them) as primary.
 */
export async function handOverPrimaryContact(tx: Tx, workspaceId: string, fromIds: string[], toId: string, at: Date): Promise<void> {
  await byKeys(tx, sql`
    UPDATE deals d SET primary_contact_id = ${toId}, updated_at = ${at}
    FROM (SELECT x.workspace_id, x.id FROM ${batchOf(workspaceId, fromIds)}
          ${lookUp('deals', 'x', sql`x.workspace_id = k.workspace_id AND x.primary_contact_id = k.key`, 'FOR UPDATE')}
          WHERE x.deleted_at IS NULL) found
    WHERE ${isFoundDeal(workspaceId)}`);
}

/** Contacts gone for good (purged, erased, left out of a backup's restore): no deal, live or deleted, names them as primary. */
export async function forgetPrimaryContacts(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await byKeys(tx, sql`UPDATE deals d SET primary_contact_id = NULL FROM ${batchOf(workspaceId, contactIds)} WHERE d.workspace_id = k.workspace_id AND d.primary_contact_id = k.key`);
}

/**
 * Deals after a backup's restore left contacts out (their keys are gone): as a delete
 * leaves a deal its contacts left (mendDeals), a deal whose primary was left out gets the
 * earliest-added contact it still has as primary, or is deleted when none is left; then
 * no deal, deleted ones too, names those contacts. Returns the ids of the deals deleted.
 */
export async function mendDealsOfMissingContacts(tx: Tx, workspaceId: string, contactIds: string[], at: Date): Promise<string[]> {
  if (contactIds.length === 0) return [];
  const { rows } = await byKeys(tx, sql<{ id: string }>`
    SELECT d.id FROM ${batchOf(workspaceId, contactIds)} JOIN deals d ON d.workspace_id = k.workspace_id AND d.primary_contact_id = k.key`);
  const { deleted } = await mendDeals(tx, workspaceId, rows.map((r) => r.id), at);
  await forgetPrimaryContacts(tx, workspaceId, contactIds);
  return deleted.sort();
}
