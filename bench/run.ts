/**
 * The benchmarks: `npm run bench` runs them all, `npm run bench -- restore` or
 * `-- history` one (also `rollback`, `imports`, `importsMillion`, `undo`, `e2e`, `pgdump`,
 * `search`, `load`, `storage`). Each runs on the PostgreSQL server (a fresh database,
 * created and dropped here; BENCH_DATABASE_URL to use a given one) and then on PGlite,
 * where the benchmark supports it. Figures are comparable as ratios within one run;
 * BENCHMARKS.md keeps the latest, docs/benchmark-log.md each run with its machine.
 *
 * `--smoke` runs every benchmark at a few hundred contacts (npm test runs it, so that the
 * benchmarks cannot rot): its figures prove only that the benchmark works. BENCH_ENGINES
 * (server,pglite) picks the engines; BENCH_FIGURES=<file> writes every figure there as JSON.
 *
 * BENCH_CONTACTS (100000) and BENCH_PGLITE_CONTACTS (20000; 0 skips PGlite) set the
 * sizes, BENCH_ROUNDS (5) the runs of each history variant. The rollback benchmark has
 * its own sizes: BENCH_ROLLBACK_CONTACTS (1000000) and BENCH_PGLITE_ROLLBACK_CONTACTS
 * (50000). The import benchmark: BENCH_IMPORT_ROWS and BENCH_PGLITE_IMPORT_ROWS (100000
 * each), BENCH_IMPORT_MILLION_ROWS (1000000, server only). The undo benchmark: BENCH_UNDO_ROWS
 * (100000) and BENCH_PGLITE_UNDO_ROWS (20000). The others are listed in BENCHMARKS.md.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeMachine } from './machine.js';
import { pgliteDatabase, serverDatabase, type BenchDatabase } from './databases.js';
import { benchRestore, type RestoreFigures } from './restore.js';
import { benchHistory, type HistoryFigures } from './history.js';
import { benchRollback, type RollbackFigures } from './rollback.js';
import { benchImport, type ImportFigures } from './imports.js';
import { benchUndo, type UndoFigures } from './undo.js';
import { benchE2E, type E2EFigures } from './e2e.js';
import { benchPeerRestore, type PeerFigures } from './peer.js';
import { benchSearch, type SearchFigures } from './search.js';
import { benchLoad, fullLoad, type LoadFigures } from './load.js';
import { benchStorage, type StorageFigures } from './storage.js';
import { startServer, type RunningServer } from './server.js';
import { formatMs } from './timing.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const requested = args.filter((a) => a !== '--smoke');

const sizeFrom = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number`);
  return value;
};

type EngineName = 'server' | 'pglite';

/** A size: BENCH_<NAME> on the server, BENCH_PGLITE_<NAME> on PGlite (0 skips it), a few hundred in a smoke run. */
function size(engine: EngineName, name: string, server: number, pglite: number, smokeSize = 200): number {
  if (smoke) return smokeSize;
  return engine === 'server' ? sizeFrom(`BENCH_${name}`, server) : sizeFrom(`BENCH_PGLITE_${name}`, pglite);
}

const rounds = smoke ? 1 : Math.max(1, sizeFrom('BENCH_ROUNDS', 5));
const figures: { benchmark: string; engine: EngineName; figures: unknown }[] = [];

