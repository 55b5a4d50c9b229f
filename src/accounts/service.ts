import { sql, type Selectable } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import type { Accounts } from '../db/schema.js';
import { inTransaction } from '../db/database.js';
import { findOrMakeNamed, renameLive } from '../db/renames.js';
import { batchOf, byKeys } from '../db/keys.js';
import { dropRowsOfDeletedParent } from '../db/associations.js';
import { notFound } from '../http/errors.js';
import { pageByTime, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { ofActiveContact, requireActiveContact } from '../contacts/guards.js';
import { moveToBin } from '../deleted-objects/bin.js';

export interface Account {
  id: string;
  name: string;
  createdAt: string;
  deletedAt: string | null;
}

type AccountRow = Pick<Selectable<Accounts>, 'id' | 'name' | 'created_at' | 'deleted_at'>;
const accountColumns = ['id', 'name', 'created_at', 'deleted_at'] as const;

const presentAccount = (r: AccountRow): Account => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at.toISOString(),
  deletedAt: r.deleted_at?.toISOString() ?? null,
});

export async function createAccount(db: Db, change: ChangeContext, name: string): Promise<Account> {
  return inTransaction(db, change, async (tx) => {
    const account = await tx.insertInto('accounts').values({ workspace_id: change.workspaceId, name, created_at: change.at }).returning(accountColumns).executeTakeFirstOrThrow();
    await recordAudit(tx, change, { action: 'account.created', targetType: 'account', targetId: account.id, details: { name } });
    return presentAccount(account);
  });
}

export async function getAccount(db: Db | Tx, workspaceId: string, accountId: string): Promise<Account> {
  const account = await db.selectFrom('accounts').select(accountColumns).where('workspace_id', '=', workspaceId).where('id', '=', accountId).executeTakeFirst();
  if (!account) throw notFound('Account');
  return presentAccount(account);
}

export async function listAccounts(db: Db, workspaceId: string, request: PageRequest): Promise<Page<Account>> {
  const paging = pageByTime(request, 'created_at', 'id');
  const { rows } = await sql<AccountRow & { page_time: string }>`
    SELECT id, name, created_at, deleted_at, ${paging.pageTime} FROM accounts
    WHERE workspace_id = ${workspaceId} AND deleted_at IS NULL AND ${paging.pastCursor} ORDER BY created_at, id LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.id, presentAccount);
}

export async function deleteAccount(db: Db, change: ChangeContext, accountId: string): Promise<void> {
  await inTransaction(db, change, (tx) => moveToBin(tx, change, 'account', accountId));
}

/** Renames a live account (a deleted one is 409 invalid_state, as PATCH /contacts answers for a deleted contact). */
export async function renameAccount(db: Db, change: ChangeContext, accountId: string, name: string): Promise<Account> {
  return inTransaction(db, change, async (tx) => {
    const from = await renameLive(tx, change, 'accounts', accountId, 'Account', name);
    if (from !== null) await recordAudit(tx, change, { action: 'account.renamed', targetType: 'account', targetId: accountId, details: { from, to: name } });
    return getAccount(tx, change.workspaceId, accountId);
  });
}

async function requireLiveAccount(tx: Tx, workspaceId: string, accountId: string): Promise<void> {
  const live = await tx.selectFrom('accounts').select('id').where('workspace_id', '=', workspaceId).where('id', '=', accountId).where('deleted_at', 'is', null).executeTakeFirst();
  if (!live) throw notFound('Account');
}

/**
 * Unlinks an active contact from a live account (404 when it is not linked; the row, job
 * title included, stays in history for an undo or a rollback).
 */
export async function unlinkContact(db: Db, change: ChangeContext, accountId: string, contactId: string): Promise<void> {
  await inTransaction(db, change, async (tx) => {
    await requireLiveAccount(tx, change.workspaceId, accountId);
    await requireActiveContact(tx, change.workspaceId, contactId);
    const removed = await tx
      .deleteFrom('account_contacts')
      .where('workspace_id', '=', change.workspaceId)
      .where('account_id', '=', accountId)
      .where('contact_id', '=', contactId)
      .returning('job_title')
      .executeTakeFirst();
    if (!removed) throw notFound('Link of this contact to this account');
    await recordAudit(tx, change, {
      action: 'account_contact.removed',
      targetType: 'contact',
      targetId: contactId,
      details: { accountId, jobTitle: removed.job_title },
    });
  });
}

export async function linkContact(
  db: Db,
  change: ChangeContext,
  accountId: string,
  contactId: string,
  jobTitle: string | null,
): Promise<{ accountId: string; contactId: string; jobTitle: string | null }> {
  return inTransaction(db, change, async (tx) => {
    await requireLiveAccount(tx, change.workspaceId, accountId);
    await requireActiveContact(tx, change.workspaceId, contactId);
    await tx
      .insertInto('account_contacts')
      .values({ workspace_id: change.workspaceId, account_id: accountId, contact_id: contactId, job_title: jobTitle, created_at: change.at })
      .onConflict((oc) => oc.columns(['workspace_id', 'account_id', 'contact_id']).doUpdateSet((eb) => ({ job_title: eb.ref('excluded.job_title') })))
      .execute();
    await recordAudit(tx, change, { action: 'account_contact.set', targetType: 'contact', targetId: contactId, details: { accountId, jobTitle } });
    return { accountId, contactId, jobTitle };
  });
}

/** A contact's links to accounts that still exist (none while it is deleted or archived). */
export async function contactAccounts(db: Db, workspaceId: string, contactId: string, request: PageRequest): Promise<Page<{ accountId: string; jobTitle: string | null }>> {
  const paging = pageByTime(request, 'ac.created_at', 'ac.account_id');
  const { rows } = await sql<{ accountId: string; jobTitle: string | null; page_time: string }>`
    SELECT ac.account_id AS "accountId", ac.job_title AS "jobTitle", ${paging.pageTime}
    FROM account_contacts ac JOIN accounts a ON a.workspace_id = ac.workspace_id AND a.id = ac.account_id
    WHERE ac.workspace_id = ${workspaceId} AND ac.contact_id = ${contactId} AND a.deleted_at IS NULL AND ${ofActiveContact('ac', workspaceId)} AND ${paging.pastCursor}
    ORDER BY ac.created_at, ac.account_id LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.accountId, ({ accountId, jobTitle }) => ({ accountId, jobTitle }));
}

