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
  captureOffMs: number[];
  uncapturedMs: number[];
  capturedMedianMs: number;
  captureOffMedianMs: number;
  uncapturedMedianMs: number;
  /** With capture against without it, every other trigger on in both: the goal's figure (≤ 1.5). */
  ratio: number;
  /** With every trigger against none. */
  allTriggersRatio: number;
}

/**
 * Issue 6: what history capture adds to a bulk write. The same UPDATE of every contact
 * of a workspace (a rename: every row's first name), committed, three ways: with every
 * trigger; with the history capture trigger alone off for the transaction (the search
 * index's trigger still runs: what the write costs without its history); and with no
 * trigger at all (session_replication_role = replica). The goal is on the first against
 * the second: before migration 093 there was no other trigger, and the figure compared
 * the first with the third. Which goes first rotates each round; the table is vacuumed
 * before each run so no run inherits another's dead rows. Each run renames one contact
 * before the bulk UPDATE, in the same transaction, as a server's connections have.
 */
export async function benchHistory(bench: BenchDatabase, contacts: number, rounds: number): Promise<HistoryFigures> {
  const { db } = bench.database;
  const ws = await benchWorkspace(db, 'History benchmark');
  await fillCrm(db, ws, { contacts, listsPerContact: 0, tagsPerContact: 0, contactsPerDeal: contacts });
  const runs: Record<Triggers, number[]> = { all: [], captureOff: [], none: [] };
  const ways: Triggers[] = ['all', 'captureOff', 'none'];
  for (let round = 0; round < rounds; round += 1) {
    for (let i = 0; i < ways.length; i += 1) {
      const way = ways[(round + i) % ways.length];
      await settle(bench);
      const { ms } = await timed(() => bulkUpdate(db, ws, way));
      runs[way].push(ms);
    }
  }
  const capturedMedianMs = median(runs.all);
  const captureOffMedianMs = median(runs.captureOff);
  const uncapturedMedianMs = median(runs.none);
  return {
    engine: bench.version,
    contacts,
    rounds,
    capturedMs: runs.all,
    captureOffMs: runs.captureOff,
    uncapturedMs: runs.none,
    capturedMedianMs,
    captureOffMedianMs,
    uncapturedMedianMs,
    ratio: capturedMedianMs / captureOffMedianMs,
    allTriggersRatio: capturedMedianMs / uncapturedMedianMs,
  };
}

/** Which triggers a run's UPDATE fires: every one, all but the history capture, none. */
type Triggers = 'all' | 'captureOff' | 'none';

async function bulkUpdate(db: Db, ws: BenchWorkspace, triggers: Triggers): Promise<void> {
  await inTransaction(db, ws.change(), async (tx) => {
    if (triggers === 'none') await sql`SET LOCAL session_replication_role = replica`.execute(tx);
    // Off for this transaction only: DDL is transactional, and it is on again before the commit.
    if (triggers === 'captureOff') await sql`ALTER TABLE contacts DISABLE TRIGGER contacts_history_update`.execute(tx);
    // One contact first, as a server's pooled connections have run single edits before a
    // bulk one: a trigger's static query keeps the plan of its first run in a session (a
    // nested loop for one row), which made 112's search trigger quadratic (migration 114).
    await sql`
      UPDATE contacts SET first_name = first_name || 'x', updated_at = retrace_now()
      WHERE workspace_id = ${ws.id} AND id = (SELECT id FROM contacts WHERE workspace_id = ${ws.id} ORDER BY id LIMIT 1)`.execute(tx);
    const { numAffectedRows } = await sql`
      UPDATE contacts SET first_name = first_name || 'x', updated_at = retrace_now() WHERE workspace_id = ${ws.id}`.execute(tx);
    if (numAffectedRows === undefined || numAffectedRows === 0n) throw new Error('the update changed nothing');
    if (triggers === 'captureOff') await sql`ALTER TABLE contacts ENABLE TRIGGER contacts_history_update`.execute(tx);
  });
}

/** Dead rows vacuumed and dirty pages written, so each run starts from the same state. */
async function settle(bench: BenchDatabase): Promise<void> {
  await sql`VACUUM contacts`.execute(bench.database.db);
  if (bench.database.engine === 'postgres') await sql`CHECKPOINT`.execute(bench.database.db);
}
