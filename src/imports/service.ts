import type { z } from 'zod';
import type { AppContext } from '../context.js';
import type { Config } from '../config.js';
import type { ChangeContext, Database, Db } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { AppError, invalidRequest, notFound } from '../http/errors.js';
import { decodeCursor, encodeCursor, type Page } from '../http/pagination.js';
import { notify } from '../notifications/service.js';
import { recordAudit } from '../audit/service.js';
import { DirectoryStore, type FileStore } from '../backups/store.js';
import { findJob, holdRunningJob, insertJob, listJobs, type Job, type JobHandler } from '../jobs/service.js';
import { csvLines, headerOf, readCsvBatch, type CsvBatch, type CsvHeader, type CsvPosition } from './csv.js';
import { mappedListIds, planColumns, type ColumnPlan, type ImportMapping } from './mapping.js';
import { contactRoom, loadRows, partsByEmail, readBatch, type ImportCounts, type ReadBatch } from './load.js';
import { errorsPage, forgetEmails, forgetParts, holdPart, notedParts, notePart } from './queries.js';
import { lockLiveLists } from '../lists/service.js';
import type { BadRow } from './rows.js';
import { readJobPayload } from '../jobs/payload.js';
import { importParams, importProgress, type ImportCut, type ImportParams, type ImportProgress, type PartOutcome } from './payloads.js';
import type { importSchema } from './routes.js';

/**
 * Rows read and written per batch: each batch is one transaction with its checkpoint. On
 * PGlite a batch holds the one connection every request waits for, so it is smaller there.
 */
export const importBatchSize: Record<Database['engine'], number> = { postgres: 5000, pglite: 1000 };
/** The job lane imports queue in, beside (not behind) restores and rollbacks. */
export const importLane = 'imports';
const importKind = 'import';

/** An import as its job knows it. */
export interface ImportRef {
  workspaceId: string;
  id: string;
  createdBy: string | null;
  /** The API token the import was uploaded through (its writes record it too). */
  tokenId?: string | null;
}

/**
 * The change context of everything an import writes: its uploader as actor, origin
 * `import`. The one place it is made, so that what names an import's writes (its cause)
 * is added here once.
 */
export function importChange(ref: ImportRef, at: Date): ChangeContext {
  // The import is the cause of what it writes, so that it can be undone exactly (issue 17).
  return { workspaceId: ref.workspaceId, actorId: ref.createdBy, tokenId: ref.tokenId ?? null, origin: 'import', at, cause: { kind: 'import', id: ref.id } };
}

/** The import store: uploaded files, kept from the upload until their import ends. */
export const importStore = (config: Pick<Config, 'importDir'>): FileStore => new DirectoryStore(config.importDir);

/** GET /imports/:id: API.md's fields, then what the server adds (routes.ts importSchema). */
export type ImportView = z.output<typeof importSchema>;

function presentImport(job: Job): ImportView {
  const params = readJobPayload(importParams, job, 'params');
  const progress = readJobPayload(importProgress, job, 'progress');
  return {
    id: job.id,
    status: job.status,
    rows: progress.rows,
    created: progress.created,
    updated: progress.updated,
    failed: progress.failed,
    createdBy: job.createdBy,
    createdAt: job.createdAt.toISOString(),
    finishedAt: job.finishedAt?.toISOString() ?? null,
    mode: params.mapping.mode,
    fileName: params.originalName,
    byteSize: params.byteSize,
    bytesRead: progress.phase === 'finishing' || job.status === 'succeeded' ? params.byteSize : progress.offset,
    columns: params.mapping.columns,
    tagsCreated: progress.tagsCreated,
    accountsCreated: progress.accountsCreated,
    startedAt: job.startedAt?.toISOString() ?? null,
    ...(job.error ? { error: job.error } : {}),
  };
}

/** A file written to the import store, with its header row. */
export interface StoredUpload {
  fileName: string;
  byteSize: number;
  header: CsvHeader;
}

const storeFileName = (ref: ImportRef) => `${ref.workspaceId}.${ref.id}.csv`;

export const fileTooLarge = (maxBytes: number) =>
  new AppError(413, 'file_too_large', `The file is larger than the ${maxBytes} bytes an import takes`, { maxBytes });

/** The uploaded bytes could not be read (a broken multipart body, a client gone): bad input. */
export class UploadReadError extends Error {}

