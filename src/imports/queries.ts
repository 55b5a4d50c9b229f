/**
 * The SQL of imports, set-based: each statement takes a whole batch as arrays
 * (`unnest`), so a batch of thousands of rows is a handful of statements. Every one finds
 * rows by key (a primary key, or the email index), the batch driving and the large table
 * joined by its key only (db/keys.ts, issue 15), so it needs no planner statistics.
 *
 * An import writes contacts and their lists, tags and accounts in bulk by those features'
 * set-based functions (contacts/bulk.ts, lists', tags' and accounts' services); what is
 * here is the import's own: its noted emails and its bad rows.
 */
import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import type { BadRow } from './rows.js';
import { partOutcome, type PartOutcome } from './payloads.js';

/**
 * Notes each email (lower case) as the import's, with its line, and answers the emails
 * an earlier batch noted already, with their lines: those noted by another line. (On one
 * server the statement's snapshot does not see its own inserts; Citus runs the insert
 * first, and the lookup then finds each new email under its own line.) Each email is looked
 * up by the primary key (a LATERAL … LIMIT 1 the planner cannot turn into a scan of the
 * import's emails, which it would think one row without statistics).
 */
export async function claimEmails(tx: Tx, workspaceId: string, importId: string, emails: string[], lines: number[]): Promise<Map<string, number>> {
  if (emails.length === 0) return new Map();
  const { rows } = await sql<{ email: string; line: number }>`
    WITH given AS (SELECT * FROM unnest(${emails}::text[], ${lines}::int[]) AS g(email, line)),
    noted AS (
      INSERT INTO import_emails (workspace_id, import_id, email, line)
      SELECT ${workspaceId}, ${importId}, g.email, g.line FROM given g
      ON CONFLICT DO NOTHING)
    SELECT g.email, e.line FROM given g
    CROSS JOIN LATERAL (
      SELECT e.line FROM import_emails e
      WHERE e.workspace_id = ${workspaceId} AND e.import_id = ${importId} AND e.email = g.email LIMIT 1) e
    WHERE e.line <> g.line`.execute(tx);
  return new Map(rows.map((r) => [r.email, r.line]));
}

/**
 * Removes up to `limit` of the import's noted emails; answers how many went. The first
 * `limit` emails down the primary key end at the greatest of them, and the rows up to it
 * are removed as one range of that key, so neither half can become a scan of the table.
 * (Not `email = ANY(those emails)`: the planner checked that array against every row of
 * the import, 50,000 × 50,000 comparisons a step; not by physical address, which Citus
 * refuses.)
 */
export async function forgetEmails(tx: Tx, workspaceId: string, importId: string, limit: number): Promise<number> {
  const result = await sql`
    DELETE FROM import_emails
    WHERE workspace_id = ${workspaceId} AND import_id = ${importId} AND email <= (
      SELECT max(email) FROM (
        SELECT email FROM import_emails WHERE workspace_id = ${workspaceId} AND import_id = ${importId} ORDER BY email LIMIT ${limit}) AS first)`.execute(tx);
  return Number(result.numAffectedRows ?? 0);
}

export async function insertErrors(tx: Tx, workspaceId: string, importId: string, bad: BadRow[]): Promise<void> {
  if (bad.length === 0) return;
  await sql`
    INSERT INTO import_errors (workspace_id, import_id, line, reason, message)
    SELECT ${workspaceId}, ${importId}, e.line, e.reason, e.message
    FROM unnest(${bad.map((b) => b.line)}::int[], ${bad.map((b) => b.reason)}::text[], ${bad.map((b) => b.message)}::text[]) AS e(line, reason, message)
    ON CONFLICT DO NOTHING`.execute(tx);
}

/** The import's bad rows after line `afterLine`, in line order. */
export async function errorsPage(db: Db, workspaceId: string, importId: string, afterLine: number, limit: number): Promise<BadRow[]> {
  const { rows } = await sql<BadRow>`
    SELECT line, reason, message FROM import_errors
    WHERE workspace_id = ${workspaceId} AND import_id = ${importId} AND line > ${afterLine}
    ORDER BY line LIMIT ${limit}`.execute(db);
  return rows;
}

/** What a part of a batch did, as it noted it (import_batch_parts). */
export interface PartNote {
  part: number;
  /** The parts its batch was cut into, kept with the note for whoever reads the table: the step takes the cut from the import's params. */
  parts: number;
  outcome: PartOutcome;
}

/**
 * Holds the part of the batch at `batchOffset` for this transaction (another transaction
 * loading the same part waits here until this one ends), and answers whether it is noted
 * as loaded already.
 */
export async function holdPart(tx: Tx, workspaceId: string, importId: string, batchOffset: number, part: number): Promise<boolean> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${workspaceId}:${importId}:${batchOffset}:${part}`}, 0))`.execute(tx);
  const noted = await tx
    .selectFrom('import_batch_parts')
    .select('part')
    .where('workspace_id', '=', workspaceId)
    .where('import_id', '=', importId)
    .where('batch_offset', '=', batchOffset)
    .where('part', '=', part)
    .executeTakeFirst();
  return noted !== undefined;
}

/** Notes what a part of the batch at `batchOffset` loaded, in the part's transaction. */
export async function notePart(tx: Tx, workspaceId: string, importId: string, batchOffset: number, note: PartNote): Promise<void> {
  await tx
    .insertInto('import_batch_parts')
    .values({ workspace_id: workspaceId, import_id: importId, batch_offset: batchOffset, part: note.part, parts: note.parts, outcome: JSON.stringify(note.outcome) })
    .execute();
}

/** The parts of the batch at `batchOffset` noted as loaded, by part. */
export async function notedParts(tx: Tx, workspaceId: string, importId: string, batchOffset: number): Promise<PartNote[]> {
  const rows = await tx
    .selectFrom('import_batch_parts')
    .select(['part', 'parts', 'outcome'])
    .where('workspace_id', '=', workspaceId)
    .where('import_id', '=', importId)
    .where('batch_offset', '=', batchOffset)
    .orderBy('part')
    .execute();
  return rows.map((r) => ({ part: r.part, parts: r.parts, outcome: partOutcome.parse(r.outcome) }));
}

/** Removes the notes of the batch at `batchOffset`, or of every batch of the import. */
export async function forgetParts(tx: Tx, workspaceId: string, importId: string, batchOffset?: number): Promise<void> {
  let notes = tx.deleteFrom('import_batch_parts').where('workspace_id', '=', workspaceId).where('import_id', '=', importId);
  if (batchOffset !== undefined) notes = notes.where('batch_offset', '=', batchOffset);
  await notes.execute();
}
