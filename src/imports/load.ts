import { v7 as timeOrderedId } from 'uuid';
import type { ChangeContext, Db, Tx } from '../db/database.js';
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

/** A batch as read by the plan, before the database: the rows to load and the bad ones. */
export interface ReadBatch {
  /** The data rows it counts in `rows`, loaded or not. */
  records: number;
  rows: LoadableRow[];
  bad: BadRow[];
}

/**
 * Reads each row of a batch by the plan, noting the bad ones with their line and reason:
 * everything that needs no database, a duplicate email within the batch included.
 */
export function readBatch(plan: ColumnPlan, batch: CsvBatch): ReadBatch {
  const bad: BadRow[] = batch.unreadable.map((u) => ({ line: u.line, reason: 'unreadable_csv', message: `the row cannot be read as CSV: ${u.message}` }));
  const firstLineOf = new Map<string, number>();
  const rows: LoadableRow[] = [];
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
  spellNamesAsFirstWritten(rows);
  return { records: batch.records.length + batch.unreadable.length, rows, bad };
}

/**
 * Writes each tag and account name of the rows as the batch first wrote it (names match
 * case-insensitively): a name new to the workspace is made with that spelling, whichever
 * part of the batch makes it.
 */
function spellNamesAsFirstWritten(rows: LoadableRow[]): void {
  const tags = new Map<string, string>();
  const accounts = new Map<string, string>();
  const firstSpelling = (spellings: Map<string, string>, name: string) => {
    const key = name.toLowerCase();
    const first = spellings.get(key);
    if (first !== undefined) return first;
    spellings.set(key, name);
    return name;
  };
  for (const row of rows) {
    row.tags = row.tags.map((name) => firstSpelling(tags, name));
    if (row.account !== null) row.account = firstSpelling(accounts, row.account);
  }
}

/**
 * The read batch cut into `count` parts by email, each email's rows in one part, so that
 * parts loaded side by side never meet on a contact or an email. The first part carries
 * the batch's row count and the bad rows found so far. The same batch is always cut the
 * same way, as a part loaded again after a crash must be.
 */
export function partsByEmail(read: ReadBatch, count: number): ReadBatch[] {
  const parts: ReadBatch[] = Array.from({ length: count }, (_, i) => (i === 0 ? { ...read, rows: [] } : { records: 0, rows: [], bad: [] }));
  for (const row of read.rows) parts[partOfEmail(row.emailKey, count)].rows.push(row);
  return parts;
}

/** FNV-1a of the email, modulo the parts: stable across processes and versions of Node. */
function partOfEmail(emailKey: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < emailKey.length; i += 1) {
    hash ^= emailKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/**
 * How the contact limit is checked for a part: `check` counts the active contacts in the
 * part's transaction (exact, in line order); `fits` says the caller found room under it
 * for every row of the batch, as the parts loaded side by side must: each alone would not
 * see the others' uncommitted contacts.
 */
export type LimitCheck = 'check' | 'fits';

/**
 * Loads a read batch (or a part of one) in the caller's transaction: the emails earlier
 * batches had are duplicates, the rows of lists deleted since the upload are bad, and the
 * rest are written set-based. A bad row writes nothing; it never stops the others.
 */
export async function loadRows(tx: Tx, change: ChangeContext, importId: string, plan: ColumnPlan, read: ReadBatch, limit: LimitCheck): Promise<ImportCounts> {
  const ws = change.workspaceId;
  const bad = [...read.bad];
  let rows = read.rows;
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

  const written = await writeRetryingOnEmailIndex(tx, () => writeRows(tx, change, plan, rows, limit));
  bad.push(...written.bad);
  await insertErrors(tx, ws, importId, bad);
  return {
    rows: read.records,
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
async function writeRows(tx: Tx, change: ChangeContext, plan: ColumnPlan, rows: LoadableRow[], limit: LimitCheck): Promise<Written> {
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
  if (limit === 'check') creates = await withinContactLimit(tx, ws, plan, creates, bad);

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

/** The workspace's active contact limit and its active contacts, or null when no limit applies to the import (none is set, or its mapping confirmed the overage). */
export async function contactRoom(db: Db | Tx, ws: string, plan: ColumnPlan): Promise<{ limit: number; active: number } | null> {
  if (plan.confirmOverage) return null;
  const { activeContactLimit: limit } = await getRetention(db, ws);
  return limit === null ? null : { limit, active: await countActiveContacts(db, ws) };
}

/**
 * The rows that fit under the workspace's active contact limit, in line order; the rest
 * are bad rows (contact_limit_exceeded), unless the mapping confirmed the overage.
 */
async function withinContactLimit(tx: Tx, ws: string, plan: ColumnPlan, creates: LoadableRow[], bad: BadRow[]): Promise<LoadableRow[]> {
  if (creates.length === 0) return creates;
  const room = await contactRoom(tx, ws, plan);
  if (room === null) return creates;
  const { limit, active } = room;
  const fit = Math.max(0, limit - active);
  for (const row of creates.slice(fit)) {
    bad.push({ line: row.line, reason: 'contact_limit_exceeded', message: `the workspace has ${active} active contacts of its limit of ${limit}` });
  }
  return creates.slice(0, fit);
}