/** The items of an upload's source, whose own failures come out as UploadReadError. */
export async function* readingUpload<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const items = source[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<T>;
    try {
      next = await items.next();
    } catch (error) {
      throw new UploadReadError((error as Error).message, { cause: error });
    }
    if (next.done) return;
    yield next.value;
  }
}

/**
 * Streams an upload into the import store (never whole in memory), checking as it goes
 * that it is UTF-8, within maxBytes, and has a header row. On any failure nothing is
 * left in the store.
 */
export async function storeUpload(config: Pick<Config, 'importDir'>, ref: ImportRef, content: AsyncIterable<Buffer> & { truncated?: boolean }, maxBytes: number): Promise<StoredUpload> {
  const fileName = storeFileName(ref);
  let header: CsvHeader | null = null;
  let prefix: Buffer = Buffer.alloc(0);
  let byteSize = 0;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const notUtf8 = () => invalidRequest('The file is not UTF-8 text', { issues: [{ in: 'body', path: ['file'], message: 'not UTF-8' }] });
  const unreadable = (why: string) => invalidRequest(`The file cannot be imported: ${why}`, { issues: [{ in: 'body', path: ['file'], message: why }] });
  async function* checked(): AsyncGenerator<Buffer> {
    for await (const chunk of readingUpload(content)) {
      byteSize += chunk.length;
      if (byteSize > maxBytes || content.truncated) throw fileTooLarge(maxBytes);
      try {
        decoder.decode(chunk, { stream: true });
      } catch {
        throw notUtf8();
      }
      if (!header) header = readHeader(Buffer.concat([prefix, chunk]), false);
      yield chunk;
    }
    if (content.truncated) throw fileTooLarge(maxBytes);
    try {
      decoder.decode();
    } catch {
      throw notUtf8();
    }
    header ??= readHeader(prefix, true);
  }
  function readHeader(bytes: Buffer, final: boolean): CsvHeader | null {
    try {
      const found = headerOf(bytes, final);
      prefix = found ? Buffer.alloc(0) : bytes;
      return found;
    } catch (error) {
      throw unreadable((error as Error).message);
    }
  }
  const store = importStore(config);
  const stored = await store.write(fileName, checked());
  if (!header) {
    // checked() ends only with a header or by throwing; this keeps the store clean regardless.
    await store.remove(fileName);
    throw unreadable('it has no header row');
  }
  return { fileName, byteSize: stored.byteSize, header };
}

/**
 * Queues an import of a stored file: checks the mapping against its header and the
 * workspace's lists (400, and the file leaves the store), then commits the job and its
 * audit entry. The job runs in the background (`ctx.kickJobs`).
 */
export async function queueImport(
  ctx: AppContext,
  ref: ImportRef,
  input: { stored: StoredUpload; mapping: ImportMapping; originalName: string | null },
): Promise<ImportView> {
  try {
    const plan = planColumns(input.mapping, input.stored.header.cells);
    const change = importChange(ref, ctx.clock.now());
    const job = await inTransaction(ctx.db, change, async (tx) => {
      const listIds = mappedListIds(input.mapping);
      const live = await lockLiveLists(tx, ref.workspaceId, listIds);
      const missing = Object.entries(input.mapping.columns).filter(([, t]) => t.startsWith('list:') && !live.has(t.slice('list:'.length)));
      if (missing.length > 0) {
        throw invalidRequest('The mapping names lists the workspace does not have', {
          issues: missing.map(([header, t]) => ({ in: 'body', path: ['mapping', 'columns', header], message: `no list ${t.slice('list:'.length)}` })),
        });
      }
      const cut = { rows: batchSize(ctx), parts: importParts(ctx) };
      const params: ImportParams = { fileName: input.stored.fileName, originalName: input.originalName, byteSize: input.stored.byteSize, mapping: input.mapping, plan, cut };
      const { dataOffset, newlines } = input.stored.header;
      const progress: ImportProgress = { offset: dataOffset, newlines, phase: 'loading', rows: 0, created: 0, updated: 0, failed: 0, tagsCreated: 0, accountsCreated: 0 };
      const queued = await insertJob(tx, change, { id: ref.id, kind: importKind, lane: importLane, status: 'queued', params: { ...params }, progress: { ...progress } });
      await recordAudit(tx, change, {
        action: 'import.created',
        targetType: 'import',
        targetId: ref.id,
        details: { fileName: input.originalName, byteSize: input.stored.byteSize, mode: input.mapping.mode, columns: input.mapping.columns },
      });
      return queued;
    });
    ctx.kickJobs();
    return presentImport(job);
  } catch (error) {
    await importStore(ctx.config).remove(input.stored.fileName);
    throw error;
  }
}

