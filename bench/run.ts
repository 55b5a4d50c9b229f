/**
 * The benchmarks: `npm run bench` runs them all, `npm run bench -- restore` or
 * `-- history` one (also `rollback`, `imports`, `importsMillion`, `undo`). Each runs on a fresh database on the PostgreSQL server (created and
 * dropped here; BENCH_DATABASE_URL to use a given one) and then on PGlite in memory
 * with fewer contacts. Figures are comparable as ratios within one run; BENCHMARKS.md
 * keeps a run's results with the machine it ran on.
 *
 * BENCH_CONTACTS (100000) and BENCH_PGLITE_CONTACTS (20000; 0 skips PGlite) set the
 * sizes, BENCH_ROUNDS (5) the runs of each history variant. The rollback benchmark has
 * its own sizes: BENCH_ROLLBACK_CONTACTS (1000000) and BENCH_PGLITE_ROLLBACK_CONTACTS
 * (50000). The import benchmark: BENCH_IMPORT_ROWS and BENCH_PGLITE_IMPORT_ROWS (100000
 * each), BENCH_IMPORT_MILLION_ROWS (1000000, server only). The undo benchmark: BENCH_UNDO_ROWS
 * (100000) and BENCH_PGLITE_UNDO_ROWS (20000).
 */
import os from 'node:os';
import { describeMachine } from './machine.js';
import { pgliteDatabase, serverDatabase, type BenchDatabase } from './databases.js';
import { benchRestore, type RestoreFigures } from './restore.js';
import { benchHistory, type HistoryFigures } from './history.js';
import { benchRollback, type RollbackFigures } from './rollback.js';
import { benchImport, type ImportFigures } from './imports.js';
import { benchUndo, type UndoFigures } from './undo.js';
import { formatMs } from './timing.js';

const benchmarks = {
  async restore(engine: Engine) {
    report(await withDatabase(engine, 'restore', (bench) => benchRestore(bench, engine.contacts)));
  },
  async history(engine: Engine) {
    report(await withDatabase(engine, 'history', (bench) => benchHistory(bench, engine.contacts, rounds)));
  },
  async imports(engine: Engine) {
    const rows = engine.name === 'server' ? sizeFrom('BENCH_IMPORT_ROWS', 100_000) : sizeFrom('BENCH_PGLITE_IMPORT_ROWS', 100_000);
    if (rows > 0) reportImport(await benchImport(engine.name, rows));
  },
  async importsMillion(engine: Engine) {
    // The memory check needs the size, not two engines: the server only.
    if (engine.name === 'server') reportImport(await benchImport('server', sizeFrom('BENCH_IMPORT_MILLION_ROWS', 1_000_000), 'imports_million'));
  },
  async undo(engine: Engine) {
    const rows = engine.name === 'server' ? sizeFrom('BENCH_UNDO_ROWS', 100_000) : sizeFrom('BENCH_PGLITE_UNDO_ROWS', 20_000);
    if (rows > 0) reportUndo(await benchUndo(engine.name, rows));
  },
  async rollback(engine: Engine) {
    const contacts = engine.name === 'server' ? sizeFrom('BENCH_ROLLBACK_CONTACTS', 1_000_000) : sizeFrom('BENCH_PGLITE_ROLLBACK_CONTACTS', 50_000);
    if (contacts > 0) reportRollback(await withDatabase(engine, 'rollback', (bench) => benchRollback(bench, contacts)));
  },
};

type BenchmarkName = keyof typeof benchmarks;

interface Engine {
  name: 'server' | 'pglite';
  contacts: number;
}