const benchmarks: Record<string, (engine: EngineName) => Promise<void>> = {
  async restore(engine) {
    const contacts = size(engine, 'CONTACTS', 100_000, 20_000);
    if (contacts > 0) report('restore', engine, await withDatabase(engine, 'restore', (bench) => benchRestore(bench, contacts)));
  },
  async history(engine) {
    const contacts = size(engine, 'CONTACTS', 100_000, 20_000);
    if (contacts > 0) report('history', engine, await withDatabase(engine, 'history', (bench) => benchHistory(bench, contacts, rounds)));
  },
  async imports(engine) {
    const rows = size(engine, 'IMPORT_ROWS', 100_000, 100_000);
    if (rows > 0) reportImport(engine, await benchImport(engine, rows));
  },
  async importsMillion(engine) {
    // The memory check needs the size, not two engines: the server only. The smoke run's
    // `imports` runs the same code.
    if (engine === 'server' && !smoke) reportImport(engine, await benchImport('server', sizeFrom('BENCH_IMPORT_MILLION_ROWS', 1_000_000), 'imports_million'), 'importsMillion');
  },
  async undo(engine) {
    const rows = size(engine, 'UNDO_ROWS', 100_000, 20_000);
    if (rows > 0) reportUndo(engine, await benchUndo(engine, rows));
  },
  async rollback(engine) {
    const contacts = size(engine, 'ROLLBACK_CONTACTS', 1_000_000, 50_000);
    if (contacts > 0) reportRollback(engine, await withDatabase(engine, 'rollback', (bench) => benchRollback(bench, contacts)));
  },
  async e2e(engine) {
    const contacts = size(engine, 'E2E_CONTACTS', 100_000, 100_000, 40);
    if (contacts > 0) reportE2E(engine, await benchE2E(engine, contacts, await smokeServer(engine)));
  },
  async pgdump(engine) {
    // pg_dump and pg_restore are the server's tools: the server only.
    const contacts = size(engine, 'PGDUMP_CONTACTS', 100_000, 0);
    if (engine === 'server' && contacts > 0) reportPeer(engine, await benchPeerRestore(contacts));
  },
  async search(engine) {
    const deleted = size(engine, 'SEARCH_DELETED', 1_000_000, 100_000, 500);
    if (deleted > 0) reportSearch(engine, await benchSearch(engine, deleted, smoke ? 3 : sizeFrom('BENCH_SEARCHES', 100), await smokeServer(engine)));
  },
  async load(engine) {
    // Its ceiling is a plain INSERT through the PostgreSQL server: the server only.
    if (engine !== 'server') return;
    const options = smoke
      ? { restoreContacts: 200, workspaces: 3, connections: 5, durationS: 2, writeDurationS: 1, seedContacts: 10 }
      : {
          restoreContacts: sizeFrom('BENCH_LOAD_RESTORE_CONTACTS', fullLoad.restoreContacts),
          workspaces: sizeFrom('BENCH_LOAD_WORKSPACES', fullLoad.workspaces),
          connections: sizeFrom('BENCH_LOAD_CONNECTIONS', fullLoad.connections),
          durationS: sizeFrom('BENCH_LOAD_SECONDS', fullLoad.durationS),
          writeDurationS: sizeFrom('BENCH_LOAD_WRITE_SECONDS', fullLoad.writeDurationS),
          seedContacts: fullLoad.seedContacts,
        };
    reportLoad(engine, await benchLoad(engine, options, await smokeServer(engine)));
  },
  async storage(engine) {
    const contacts = size(engine, 'STORAGE_CONTACTS', 100_000, 20_000);
    if (contacts > 0) reportStorage(engine, await withDatabase(engine, 'storage', (bench) => benchStorage(bench, contacts)));
  },
};

const engines: EngineName[] = (process.env.BENCH_ENGINES ?? 'server,pglite').split(',').map((e) => e.trim()).filter((e): e is EngineName => {
  if (e !== 'server' && e !== 'pglite') throw new Error(`BENCH_ENGINES lists server and pglite, not ${JSON.stringify(e)}`);
  return true;
});

/**
 * A migrated database for one benchmark: a fresh one each time, except in a smoke run,
 * where the benchmarks of one engine share one (each works in a workspace of its own), so
 * that the run is not spent migrating.
 */
const smokeDatabases = new Map<EngineName, Promise<BenchDatabase>>();
async function withDatabase<T>(engine: EngineName, name: string, fn: (bench: BenchDatabase) => Promise<T>): Promise<T> {
  if (smoke) {
    if (!smokeDatabases.has(engine)) smokeDatabases.set(engine, engine === 'server' ? serverDatabase('smoke') : pgliteDatabase());
    return fn(await (smokeDatabases.get(engine) as Promise<BenchDatabase>));
  }
  const bench = engine === 'server' ? await serverDatabase(name) : await pgliteDatabase();
  try {
    return await fn(bench);
  } finally {
    await bench.dispose();
  }
}

