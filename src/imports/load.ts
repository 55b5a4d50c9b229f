import { v7 as timeOrderedId } from 'uuid';
import type { ChangeContext, Tx } from '../db/database.js';
import { countActiveContacts, insertContactBatch, isEmailHeldViolation, lockHoldersOfEmails, updateContactBatch, type ContactColumns } from '../contacts/service.js';
import { lockLiveLists, setMembershipBatch } from '../lists/service.js';
import { addTagPairs, tagsNamed } from '../tags/service.js';
import { accountsNamed, linkAccountPairs } from '../accounts/service.js';
import { getRetention } from '../workspaces/service.js';
import type { CsvBatch } from './csv.js';
import type { ColumnPlan } from './mapping.js';
import { readRow, type BadRow, type LoadableRow } from './rows.js';
import { claimEmails, insertErrors } from './queries.js';

/** What an import (or one batch of it) did. `rows` counts every data row read, loaded or not. */
export interface ImportCounts {
  rows: number;
  created: number;
  updated: number;
  failed: number;
  tagsCreated: number;
  accountsCreated: number;
}

/**
 * Loads one batch of the file in the caller's transaction: reads each row by the plan,
 * drops the bad ones (each noted with its line and reason), and writes the rest
 * set-based. A bad row writes nothing; it never stops the others.
 */
export async function loadBatch(tx: Tx, change: ChangeContext, importId: string, plan: ColumnPlan, batch: CsvBatch): Promise<ImportCounts> {
  const ws = change.workspaceId;
  const bad: BadRow[] = batch.unreadable.map((u) => ({ line: u.line, reason: 'unreadable_csv', message: `the row cannot be read as CSV: ${u.message}` }));
  const firstLineOf = new Map<string, number>();
  let rows: LoadableRow[] = [];
  for (const record of batch.records) {
    const row = readRow(plan, record);
    if ('reason' in row) {
      bad.push(row);
      continue;
    }
    const firstLine = firstLineOf.get(row.emailKey);
    if (firstLine !== undefined) {
      bad.push(duplicate(row, firstLine));
      continue;
    }
    firstLineOf.set(row.emailKey, row.line);
    rows.push(row);
  }
  const earlier = await claimEmails(tx, ws, importId, rows.map((r) => r.emailKey), rows.map((r) => r.line));
  rows = keep(rows, bad, (r) => {
    const firstLine = earlier.get(r.emailKey);
    return firstLine === undefined ? null : duplicate(r, firstLine);
  });

  const listIds = plan.columns.flatMap((c) => (c.target.kind === 'list' ? [c.target.listId] : []));
  if (listIds.length > 0) {
    const live = await lockLiveLists(tx, ws, listIds);
    rows = keep(rows, bad, (r) => {
      const gone = r.lists.find((m) => !live.has(m.listId));
      return gone ? { line: r.line, reason: 'list_not_found', message: `the list ${gone.listId} was deleted after the upload` } : null;
    });
  }

  const written = await writeRetryingOnEmailIndex(tx, () => writeRows(tx, change, plan, rows));
  bad.push(...written.bad);
  await insertErrors(tx, ws, importId, bad);
  return {
    rows: batch.records.length + batch.unreadable.length,
    created: written.created,
    updated: written.updated,
    failed: bad.length,
    tagsCreated: written.tagsCreated,
    accountsCreated: written.accountsCreated,
  };
}

const duplicate = (row: LoadableRow, firstLine: number): BadRow => ({
  line: row.line,
  reason: 'duplicate_email',
  message: `line ${firstLine} of the file has this email already`,
});

/** The rows `reject` has no objection to; the others join `bad`. */
function keep(rows: LoadableRow[], bad: BadRow[], reject: (row: LoadableRow) => BadRow | null): LoadableRow[] {
  return rows.filter((row) => {
    const why = reject(row);
    if (why) bad.push(why);
    return why === null;
  });
}

/**
 * A contact created or restored with one of the batch's emails after the batch looked
 * (committed while the batch waited on the unique email index) makes the insert fail:
 * the batch's writes are then taken back to the savepoint and done again, and now see
 * that contact as the email's holder. Emails are not locked one by one as a single
 * create locks its own: a batch would take thousands of locks.
 */
async function writeRetryingOnEmailIndex<T>(tx: Tx, write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    const batch = await tx.savepoint('import_batch').execute();
    try {
      const outcome = await write();
      await batch.releaseSavepoint('import_batch').execute();
      return outcome;
    } catch (error) {
      if (!isEmailHeldViolation(error) || attempt === 3) throw error;
      await batch.rollbackToSavepoint('import_batch').execute();
    }
  }
}

interface Written {
  created: number;
  updated: number;
  bad: BadRow[];
  tagsCreated: number;
  accountsCreated: number;
}

/**
 * Decides each row by the contact holding its email (mode, archived holders, the contact
 * limit), then writes: new contacts in one statement, changed ones in another, then
 * memberships, tags and account links, one statement each.
 */
