import { sql } from 'kysely';
import type { Db } from '../src/db/database.js';
import { inTransaction } from '../src/db/database.js';
import type { BenchDatabase } from './databases.js';
import { benchWorkspace, fillCrm, type BenchWorkspace } from './dataset.js';
import { median, timed } from './timing.js';

export interface HistoryFigures {
  engine: string;
  contacts: number;
  rounds: number;
  /** Every run of each, in milliseconds, and their medians. */
  capturedMs: number[];
  uncapturedMs: number[];
  capturedMedianMs: number;
  uncapturedMedianMs: number;
  ratio: number;
}

/**
 * Issue 6: what history capture adds to a bulk write. The same UPDATE of every contact
 * of a workspace, committed, with capture and with the triggers off for the transaction
 * (session_replication_role = replica: no user trigger fires), alternating which goes
 * first each round; the table is vacuumed before each run so neither inherits the
 * other's dead rows.
 */
export async function benchHistory(bench: BenchDatabase, contacts: number, rounds: number): Promise<HistoryFigures> {
  const { db } = bench.database;
  const ws = await benchWorkspace(db, 'History benchmark');
  await fillCrm(db, ws, { contacts, listsPerContact: 0, tagsPerContact: 0, contactsPerDeal: contacts });
  const captured: number[] = [];
  const uncaptured: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? [true, false] : [false, true];
    for (const capture of order) {
      await settle(bench);
      const { ms } = await timed(() => bulkUpdate(db, ws, capture));
      (capture ? captured : uncaptured).push(ms);
    }
  }
  const capturedMedianMs = median(captured);
  const uncapturedMedianMs = median(uncaptured);
  return {
    engine: bench.version,
    contacts,
    rounds,
    capturedMs: captured,
    uncapturedMs: uncaptured,
    capturedMedianMs,
    uncapturedMedianMs,
    ratio: capturedMedianMs / uncapturedMedianMs,
  };
}

async function bulkUpdate(db: Db, ws: BenchWorkspace, capture: boolean): Promise<void> {
  await inTransaction(db, ws.change(), async (tx) => {
    if (!capture) await sql`SET LOCAL session_replication_role = replica`.execute(tx);
    const { numAffectedRows } = await sql`
      UPDATE contacts SET first_name = first_name || 'x', updated_at = retrace_now() WHERE workspace_id = ${ws.id}`.execute(tx);
    if (numAffectedRows === undefined || numAffectedRows === 0n) throw new Error('the update changed nothing');
  });
}

/** Dead rows vacuumed and dirty pages written, so each run starts from the same state. */
async function settle(bench: BenchDatabase): Promise<void> {
  await sql`VACUUM contacts`.execute(bench.database.db);
  if (bench.database.engine === 'postgres') await sql`CHECKPOINT`.execute(bench.database.db);
}