/**
 * In a smoke run, the server that the HTTP benchmarks of one engine share (e2e, search,
 * load: each works in workspaces of its own); in a real run none, each starts its own.
 */
const smokeServers = new Map<EngineName, { server: Promise<RunningServer>; dir: string }>();
async function smokeServer(engine: EngineName): Promise<RunningServer | undefined> {
  if (!smoke) return undefined;
  if (!smokeServers.has(engine)) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'retrace-smoke-'));
    smokeServers.set(engine, { server: startServer(engine, 'smoke', { RETRACE_IMPORT_DIR: path.join(dir, 'store') }), dir });
  }
  return (smokeServers.get(engine) as { server: Promise<RunningServer> }).server;
}

const load = () => `  load average after: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')} (1, 5, 15 min; ${os.cpus().length} cores)`;

function report(benchmark: string, engine: EngineName, result: RestoreFigures | HistoryFigures): void {
  figures.push({ benchmark, engine, figures: result });
  if ('restoreMs' in result) {
    const f = result;
    console.log(`\nrestore — ${f.engine}, ${f.size.contacts} deleted contacts, ${f.rows} rows back (${f.batches} batches)`);
    console.log(`  set-up: fill ${formatMs(f.fillMs)}, delete through the service ${formatMs(f.deleteMs)}`);
    console.log(`  restore job        ${formatMs(f.restoreMs).padStart(9)}  ${f.restoreRate} contacts/s`);
    console.log(`  INSERT … SELECT    ${formatMs(f.ceilingMs).padStart(9)}  ${f.ceilingRate} contacts/s (ceiling)`);
    console.log(`  restore / ceiling  ${(f.restoreRate / f.ceilingRate).toFixed(2)}`);
  } else {
    const f = result;
    const runs = (ms: number[]) => ms.map((m) => (m / 1000).toFixed(2)).join(', ');
    console.log(`\nhistory — ${f.engine}, UPDATE of ${f.contacts} contacts, median of ${f.rounds}`);
    console.log(`  every trigger      ${formatMs(f.capturedMedianMs).padStart(9)}  (${runs(f.capturedMs)})`);
    console.log(`  capture off        ${formatMs(f.captureOffMedianMs).padStart(9)}  (${runs(f.captureOffMs)})  the search index's trigger still on`);
    console.log(`  triggers off       ${formatMs(f.uncapturedMedianMs).padStart(9)}  (${runs(f.uncapturedMs)})`);
    console.log(`  capture overhead   ${f.ratio.toFixed(2)}×  (every trigger / capture off; ${f.allTriggersRatio.toFixed(2)}× against no trigger)`);
  }
  console.log(load());
}

function reportImport(engine: EngineName, f: ImportFigures, benchmark = 'imports'): void {
  figures.push({ benchmark, engine, figures: f });
  console.log(`\nimport — ${f.engine}, ${f.rows} contacts on 2 lists with 2 tags each, through POST /imports (${(f.fileBytes / 2 ** 20).toFixed(1)} MiB)`);
  console.log(`  upload (stored, job committed) ${formatMs(f.uploadMs).padStart(9)}`);
  console.log(`  job to its end                 ${formatMs(f.jobMs).padStart(9)}  ${f.jobRate} rows/s`);
  console.log(`  request to the end             ${formatMs(f.totalMs).padStart(9)}  ${f.rate} rows/s`);
  if (f.serverPeakMiB !== null) console.log(`  server peak memory (VmHWM)     ${String(f.serverPeakMiB).padStart(6)} MiB`);
  console.log(load());
}

