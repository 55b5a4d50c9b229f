import type { Db } from '../db/database.js';
import { csvLines } from './csv.js';
import { countExported, exportFieldNames, exportPage, type ExportedContact, type ExportFilter } from '../contacts/service.js';

export type { ExportFilter } from '../contacts/service.js';

/** Contacts read per statement while exporting. */
const exportPageSize = 2000;

/** The columns before the custom fields, in the header row's order. */
const fixedColumns = ['id', 'email', 'firstName', 'lastName', 'phone', 'status', 'createdAt', 'updatedAt', 'tags'] as const;

/** A custom field as a cell: text as it is, any other JSON value as its JSON text. */
const fieldCell = (value: unknown) => (value === undefined || value === null ? null : typeof value === 'string' ? value : JSON.stringify(value));

function cellsOf(c: ExportedContact, fieldNames: string[]): (string | null)[] {
  return [
    c.id,
    c.email,
    c.first_name,
    c.last_name,
    c.phone,
    c.status,
    c.created_at.toISOString(),
    c.updated_at.toISOString(),
    c.tag_names,
    ...fieldNames.map((name) => fieldCell(c.fields[name])),
  ];
}

/**
 * GET /contacts/export: the contacts GET /contacts would list (same `status` and `q`, same
 * order, newest first) as CSV, header row first: the contact's columns, its tags by name
 * (`;` between them, as an import reads them), then one `fields.<name>` column per custom
 * field any of them has. Read a page at a time down the keyset, so memory stays flat
 * however many there are; `onPage` hears how many rows each page wrote.
 */
export async function exportContactsCsv(db: Db, workspaceId: string, filter: ExportFilter, onPage?: (rows: number) => void): Promise<AsyncIterable<string>> {
  const fieldNames = await exportFieldNames(db, workspaceId, filter);
  return (async function* () {
    yield csvLines([[...fixedColumns, ...fieldNames.map((name) => `fields.${name}`)]]);
    let after: [string, string] | null = null;
    for (;;) {
      const page = await exportPage(db, workspaceId, filter, after, exportPageSize);
      if (page.length > 0) {
        yield csvLines(page.map((c) => cellsOf(c, fieldNames)));
        onPage?.(page.length);
      }
      if (page.length < exportPageSize) return;
      const last = page[page.length - 1];
      after = [last.created_key, last.id];
    }
  })();
}

/** How many contacts an export with this filter writes (the CLI's progress bar). */
export const countContactsToExport = countExported;