export async function getImport(db: Db, workspaceId: string, importId: string): Promise<ImportView> {
  const job = await findJob(db, workspaceId, importId);
  if (!job || job.kind !== importKind) throw notFound('Import');
  return presentImport(job);
}

/** The workspace's imports, newest first. */
export async function listImports(db: Db, workspaceId: string, page: { limit: number; cursor?: string }): Promise<Page<ImportView>> {
  const jobs = await listJobs(db, workspaceId, importKind, page);
  return { data: jobs.data.map(presentImport), nextCursor: jobs.nextCursor };
}

/** A page of the import's bad rows, in line order. */
export async function listImportErrors(db: Db, workspaceId: string, importId: string, page: { limit: number; cursor?: string }): Promise<Page<BadRow>> {
  await getImport(db, workspaceId, importId);
  const after = decodeCursor(page.cursor, ['integer']);
  const rows = await errorsPage(db, workspaceId, importId, Number(after?.[0] ?? 0), page.limit + 1);
  const kept = rows.slice(0, page.limit);
  return { data: kept, nextCursor: rows.length > page.limit ? encodeCursor([kept[kept.length - 1].line]) : null };
}

const errorPageSize = 5000;

/**
 * The import's bad rows as CSV (header `line,reason,message`), read a page at a time so
 * that a million of them never sit in memory. 404 before anything is sent.
 */
export async function importErrorsCsv(db: Db, workspaceId: string, importId: string): Promise<AsyncIterable<string>> {
  await getImport(db, workspaceId, importId);
  return (async function* () {
    yield csvLines([['line', 'reason', 'message']]);
    for (let after = 0; ; ) {
      const rows = await errorsPage(db, workspaceId, importId, after, errorPageSize);
      if (rows.length > 0) yield csvLines(rows.map((r) => [r.line, r.reason, r.message]));
      if (rows.length < errorPageSize) return;
      after = rows[rows.length - 1].line;
    }
  })();
}

/** Emails noted per finishing step: the work data of a large import goes in a few steps. */
const forgetPerStep = 50_000;

/**
 * Each step loads one batch of the file and commits it with its checkpoint (the byte
 * offset and line after the batch's last row), so a crash resumes after the last batch
 * committed and loads no row twice. Once the file is read, the work data goes, then the
 * file, and `import.finished` is written.
 *
 * On PostgreSQL the batch is loaded before its step, in parts side by side (`prepare`,
 * loadInParts); the step then adds up what the parts noted. Whatever no part noted (a
 * batch that needs the contact limit counted in line order, PGlite, a part a crash cut
 * short) the step loads itself, one part after another in its own transaction.
 */
