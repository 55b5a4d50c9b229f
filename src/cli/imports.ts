import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { AppContext } from '../context.js';
import { AppError, invalidRequest } from '../http/errors.js';
import { jobHandlers } from '../jobs/handlers.js';
import { runPendingJobs } from '../jobs/service.js';
import { getRetention } from '../workspaces/service.js';
import { parseMapping, type ImportMode } from '../imports/mapping.js';
import { getImport, importLane, queueImport, storeUpload, UploadReadError, type ImportRef } from '../imports/service.js';
import { countContactsToExport, exportContactsCsv, type ExportFilter } from '../imports/export.js';
import { progressBar } from './progress.js';

export interface ImportCommand {
  file: string;
  workspace: string;
  /** `Header=target,…`, or the columns object as JSON. */
  map: string;
  mode: ImportMode;
  listStatus?: string;
  confirmOverage: boolean;
}

/**
 * `--map 'Email=email,First name=firstName'` as the mapping's columns; a header holding a
 * comma or an equals sign needs the JSON form, `--map '{"Name, first":"firstName"}'`.
 */
export function columnsOfMapOption(map: string): unknown {
  if (map.trim().startsWith('{')) {
    try {
      return JSON.parse(map);
    } catch {
      throw invalidRequest('--map is not JSON', { issues: [{ in: 'body', path: ['mapping'], message: 'not JSON' }] });
    }
  }
  const columns: Record<string, string> = {};
  for (const pair of map.split(',').filter((p) => p.trim() !== '')) {
    const at = pair.indexOf('=');
    if (at <= 0) throw invalidRequest(`--map: ${JSON.stringify(pair)} is not Header=target`, { issues: [{ in: 'body', path: ['mapping'], message: pair }] });
    columns[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return columns;
}

function reportRefusal(error: unknown): void {
  if (error instanceof AppError) {
    console.error(`${error.code}: ${error.message} ${JSON.stringify(error.details)}`);
  } else if (error instanceof UploadReadError || (error as NodeJS.ErrnoException).syscall === 'open') {
    console.error(`the file cannot be read: ${(error as Error).message}`);
  } else {
    throw error;
  }
  process.exitCode = 1;
}

/**
 * `retrace import`: the same import as POST /imports (stored in the import store, queued
 * as a job, audited), by the operator (no actor), then run here batch by batch with a
 * progress bar over the file's bytes. Prints the finished import; exit 1 if it failed.
 */
export async function importFromCli(ctx: AppContext, command: ImportCommand): Promise<void> {
  const ref: ImportRef = { workspaceId: command.workspace, id: randomUUID(), createdBy: null };
  let view;
  try {
    const mapping = parseMapping(
      JSON.stringify({
        columns: columnsOfMapOption(command.map),
        mode: command.mode,
        ...(command.listStatus ? { listStatus: command.listStatus } : {}),
        ...(command.confirmOverage ? { confirmOverage: true } : {}),
      }),
    );
    await getRetention(ctx.db, command.workspace);
    const file = await open(command.file);
    const stored = await storeUpload(ctx.config, ref, file.createReadStream(), ctx.config.importMaxBytes);
    view = await queueImport(ctx, ref, { stored, mapping, originalName: path.basename(command.file) });
  } catch (error) {
    reportRefusal(error);
    return;
  }
  const bar = progressBar('importing (bytes)', view.byteSize);
  for (;;) {
    const steps = await runPendingJobs(ctx, jobHandlers, { workspaceId: command.workspace, lane: importLane, maxSteps: 1 });
    view = await getImport(ctx.db, command.workspace, ref.id);
    bar.update(view.bytesRead);
    if (steps === 0 || view.status === 'succeeded' || view.status === 'failed') break;
  }
  bar.stop();
  console.log(JSON.stringify(view, null, 2));
  if (view.failed > 0) console.error(`${view.failed} rows were not loaded: GET /api/v1/imports/${view.id}/errors?format=csv lists them`);
  if (view.status !== 'succeeded') process.exitCode = 1;
}

/**
 * `retrace export`: the contacts GET /contacts/export gives, as CSV to `out` (stdout),
 * with a progress bar on stderr.
 */
export async function exportFromCli(ctx: AppContext, command: { workspace: string } & ExportFilter, out: Writable = process.stdout): Promise<void> {
  try {
    await getRetention(ctx.db, command.workspace);
  } catch (error) {
    reportRefusal(error);
    return;
  }
  const filter: ExportFilter = { status: command.status, q: command.q };
  const bar = progressBar('exporting', await countContactsToExport(ctx.db, command.workspace, filter));
  for await (const chunk of await exportContactsCsv(ctx.db, command.workspace, filter, (rows) => bar.increment(rows))) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  bar.stop();
}