function reportUndo(engine: EngineName, f: UndoFigures): void {
  figures.push({ benchmark: 'undo', engine, figures: f });
  console.log(`\nundo of an import — ${f.engine}, ${f.rows} contacts imported, ${f.edited} of them edited by another user afterwards`);
  console.log(`  import (request to end)  ${formatMs(f.importMs).padStart(9)}  ${f.importRate} rows/s`);
  console.log(`  edits (PATCH, 16 at once) ${formatMs(f.editMs).padStart(8)}`);
  console.log(`  undo preview             ${formatMs(f.previewMs).padStart(9)}`);
  console.log(`  undo (request to end)    ${formatMs(f.undoMs).padStart(9)}  ${f.binned} contacts to the bin, ${f.conflicts} conflicts kept`);
  console.log(load());
}

function reportRollback(engine: EngineName, f: RollbackFigures): void {
  figures.push({ benchmark: 'rollback', engine, figures: f });
  console.log(`\nrollback — ${f.engine}, full rollback of ${f.size.contacts + f.size.keepers} contacts, ${f.changedContacts} changed after the point`);
  console.log(`  set-up: fill ${formatMs(f.fillMs)}, bad import ${formatMs(f.changeMs)}`);
  console.log(`  preview            ${formatMs(f.previewMs).padStart(9)}`);
  console.log(`  rollback job       ${formatMs(f.rollbackMs).padStart(9)}  ${f.rowsWritten} rows written back in ${f.batches} steps`);
  console.log(load());
}

function reportE2E(engine: EngineName, f: E2EFigures): void {
  figures.push({ benchmark: 'e2e', engine, figures: f });
  console.log(`\nend to end — ${f.engine}, ${f.contacts} contacts (3 lists, 2 tags, an account each) made, deleted, restored and archived through the API`);
  console.log(`  fill (one CSV import)   ${formatMs(f.fillMs).padStart(9)}`);
  console.log(`  delete, 1,000 a request  ${formatMs(f.deleteMs).padStart(9)}  ${f.deleteRate} contacts/s`);
  console.log(`  restore request answered ${formatMs(f.requestMs).padStart(9)}`);
  console.log(`  restore, request to end  ${formatMs(f.totalMs).padStart(9)}  ${f.rate} contacts/s`);
  console.log(`  full rollback to before the restore (${f.rollback.removed} contacts back to the bin):`);
  console.log(`    preview                ${formatMs(f.rollback.previewMs).padStart(9)}`);
  console.log(`    approval to plan's end ${formatMs(f.rollback.planMs).padStart(9)}`);
  console.log(`    approval to job's end  ${formatMs(f.rollback.totalMs).padStart(9)}`);
  console.log(`  archive, 1,000 a request ${formatMs(f.archiveMs).padStart(9)}  ${f.archiveRate} contacts/s (another workspace filled the same way)`);
  console.log(load());
}

function reportPeer(engine: EngineName, f: PeerFigures): void {
  figures.push({ benchmark: 'pgdump', engine, figures: f });
  console.log(`\nrestore beside pg_dump/pg_restore — ${f.engine}, ${f.contacts} contacts, ${f.rows} rows back`);
  console.log(`  pg_dump -Fc (before)     ${formatMs(f.dumpMs).padStart(9)}  ${(f.dumpBytes / 2 ** 20).toFixed(1)} MiB`);
  console.log(`  Retrace's restore job    ${formatMs(f.retraceMs).padStart(9)}`);
  console.log(`  pg_restore to scratch    ${formatMs(f.pgRestoreMs).padStart(9)}`);
  console.log(`  SQL copy back            ${formatMs(f.copyBackMs).padStart(9)}`);
  console.log(`  peer / Retrace           ${f.ratio.toFixed(1)}×`);
  console.log(load());
}