export const importJobHandler: JobHandler = {
  kind: importKind,
  origin: 'import',
  lane: importLane,
  changeOf: importChange,
  async prepare(job, change, ctx) {
    const params = readJobPayload(importParams, job, 'params');
    const progress = readJobPayload(importProgress, job, 'progress');
    const cut = cutOf(ctx, params);
    if (cut.parts === 1 || progress.phase !== 'loading') return;
    const planned = (await takeReadAhead(job, progress)) ?? (await readPlannedBatch(ctx, params, progress));
    const { batch, read } = planned;
    // Parts side by side cannot count the contact limit in line order: the batch is
    // loaded by its step (which takes it as read here) unless every row of it fits.
    const room = await contactRoom(ctx.db, job.workspaceId, params.plan);
    if (room !== null && room.limit - room.active < read.rows.length) {
      readAhead.set(aheadKey(job), { offset: progress.offset, batch: Promise.resolve(planned), at: Date.now() });
      return;
    }
    if (!batch.done) readAhead.set(aheadKey(job), { offset: batch.end.offset, batch: readPlannedBatch(ctx, params, batch.end).catch(() => null), at: Date.now() });
    await loadInParts(ctx, change, { importId: job.id, plan: params.plan, batchOffset: progress.offset, parts: partsByEmail(read, cut.parts), batchEnd: { end: batch.end, done: batch.done } });
  },
  async step(tx, job, change, ctx) {
    const params = readJobPayload(importParams, job, 'params');
    const progress = readJobPayload(importProgress, job, 'progress');
    if (progress.phase === 'finishing') {
      if ((await forgetEmails(tx, job.workspaceId, job.id, forgetPerStep)) === forgetPerStep) return { progress: { ...progress }, done: false };
      await importStore(ctx.config).remove(params.fileName);
      const counts = finalCounts(progress);
      await recordAudit(tx, change, { action: 'import.finished', targetType: 'import', targetId: job.id, details: { status: 'succeeded', ...counts } });
      return { progress: { ...progress }, done: true, result: { ...counts } };
    }
    const noted = await notedParts(tx, job.workspaceId, job.id, progress.offset);
    let batchEnd: Pick<PartOutcome, 'end' | 'done'>;
    const counts = noted.map((n) => n.outcome.counts);
    const cut = cutOf(ctx, params);
    if (noted.length > 0 && noted.length === cut.parts) {
      batchEnd = noted[0].outcome;
    } else {
      // Cut as the parts were, when some were loaded; else the batch is one part.
      const { batch, read } = (await takeReadAhead(job, progress)) ?? (await readPlannedBatch(ctx, params, progress));
      const parts = partsByEmail(read, noted.length > 0 ? cut.parts : 1);
      for (const [index, part] of parts.entries()) {
        if (!noted.some((n) => n.part === index)) counts.push(await loadRows(tx, change, job.id, params.plan, part, 'check'));
      }
      batchEnd = { end: batch.end, done: batch.done };
    }
    if (noted.length > 0) await forgetParts(tx, job.workspaceId, job.id, progress.offset);
    const next: ImportProgress = { ...add(progress, counts), ...batchEnd.end, phase: batchEnd.done ? 'finishing' : 'loading' };
    return { progress: { ...next }, done: false };
  },
  async cleanUp(tx, job, ctx) {
    const params = readJobPayload(importParams, job, 'params');
    const checkpoint = readJobPayload(importProgress, job, 'progress');
    // Parts of the batch after the checkpoint that committed have loaded their rows: the
    // import's counts say so.
    const noted = checkpoint.phase === 'loading' ? await notedParts(tx, job.workspaceId, job.id, checkpoint.offset) : [];
    const progress = add(checkpoint, noted.map((n) => n.outcome.counts));
    await forgetEmails(tx, job.workspaceId, job.id, Number.MAX_SAFE_INTEGER);
    await forgetParts(tx, job.workspaceId, job.id);
    readAhead.delete(aheadKey(job));
    await importStore(ctx.config).remove(params.fileName);
    await recordAudit(tx, importChange(job, ctx.clock.now()), {
      action: 'import.finished',
      targetType: 'import',
      targetId: job.id,
      details: { status: 'failed', ...finalCounts(progress) },
    });
    return { ...progress };
  },
  // Admins are told (src/notifications), in the transaction that ends the import.
  async finished(tx, job, change) {
    const view = presentImport(job);
    await notify(tx, change, 'import.finished', {
      importId: view.id,
      status: view.status,
      fileName: view.fileName,
      rows: view.rows,
      created: view.created,
      updated: view.updated,
      failed: view.failed,
      error: job.error,
      createdBy: view.createdBy,
      finishedAt: view.finishedAt,
    });
  },
};

const countNames = ['rows', 'created', 'updated', 'failed', 'tagsCreated', 'accountsCreated'] as const;

function finalCounts(progress: ImportProgress): ImportCounts {
  const counts = {} as ImportCounts;
  for (const name of countNames) counts[name] = progress[name];
  return counts;
}

/** The progress with what a batch's parts (or the batch whole) did added to it. */
function add(progress: ImportProgress, parts: ImportCounts[]): ImportProgress {
  const next = { ...progress };
  for (const part of parts) for (const name of countNames) next[name] += part[name];
  return next;
}

/**
 * The next batch of each import loading in parts, read while the parts of the batch before
 * it load: otherwise the reading (csv-parse and the row checks, about a tenth of an
 * import on the server) is all that runs between two batches' parts. The next prepare
 * takes it when it starts where that batch starts (and a step takes the batch its prepare
 * read and left to it, near the contact limit); a read that failed is read again. One
 * no prepare takes (the job failed, stopped, or went to another runner) is dropped by the
 * next prepare once it is older than readAheadKeptMs, or with the job (cleanUp).
 */