/**
 * The account links a removed contact keeps, set aside, leaving out those of accounts deleted since
 * (they do not come back with it): rows `(ref, detail, at)`, its account and job title, and when it was linked. A fragment
 * for the recycle bin, which reads what a restore brings back in one statement.
 */
export function keptAccountLinksOf(workspaceId: string, contactId: string) {
  return sql`SELECT a.account_id AS ref, a.job_title AS detail, a.created_at AS at
    FROM account_contacts a JOIN accounts p ON p.workspace_id = a.workspace_id AND p.id = a.account_id AND p.deleted_at IS NULL
    WHERE a.workspace_id = ${workspaceId} AND a.contact_id = ${contactId}`;
}

/**
 * A merge: the survivor `toId` is linked to every account `fromIds` are (deleted accounts'
 * too). Its own link wins (its job title); else the earliest link's.
 */
export async function moveAccountLinks(tx: Tx, workspaceId: string, fromIds: string[], toId: string): Promise<void> {
  await byKeys(tx, sql`
    INSERT INTO account_contacts (workspace_id, account_id, contact_id, job_title, created_at)
    SELECT DISTINCT ON (a.account_id) ${workspaceId}, a.account_id, ${toId}, a.job_title, a.created_at
    FROM ${batchOf(workspaceId, fromIds)} JOIN account_contacts a ON a.workspace_id = k.workspace_id AND a.contact_id = k.key
    ORDER BY a.account_id, a.created_at
    ON CONFLICT DO NOTHING`);
}

/** An import: links contacts to accounts, given as parallel arrays; a job title given replaces the link's, an empty one leaves it. */
export async function linkAccountPairs(
  tx: Tx,
  workspaceId: string,
  at: Date,
  l: { contactIds: string[]; accountIds: string[]; jobTitles: (string | null)[] },
): Promise<void> {
  if (l.contactIds.length === 0) return;
  await sql`
    INSERT INTO account_contacts (workspace_id, account_id, contact_id, job_title, created_at)
    SELECT ${workspaceId}, l.account_id, l.contact_id, l.job_title, ${at}
    FROM unnest(${l.contactIds}::text[], ${l.accountIds}::text[], ${l.jobTitles}::text[]) AS l(contact_id, account_id, job_title)
    ON CONFLICT (workspace_id, account_id, contact_id) DO UPDATE SET job_title = EXCLUDED.job_title
      WHERE EXCLUDED.job_title IS NOT NULL AND account_contacts.job_title IS DISTINCT FROM EXCLUDED.job_title`.execute(tx);
}

/** An import: the live account of each name (case-insensitive), made where missing (db/renames.ts's findOrMakeNamed). */
export async function accountsNamed(tx: Tx, workspaceId: string, at: Date, names: string[]): Promise<{ ids: Map<string, string>; made: number }> {
  return findOrMakeNamed(tx, 'accounts', workspaceId, at, names);
}

/** A restore: the links these contacts kept to accounts deleted since go (seed 002: they do not come back). */
export async function dropLinksOfDeletedAccounts(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await dropRowsOfDeletedParent(tx, { table: 'account_contacts', parent: 'accounts', parentKey: 'account_id' }, workspaceId, contactIds);
}

export async function unlinkFromAllAccounts(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await byKeys(tx, sql`DELETE FROM account_contacts a USING ${batchOf(workspaceId, contactIds)} WHERE a.workspace_id = k.workspace_id AND a.contact_id = k.key`);
}