function reportSearch(engine: EngineName, f: SearchFigures): void {
  figures.push({ benchmark: 'search', engine, figures: f });
  console.log(`\nrecycle-bin search — ${engine}, ${f.deleted} deleted contacts, ${f.searches} searches of each kind (first page and the next)`);
  console.log(`  bin filled (import, then its undo) ${formatMs(f.fillMs)}`);
  for (const [kind, k] of Object.entries(f.kinds)) console.log(`  ${kind.padEnd(13)} p50 ${k.p50.toFixed(1).padStart(7)} ms  p95 ${k.p95.toFixed(1).padStart(7)} ms  (${k.requests} requests)`);
  console.log(load());
}

function reportLoad(engine: EngineName, f: LoadFigures): void {
  figures.push({ benchmark: 'load', engine, figures: f });
  const m = f.mixed;
  console.log(`\nload — ${engine}, ${f.connections} connections, ${f.workspaces} workspaces, ${f.durationS} s of mixed reads and writes during a restore of ${f.restoreContacts}`);
  console.log(`  mixed                    ${m.requestsPerSecond} requests/s, p50 ${m.p50Ms} ms, p99 ${m.p99Ms} ms, ${m.errors} errors, ${m.non2xx} non-2xx, ${m.timeouts} timeouts`);
  console.log(`  the restore              ${formatMs(f.restore.ms)}, ${f.restore.restored} back, ${f.restore.endedDuringLoad ? 'ended during the load' : 'ended after it'}`);
  console.log(`  POST /contacts, one ws   ${f.writes.oneWorkspacePerSecond}/s`);
  console.log(`  POST /contacts, all ws   ${f.writes.allWorkspacesPerSecond}/s`);
  if (f.writes.plainInsertPerSecond !== null) console.log(`  plain INSERT (ceiling)   ${f.writes.plainInsertPerSecond}/s; one workspace / ceiling ${f.writes.oneWorkspaceVsCeiling}`);
  console.log(`  write errors             ${f.writes.errors}`);
  console.log(load());
}

function reportStorage(engine: EngineName, f: StorageFigures): void {
  figures.push({ benchmark: 'storage', engine, figures: f });
  console.log(`\nstorage — ${f.engine}, ${f.contacts} contacts each changed ${f.edits} times, outside the recovery window`);
  console.log(`  history per changed contact  ${f.perChangedContactBefore} B before compaction, ${f.perChangedContactAfter} B after`);
  console.log(`  of which contacts' versions  ${Math.round(f.contactVersionBytesBefore / f.contacts)} B before, ${Math.round(f.contactVersionBytesAfter / f.contacts)} B after (${f.perVersion} B a version)`);
  console.log(`  backup file                  ${f.backupBytesPer1000Contacts} B per 1,000 contacts (${(f.backupBytes / 2 ** 20).toFixed(2)} MiB)`);
  console.log(load());
}

const unknown = requested.filter((name) => !(name in benchmarks));
if (unknown.length > 0) {
  console.error(`Unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(benchmarks).join(', ')} (and --smoke)`);
  process.exit(2);
}
const names = requested.length > 0 ? requested : Object.keys(benchmarks);

const machine = await describeMachine();
console.log(`${machine.date} — ${machine.cores} cores, ${machine.ramGiB} GiB RAM, ${machine.cpu}, Node ${machine.node}, load ${machine.load}${smoke ? ' — smoke run: small sizes, figures not comparable' : ''}`);
try {
  for (const name of names) {
    for (const engine of engines) {
      const started = Date.now();
      await benchmarks[name](engine);
      if (smoke) console.log(`  (${name} on ${engine}: ${formatMs(Date.now() - started)})`);
    }
  }
} finally {
  if (smoke) console.log(`  (benchmarks done at ${formatMs(performance.now())} since the start)`);
  for (const bench of smokeDatabases.values()) await (await bench).dispose();
  for (const { server, dir } of smokeServers.values()) {
    await (await server).stop();
    await rm(dir, { recursive: true, force: true });
  }
}
if (smoke) console.log(`  (smoke run over at ${formatMs(performance.now())} since the start)`);
if (process.env.BENCH_FIGURES) await writeFile(process.env.BENCH_FIGURES, JSON.stringify({ machine, smoke, figures }, null, 2));