const readAhead = new Map<string, { offset: number; batch: Promise<PlannedBatch | null>; at: number }>();
const readAheadKeptMs = 60_000;
const aheadKey = (job: Job) => `${job.workspaceId}:${job.id}`;

async function takeReadAhead(job: Job, from: CsvPosition): Promise<PlannedBatch | null> {
  const now = Date.now();
  for (const [key, ahead] of readAhead) if (now - ahead.at > readAheadKeptMs) readAhead.delete(key);
  const ahead = readAhead.get(aheadKey(job));
  readAhead.delete(aheadKey(job));
  return ahead?.offset === from.offset ? ahead.batch : null;
}

interface PlannedBatch {
  batch: CsvBatch;
  read: ReadBatch;
}

async function readPlannedBatch(ctx: AppContext, params: ImportParams, from: CsvPosition): Promise<PlannedBatch> {
  const batch = await readStoredBatch(ctx, params.fileName, from, cutOf(ctx, params).rows);
  return { batch, read: readBatch(params.plan, batch) };
}

const batchSize = (ctx: AppContext) => ctx.config.jobBatchSize ?? importBatchSize[ctx.database.engine];

/** The parts each batch is cut into: PGlite's one connection would wait for itself, so there a batch is loaded whole. */
const importParts = (ctx: AppContext) => (ctx.database.engine === 'pglite' ? 1 : (ctx.config.importParts ?? defaultImportParts));

/**
 * How the import's batches are cut: fixed when it is queued, so that a batch some parts
 * of which were loaded is cut the same way by whichever server resumes it, whatever its
 * settings. An import queued before parts existed loads each batch whole.
 */
const cutOf = (ctx: AppContext, params: ImportParams): ImportCut => params.cut ?? { rows: batchSize(ctx), parts: 1 };
/** Parts of a batch on PostgreSQL when RETRACE_IMPORT_PARTS does not say (config.ts). */
export const defaultImportParts = 2;

/** A batch cut into parts, to load side by side. */
interface PartedBatch {
  importId: string;
  plan: ColumnPlan;
  /** Where the batch starts: the job's checkpoint. */
  batchOffset: number;
  parts: ReadBatch[];
  batchEnd: Pick<PartOutcome, 'end' | 'done'>;
}

/**
 * Loads the parts of a batch side by side, each in its own transaction on its own
 * connection, noting in it what it did. A part another runner's pass has noted, or is
 * loading (it waits for that one to end), is left; so is every part once the job's
 * checkpoint has moved past this batch. A part that fails (a lost connection, a deadlock)
 * is logged and left to the step, which loads what no part noted. Waits for every part
 * before answering, so that none is still running when the step looks at them.
 */
async function loadInParts(ctx: AppContext, change: ChangeContext, { importId, plan, batchOffset, parts, batchEnd }: PartedBatch): Promise<void> {
  const ws = change.workspaceId;
  const loaded = await Promise.allSettled(
    parts.map((part, index) =>
      inTransaction(ctx.db, change, async (tx) => {
        // The job's checkpoint is held still while the part loads (its step waits), and
        // must still be this batch's.
        const job = await holdRunningJob(tx, ws, importId);
        if (!job || readJobPayload(importProgress, job, 'progress').offset !== batchOffset) return;
        if (await holdPart(tx, ws, importId, batchOffset, index)) return;
        const counts = await loadRows(tx, change, importId, plan, part, 'fits');
        await notePart(tx, ws, importId, batchOffset, { part: index, parts: parts.length, outcome: { counts, ...batchEnd } });
      }),
    ),
  );
  for (const [index, outcome] of loaded.entries()) {
    if (outcome.status === 'rejected') ctx.log.warn({ err: outcome.reason, workspaceId: ws, importId, batchOffset, part: index }, 'an import part failed; its step loads it');
  }
}

async function readStoredBatch(ctx: AppContext, fileName: string, from: CsvPosition, max: number) {
  try {
    return await readCsvBatch(importStore(ctx.config).locate(fileName), from, max);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('the uploaded file is no longer in the import store');
    throw error;
  }
}
