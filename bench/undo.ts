/**
 * Undo of an import, end to end (issue 17): a server started as `npm start` starts it, a
 * workspace with a contact limit, a CSV of N contacts with lists and tags imported through
 * POST /imports; then another user edits one contact in ten through PATCH /contacts/:id;
 * then the import is undone: POST /undos/preview, and POST /undos polled until it ends.
 *
 * The undo must end with the untouched 90% in the recycle bin and the edited 10% kept and
 * listed as conflicts (the default `keep_later`); the benchmark checks both and fails
 * otherwise. Goals on the server at 100,000 rows: preview ≤ 3 s, undo ≤ 15 s.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApiClient, inParallel, pollUntil, startServer } from './server.js';
import { activeContactIds, importThroughApi, writeCsv } from './imports.js';
import { perSecond, timed } from './timing.js';

export interface UndoFigures {
  engine: 'server' | 'pglite';
  rows: number;
  importMs: number;
  importRate: number;
  edited: number;
  editMs: number;
  previewMs: number;
  /** From POST /undos to the job's end, as a client polling GET /undos/:id sees it. */
  undoMs: number;
  binned: number;
  conflicts: number;
}

interface Undo {
  status: string;
  conflictCount: number;
  error: string | null;
}

export async function benchUndo(engine: 'server' | 'pglite', rows: number): Promise<UndoFigures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retrace-undo-bench-'));
  const server = await startServer(engine, 'undo', { RETRACE_IMPORT_DIR: path.join(dir, 'store') });
  try {
    const operator = new ApiClient(server.base, server.operatorToken);
    const created = await operator.post<{ token: string }>('/workspaces', { name: 'Undo bench', adminEmail: 'admin@undo-bench.example', activeContactLimit: rows * 2 });
    const admin = new ApiClient(server.base, created.token);
    const lists = [await admin.post<{ id: string }>('/lists', { name: 'Newsletter' }), await admin.post<{ id: string }>('/lists', { name: 'Offers' })];
    const file = path.join(dir, 'contacts.csv');
    await writeCsv(file, rows);
    const imported = await importThroughApi(server, admin, lists, file, rows);

    // Another user's ordinary work after the import: one contact in ten renamed.
    const colleague = new ApiClient(server.base, (await admin.post<{ token: string }>('/users', { email: 'colleague@undo-bench.example', role: 'manager' })).token);
    const ids = await activeContactIds(admin);
    if (ids.length !== rows) throw new Error(`the export listed ${ids.length} contacts, not ${rows}`);
    const edited = ids.filter((_, i) => i % 10 === 0);
    const edits = await timed(() => inParallel(edited, 16, async (id) => void (await colleague.patch(`/contacts/${id}`, { firstName: 'Edited later' }))));

    const cause = { importId: imported.id };
    const preview = await timed(() => admin.post<{ conflictCount: number }>('/undos/preview', { cause }));
    if (preview.value.conflictCount !== edited.length) throw new Error(`the preview found ${preview.value.conflictCount} conflicts, not ${edited.length}`);
    const undo = await timed(async () => {
      const queued = await admin.post<{ id: string }>('/undos', { cause });
      return pollUntil(() => admin.get<Undo>(`/undos/${queued.id}`), (u) => u.status === 'succeeded' || u.status === 'failed', 100);
    });
    if (undo.value.status !== 'succeeded') throw new Error(`the undo ended ${undo.value.status}: ${undo.value.error}`);
    const bin = await admin.get<{ total: number }>('/deleted-contacts/count');
    if (bin.total !== rows - edited.length || undo.value.conflictCount !== edited.length) {
      throw new Error(`the undo binned ${bin.total} contacts with ${undo.value.conflictCount} conflicts; expected ${rows - edited.length} and ${edited.length}`);
    }
    return {
      engine,
      rows,
      importMs: imported.totalMs,
      importRate: perSecond(rows, imported.totalMs),
      edited: edited.length,
      editMs: edits.ms,
      previewMs: preview.ms,
      undoMs: undo.ms,
      binned: bin.total,
      conflicts: undo.value.conflictCount,
    };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
