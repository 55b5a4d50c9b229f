/**
 * Recycle-bin search through HTTP (issue 15 point 5): a workspace with `deleted` contacts
 * in its bin, made through the public API (one bulk import, then the undo of that import,
 * which sends every contact it created to the bin), then GET /deleted-contacts searched
 * the ways a user does: an email prefix, a name, a range of deletion dates, each a first
 * page and the page after it (by its cursor). Reports p50 and p95 of each. Goal: p95 ≤ 50 ms
 * on the server at 1,000,000 deleted contacts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { importThroughApi, writeCsv } from './imports.js';
import { ApiClient, pollUntil, startServer, type RunningServer } from './server.js';
import { percentile } from './timing.js';

export interface SearchFigures {
  engine: 'server' | 'pglite';
  deleted: number;
  /** How long the bin took to fill: the import, then its undo. */
  fillMs: number;
  searches: number;
  /** Per kind of search: milliseconds at the 50th and 95th percentile, first and next pages together. */
  kinds: Record<'emailPrefix' | 'name' | 'deletedRange', { p50: number; p95: number; requests: number }>;
}

export interface FilledBin {
  admin: ApiClient;
  workspaceId: string;
  /** When the undo sent them to the bin: from its request to its end. */
  deletedFrom: Date;
  deletedTo: Date;
  fillMs: number;
}

/**
 * A workspace whose bin holds `rows` contacts (emails person<i>@import-bench.example,
 * names First<i> Last <i mod 997>), put there as a user would: POST /imports of a CSV of
 * them, then POST /undos of that import.
 */
export async function fillBinThroughApi(server: RunningServer, rows: number, dir: string, name: string): Promise<FilledBin> {
  const started = process.hrtime.bigint();
  const operator = new ApiClient(server.base, server.operatorToken);
  const created = await operator.post<{ workspace: { id: string }; token: string }>('/workspaces', {
    name,
    adminEmail: `admin@${name}.example`,
    activeContactLimit: rows * 2,
  });
  const admin = new ApiClient(server.base, created.token);
  const lists = [await admin.post<{ id: string }>('/lists', { name: 'Newsletter' }), await admin.post<{ id: string }>('/lists', { name: 'Offers' })];
  const file = path.join(dir, `${name}.csv`);
  await writeCsv(file, rows);
  const imported = await importThroughApi(server, admin, lists, file, rows);
  const deletedFrom = new Date();
  const queued = await admin.post<{ id: string }>('/undos', { cause: { importId: imported.id } });
  const undo = await pollUntil(
    () => admin.get<{ status: string; error?: string }>(`/undos/${queued.id}`),
    (u) => u.status === 'succeeded' || u.status === 'failed',
    100,
  );
  if (undo.status !== 'succeeded') throw new Error(`the undo of the import ended ${undo.status}: ${undo.error ?? ''}`);
  const deletedTo = new Date();
  const bin = await admin.get<{ total: number }>('/deleted-contacts/count');
  if (bin.total !== rows) throw new Error(`the bin holds ${bin.total} contacts, not ${rows}`);
  return { admin, workspaceId: created.workspace.id, deletedFrom, deletedTo, fillMs: Number(process.hrtime.bigint() - started) / 1e6 };
}

/** One search: its first page, then the page after it when there is one; the time of each request. */
async function searchPaged(admin: ApiClient, query: URLSearchParams): Promise<number[]> {
  const times: number[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 2; page += 1) {
    if (cursor) query.set('cursor', cursor);
    const start = process.hrtime.bigint();
    const result: { data: unknown[]; nextCursor: string | null } = await admin.get(`/deleted-contacts?${query}`);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return times;
}

/** On a server of its own, or on `shared` (a smoke run's). */
export async function benchSearch(engine: 'server' | 'pglite', deleted: number, searches: number, shared?: RunningServer): Promise<SearchFigures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retrace-search-bench-'));
  const server = shared ?? (await startServer(engine, 'search', { RETRACE_IMPORT_DIR: path.join(dir, 'store') }));
  try {
    const bin = await fillBinThroughApi(server, deleted, dir, 'search-bench');
    // A fixed sequence of picks, so that runs are alike.
    let seed = 42;
    const pick = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const span = bin.deletedTo.getTime() - bin.deletedFrom.getTime();
    const kinds = {
      // person<i>@…: the first digits of a contact's number, as typed so far
      emailPrefix: () => new URLSearchParams({ q: `person${String(pick(deleted)).slice(0, 4)}`, limit: '50' }),
      name: () => new URLSearchParams({ q: `First${pick(deleted)}`, limit: '50' }),
      // a tenth of the time over which the contacts were deleted
      deletedRange: () => {
        const from = bin.deletedFrom.getTime() + pick(Math.max(1, Math.floor(span * 0.9)));
        return new URLSearchParams({ deletedFrom: new Date(from).toISOString(), deletedTo: new Date(from + span / 10).toISOString(), limit: '50' });
      },
    };
    const figures = {} as SearchFigures['kinds'];
    for (const [kind, query] of Object.entries(kinds) as [keyof typeof kinds, () => URLSearchParams][]) {
      const times: number[] = [];
      for (let i = 0; i < searches; i += 1) times.push(...(await searchPaged(bin.admin, query())));
      figures[kind] = { p50: percentile(times, 50), p95: percentile(times, 95), requests: times.length };
    }
    return { engine, deleted, fillMs: bin.fillMs, searches, kinds: figures };
  } finally {
    if (!shared) await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