const sizeFrom = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number`);
  return value;
};

const rounds = Math.max(1, sizeFrom('BENCH_ROUNDS', 5));
const engines: Engine[] = [
  { name: 'server' as const, contacts: sizeFrom('BENCH_CONTACTS', 100_000) },
  { name: 'pglite' as const, contacts: sizeFrom('BENCH_PGLITE_CONTACTS', 20_000) },
].filter((e) => e.contacts > 0);

async function withDatabase<T>(engine: Engine, name: string, fn: (bench: BenchDatabase) => Promise<T>): Promise<T> {
  const bench = engine.name === 'server' ? await serverDatabase(name) : await pgliteDatabase();
  try {
    return await fn(bench);
  } finally {
    await bench.dispose();
  }
}

function report(figures: RestoreFigures | HistoryFigures): void {
  if ('restoreMs' in figures) {
    const f = figures;
    console.log(`\nrestore — ${f.engine}, ${f.size.contacts} deleted contacts, ${f.rows} rows back (${f.batches} batches)`);
    console.log(`  set-up: fill ${formatMs(f.fillMs)}, delete through the service ${formatMs(f.deleteMs)}`);
    console.log(`  restore job        ${formatMs(f.restoreMs).padStart(9)}  ${f.restoreRate} contacts/s`);
    console.log(`  INSERT … SELECT    ${formatMs(f.ceilingMs).padStart(9)}  ${f.ceilingRate} contacts/s (ceiling)`);
    console.log(`  restore / ceiling  ${(f.restoreRate / f.ceilingRate).toFixed(2)}`);
  } else {
    const f = figures;
    const runs = (ms: number[]) => ms.map((m) => (m / 1000).toFixed(2)).join(', ');
    console.log(`\nhistory — ${f.engine}, UPDATE of ${f.contacts} contacts, median of ${f.rounds}`);
    console.log(`  with capture       ${formatMs(f.capturedMedianMs).padStart(9)}  (${runs(f.capturedMs)})`);
    console.log(`  triggers off       ${formatMs(f.uncapturedMedianMs).padStart(9)}  (${runs(f.uncapturedMs)})`);
    console.log(`  capture overhead   ${f.ratio.toFixed(2)}×`);
  }
  console.log(`  load average after: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')} (1, 5, 15 min; ${os.cpus().length} cores)`);
}

function reportImport(f: ImportFigures): void {
  console.log(`\nimport — ${f.engine}, ${f.rows} contacts on 2 lists with 2 tags each, through POST /imports (${(f.fileBytes / 2 ** 20).toFixed(1)} MiB)`);
  console.log(`  upload (stored, job committed) ${formatMs(f.uploadMs).padStart(9)}`);
  console.log(`  job to its end                 ${formatMs(f.jobMs).padStart(9)}  ${f.jobRate} rows/s`);
  console.log(`  request to the end             ${formatMs(f.totalMs).padStart(9)}  ${f.rate} rows/s`);
  if (f.serverPeakMiB !== null) console.log(`  server peak memory (VmHWM)     ${String(f.serverPeakMiB).padStart(6)} MiB`);
  console.log(`  load average after: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')} (1, 5, 15 min; ${os.cpus().length} cores)`);
}

function reportUndo(f: UndoFigures): void {
  console.log(`\nundo of an import — ${f.engine}, ${f.rows} contacts imported, ${f.edited} of them edited by another user afterwards`);
  console.log(`  import (request to end)  ${formatMs(f.importMs).padStart(9)}  ${f.importRate} rows/s`);
  console.log(`  edits (PATCH, 16 at once) ${formatMs(f.editMs).padStart(8)}`);
  console.log(`  undo preview             ${formatMs(f.previewMs).padStart(9)}`);
  console.log(`  undo (request to end)    ${formatMs(f.undoMs).padStart(9)}  ${f.binned} contacts to the bin, ${f.conflicts} conflicts kept`);
  console.log(`  load average after: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')} (1, 5, 15 min; ${os.cpus().length} cores)`);
}

function reportRollback(f: RollbackFigures): void {
  console.log(`\nrollback — ${f.engine}, full rollback of ${f.size.contacts + f.size.keepers} contacts, ${f.changedContacts} changed after the point`);
  console.log(`  set-up: fill ${formatMs(f.fillMs)}, bad import ${formatMs(f.changeMs)}`);
  console.log(`  preview            ${formatMs(f.previewMs).padStart(9)}`);
  console.log(`  rollback job       ${formatMs(f.rollbackMs).padStart(9)}  ${f.rowsWritten} rows written back in ${f.batches} steps`);
  console.log(`  load average after: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')} (1, 5, 15 min; ${os.cpus().length} cores)`);
}

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in benchmarks));
if (unknown.length > 0) {
  console.error(`Unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(benchmarks).join(', ')}`);
  process.exit(2);
}
const names = (requested.length > 0 ? requested : Object.keys(benchmarks)) as BenchmarkName[];

const machine = await describeMachine();
console.log(`${machine.date} — ${machine.cores} cores, ${machine.ramGiB} GiB RAM, ${machine.cpu}, Node ${machine.node}, load ${machine.load}`);
for (const name of names) {
  for (const engine of engines) await benchmarks[name](engine);
}
