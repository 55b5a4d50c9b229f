import { sql, type RawBuilder } from 'kysely';
import type { Tx } from '../db/database.js';

/**
 * How a row leaves when a rollback goes back to a time before it existed: contacts go to
 * the recycle bin, lists, accounts, deals and tags are marked deleted, associations are
 * removed.
 */
export type Removal = 'contact' | 'soft' | 'hard';

/** A table a rollback writes back, as its history trigger keys it. */
export interface RolledBackTable {
  tableName: string;
  /** The columns joined by ':' in history's row_key, in order. */
  keyColumns: string[];
  /** The primary key after workspace_id: the conflict target of an upsert. */
  primaryKey: string[];
  removal: Removal;
  /** Rows belong to one contact (partial rollbacks take them); else only full ones do. */
  perContact: boolean;
  /** The name of its figures in a preview's counts. */
  countsName: string;
}

export const rolledBackTables: readonly RolledBackTable[] = [
  { tableName: 'lists', keyColumns: ['id'], primaryKey: ['id'], removal: 'soft', perContact: false, countsName: 'lists' },
  { tableName: 'accounts', keyColumns: ['id'], primaryKey: ['id'], removal: 'soft', perContact: false, countsName: 'accounts' },
  { tableName: 'deals', keyColumns: ['id'], primaryKey: ['id'], removal: 'soft', perContact: false, countsName: 'deals' },
  { tableName: 'tags', keyColumns: ['id'], primaryKey: ['id'], removal: 'soft', perContact: false, countsName: 'tags' },
  { tableName: 'contacts', keyColumns: ['id'], primaryKey: ['id'], removal: 'contact', perContact: true, countsName: 'contacts' },
  { tableName: 'list_memberships', keyColumns: ['list_id', 'contact_id'], primaryKey: ['list_id', 'contact_id'], removal: 'hard', perContact: true, countsName: 'listMemberships' },
  { tableName: 'account_contacts', keyColumns: ['account_id', 'contact_id'], primaryKey: ['account_id', 'contact_id'], removal: 'hard', perContact: true, countsName: 'accountLinks' },
  { tableName: 'deal_contacts', keyColumns: ['deal_id', 'contact_id'], primaryKey: ['deal_id', 'contact_id'], removal: 'hard', perContact: true, countsName: 'dealContacts' },
  { tableName: 'contact_tags', keyColumns: ['tag_id', 'contact_id'], primaryKey: ['contact_id', 'tag_id'], removal: 'hard', perContact: true, countsName: 'contactTags' },
];

export const associationTables = rolledBackTables.filter((t) => t.perContact && t.removal === 'hard');
export const contactsTable = rolledBackTables.find((t) => t.tableName === 'contacts') as RolledBackTable;
export const parentTables = rolledBackTables.filter((t) => !t.perContact);
export const dealsTable = rolledBackTables.find((t) => t.tableName === 'deals') as RolledBackTable;

/** `live` (an alias of the table) is the row that `rowKey` names by its history key. */
export function keyMatches(table: RolledBackTable, rowKey = 'rt.row_key'): RawBuilder<unknown> {
  const key = sql.ref(rowKey);
  const parts = table.keyColumns.map((column, i) =>
    table.keyColumns.length === 1 ? sql`live.${sql.ref(column)} = ${key}` : sql`live.${sql.ref(column)} = split_part(${key}, ':', ${i + 1})`,
  );
  return sql.join(parts, sql` AND `);
}

/**
 * The contact image (a jsonb expression such as `rt.image`) is active or archived: such
 * a contact holds its email, which no other contact may then hold.
 */
export const holdsEmail = (image: string): RawBuilder<unknown> => sql.raw(`(${image}->>'status') IN ('active', 'archived')`);

const columnsByTable = new Map<string, string[]>();

/** The table's columns in order, read once from the catalog so images follow migrations. */
export async function columnsOf(tx: Tx, table: RolledBackTable): Promise<string[]> {
  const known = columnsByTable.get(table.tableName);
  if (known) return known;
  const { rows } = await sql<{ column_name: string }>`
    SELECT column_name FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = ${table.tableName} ORDER BY ordinal_position`.execute(tx);
  const columns = rows.map((r) => r.column_name);
  columnsByTable.set(table.tableName, columns);
  return columns;
}