async function writeRows(tx: Tx, change: ChangeContext, plan: ColumnPlan, rows: LoadableRow[]): Promise<Written> {
  const ws = change.workspaceId;
  const holders = await lockHoldersOfEmails(tx, ws, rows.map((r) => r.emailKey));
  const bad: BadRow[] = [];
  let creates: LoadableRow[] = [];
  const updates: { row: LoadableRow; id: string }[] = [];
  for (const row of rows) {
    const holder = holders.get(row.emailKey);
    if (holder && plan.mode === 'create') {
      bad.push({ line: row.line, reason: 'email_taken', message: `the ${holder.status} contact ${holder.id} has this email` });
    } else if (holder && holder.status !== 'active') {
      bad.push({ line: row.line, reason: 'contact_not_active', message: `the contact ${holder.id} with this email is ${holder.status}: an import changes active contacts only` });
    } else if (holder) {
      updates.push({ row, id: holder.id });
    } else if (plan.mode === 'update') {
      bad.push({ line: row.line, reason: 'contact_not_found', message: 'no active or archived contact has this email' });
    } else {
      creates.push(row);
    }
  }
  creates = await withinContactLimit(tx, ws, plan, creates, bad);

  const loaded = [...creates, ...updates.map((u) => u.row)];
  const tags = await tagsNamed(tx, ws, change.at, loaded.flatMap((r) => r.tags));
  const accounts = await accountsNamed(tx, ws, change.at, loaded.flatMap((r) => (r.account ? [r.account] : [])));

  // Ids ordered by creation time (UUIDv7), not random: the indexes keyed by contact id
  // (memberships, tags, links and their history) then grow at their ends, as a large
  // import's rows arrive, rather than at random places all over them.
  const createdIds = creates.map(() => timeOrderedId());
  await insertContactBatch(tx, ws, change.at, createdIds, { emails: creates.map((r) => r.email), ...contactColumns(creates) });
  await updateContactBatch(tx, ws, change.at, updates.map((u) => u.id), contactColumns(updates.map((u) => u.row)));
  const idOf = new Map<LoadableRow, string>([...creates.map((r, i) => [r, createdIds[i]] as const), ...updates.map((u) => [u.row, u.id] as const)]);

  const memberships = { contactIds: [] as string[], listIds: [] as string[], statuses: [] as LoadableRow['lists'][number]['status'][] };
  const tagPairs = { contactIds: [] as string[], tagIds: [] as string[] };
  const links = { contactIds: [] as string[], accountIds: [] as string[], jobTitles: [] as (string | null)[] };
  for (const [row, contactId] of idOf) {
    for (const m of row.lists) {
      memberships.contactIds.push(contactId);
      memberships.listIds.push(m.listId);
      memberships.statuses.push(m.status);
    }
    for (const name of row.tags) {
      tagPairs.contactIds.push(contactId);
      tagPairs.tagIds.push(idOfName(tags.ids, name));
    }
    if (row.account) {
      links.contactIds.push(contactId);
      links.accountIds.push(idOfName(accounts.ids, row.account));
      links.jobTitles.push(row.jobTitle);
    }
  }
  // No domain events: like a restore's, an import's writes enrol no one in an automation
  // (which acts on user and form events only), and a million rows would be millions of
  // events delivered to nobody. import.finished tells that the import happened.
  await setMembershipBatch(tx, ws, change.at, memberships);
  await addTagPairs(tx, ws, change.at, tagPairs.contactIds, tagPairs.tagIds);
  await linkAccountPairs(tx, ws, change.at, links);
  return { created: creates.length, updated: updates.length, bad, tagsCreated: tags.made, accountsCreated: accounts.made };
}

/** The id tagsNamed or accountsNamed found or made for a name of the batch (it answers every one). */
function idOfName(ids: Map<string, string>, name: string): string {
  const id = ids.get(name.toLowerCase());
  if (id === undefined) throw new Error(`no tag or account was found or made for ${JSON.stringify(name)}`);
  return id;
}

function contactColumns(rows: LoadableRow[]): Omit<ContactColumns, 'emails'> {
  return {
    firstNames: rows.map((r) => r.firstName),
    lastNames: rows.map((r) => r.lastName),
    phones: rows.map((r) => r.phone),
    fields: rows.map((r) => JSON.stringify(r.fields)),
  };
}

/**
 * The rows that fit under the workspace's active contact limit, in line order; the rest
 * are bad rows (contact_limit_exceeded), unless the mapping confirmed the overage.
 */
async function withinContactLimit(tx: Tx, ws: string, plan: ColumnPlan, creates: LoadableRow[], bad: BadRow[]): Promise<LoadableRow[]> {
  if (creates.length === 0 || plan.confirmOverage) return creates;
  const { activeContactLimit: limit } = await getRetention(tx, ws);
  if (limit === null) return creates;
  const active = await countActiveContacts(tx, ws);
  const room = Math.max(0, limit - active);
  for (const row of creates.slice(room)) {
    bad.push({ line: row.line, reason: 'contact_limit_exceeded', message: `the workspace has ${active} active contacts of its limit of ${limit}` });
  }
  return creates.slice(0, room);
}
