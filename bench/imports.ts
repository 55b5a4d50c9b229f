/**
 * CSV imports end to end (issue 17): a server started as `npm start` starts it, a
 * workspace and its lists made through the API, then one CSV of N contacts uploaded to
 * POST /imports (multipart, streamed from disk) and GET /imports/:id polled until the job
 * ends. Each row has an email, a first and last name, a status on two lists (the second
 * one's cell empty a fifth of the time: not a member) and two tags by name, of 20 the
 * import makes: the "100,000 contacts with lists and tags".
 *
 * `imports` reports rows per second from the request to the job's end, and of the job
 * alone. `importsMillion` imports a file of 1,000,000 such rows into the server and
 * reports the server process's peak memory beside the file's size: the file is streamed
 * to the import store and read back a batch at a time, never held whole.
 */
import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { ApiClient, pollUntil, startServer, type RunningServer } from './server.js';
import { perSecond } from './timing.js';

export interface ImportFigures {
  engine: 'server' | 'pglite';
  rows: number;
  fileBytes: number;
  /** From the first byte of the request to its 202 (the file stored, the job committed). */
  uploadMs: number;
  /** From the 202 to the job's end, as a client polling it sees it. */
  jobMs: number;
  totalMs: number;
  rate: number;
  jobRate: number;
  created: number;
  failed: number;
  /** The server process's peak resident memory (VmHWM), when it can be read. */
  serverPeakMiB: number | null;
}

interface FinishedImport {
  id: string;
  status: string;
  rows: number;
  created: number;
  failed: number;
}

/** Writes the benchmark's CSV of `rows` contacts to `file`, streamed. */
export async function writeCsv(file: string, rows: number): Promise<void> {
  const statuses = ['subscribed', 'unsubscribed', 'bounced', 'unconfirmed', ''];
  await writeLines(file, 'Email,First name,Last name,Newsletter,Offers,Tags', rows, (i) =>
    [`person${i}@import-bench.example`, `First${i}`, `Last ${i % 997}`, statuses[i % 4], statuses[(i + 2) % 5], `Tag ${i % 20};Tag ${(i + 7) % 20}`].join(','),
  );
}

/** Writes a CSV file of `header` and `rows` lines made by `line(i)`, streamed. */
export async function writeLines(file: string, header: string, rows: number, line: (i: number) => string): Promise<void> {
  const out = createWriteStream(file);
  out.write(`${header}\n`);
  for (let i = 0; i < rows; i += 1) {
    if (!out.write(`${line(i)}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function peakMemoryMiB(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
  const kib = status?.match(/^VmHWM:\s+(\d+) kB/m)?.[1];
  return kib ? Math.round(Number(kib) / 1024) : null;
}

/**
 * Uploads `file` (written by writeCsv) to POST /imports as a browser sends a file and polls
 * the import until it ends; it must end succeeded with every row created.
 */
export async function importThroughApi(server: RunningServer, admin: ApiClient, lists: { id: string }[], file: string, rows: number): Promise<{ id: string; uploadMs: number; totalMs: number }> {
  const columns = { Email: 'email', 'First name': 'firstName', 'Last name': 'lastName', Newsletter: `list:${lists[0].id}`, Offers: `list:${lists[1].id}`, Tags: 'tag' };
  return importFile(server, admin, file, rows, columns);
}

/** Uploads `file` with the column mapping `columns` (mode create) and polls the import until it ends, every row created. */
export async function importFile(server: RunningServer, admin: ApiClient, file: string, rows: number, columns: Record<string, string>): Promise<{ id: string; uploadMs: number; totalMs: number }> {
  const mapping = { mode: 'create', columns };
  const form = new FormData();
  form.append('mapping', JSON.stringify(mapping));
  // A Blob backed by the file: fetch streams it, as a browser does.
  form.append('file', await openAsBlob(file, { type: 'text/csv' }), 'contacts.csv');
  const start = process.hrtime.bigint();
  const response = await fetch(`${server.base}/imports`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}` }, body: form });
  const queued = (await response.json()) as { id: string };
  if (response.status !== 202) throw new Error(`POST /imports answered ${response.status}: ${JSON.stringify(queued)}`);
  const uploadMs = Number(process.hrtime.bigint() - start) / 1e6;
  const done = await pollUntil(
    () => admin.get<FinishedImport>(`/imports/${queued.id}`),
    (i) => i.status === 'succeeded' || i.status === 'failed',
    200,
  );
  const totalMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (done.status !== 'succeeded' || done.created !== rows) throw new Error(`the import ended ${done.status}: ${JSON.stringify(done)}`);
  return { id: queued.id, uploadMs, totalMs };
}

/** Runs one import of `rows` rows on a server of `engine`, start to finish. */
export async function benchImport(engine: 'server' | 'pglite', rows: number, name = 'imports'): Promise<ImportFigures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retrace-import-bench-'));
  const server: RunningServer = await startServer(engine, name, { RETRACE_IMPORT_DIR: path.join(dir, 'store') });
  try {
    const operator = new ApiClient(server.base, server.operatorToken);
    const created = await operator.post<{ token: string }>('/workspaces', { name: 'Import bench', adminEmail: 'admin@import-bench.example' });
    const admin = new ApiClient(server.base, created.token);
    const lists = [await admin.post<{ id: string }>('/lists', { name: 'Newsletter' }), await admin.post<{ id: string }>('/lists', { name: 'Offers' })];
    const file = path.join(dir, 'contacts.csv');
    await writeCsv(file, rows);
    const fileBytes = (await stat(file)).size;
    const { uploadMs, totalMs } = await importThroughApi(server, admin, lists, file, rows);
    const serverPeakMiB = await peakMemoryMiB(server.pid);
    return {
      engine,
      rows,
      fileBytes,
      uploadMs,
      jobMs: totalMs - uploadMs,
      totalMs,
      rate: perSecond(rows, totalMs),
      jobRate: perSecond(rows, totalMs - uploadMs),
      created: rows,
      failed: 0,
      serverPeakMiB,
    };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The ids of the workspace's active contacts, from GET /contacts/export (id is its first column). */
export async function activeContactIds(admin: ApiClient): Promise<string[]> {
  const response = await fetch(`${admin.base}/contacts/export`, { headers: { authorization: `Bearer ${admin.token}` } });
  if (!response.ok) throw new Error(`GET /contacts/export answered ${response.status}`);
  const lines = (await response.text()).split('\n').slice(1).filter((line) => line.length > 0);
  return lines.map((line) => line.slice(0, line.indexOf(',')));
}
