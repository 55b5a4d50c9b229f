/**
 * End to end, as a user sees it: a server started as `npm start` starts it, a workspace
 * with a contact limit, data created only through the public HTTP API, no ANALYZE, and
 * time from the request to the job's end as a client polling the job sees it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { activeContactIds, importFile, writeLines } from './imports.js';
import { ApiClient, pollUntil, startServer, type RunningServer } from './server.js';
import { timed, perSecond } from './timing.js';

interface Workspace {
  admin: ApiClient;
  workspaceId: string;
  contactIds: string[];
  fillMs: number;
}

/**
 * A workspace whose contact limit is twice `contacts`, with `contacts` contacts on 3 lists,
 * with 2 tags and an account each (one account for every 20 contacts), made through the
 * API's bulk way in: one CSV uploaded to POST /imports. Their ids come from
 * GET /contacts/export.
 */
export async function fillThroughApi(server: RunningServer, contacts: number, name = 'e2e'): Promise<Workspace> {
  const operator = new ApiClient(server.base, server.operatorToken);
  const created = await operator.post<{ workspace: { id: string }; token: string }>('/workspaces', {
    name,
    adminEmail: `admin@${name}.example`,
    activeContactLimit: contacts * 2,
  });
  const admin = new ApiClient(server.base, created.token);
  // The admin is about to delete every contact on purpose: the mass-delete guard is set to
  // let that through, as an admin planning it would set it (PATCH /workspace).
  await admin.patch('/workspace', { massDelete: { maxContacts: Math.min(1_000_000, contacts * 2), maxPercent: 100 } });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retrace-e2e-fill-'));
  try {
    const { ms, value: contactIds } = await timed(async () => {
      const lists = await Promise.all([1, 2, 3].map((n) => admin.post<{ id: string }>('/lists', { name: `List ${n}` })));
      const file = path.join(dir, 'contacts.csv');
      await writeLines(file, 'Email,First name,Last name,List 1,List 2,List 3,Tags,Account,Job title', contacts, (i) =>
        [`person${i}@${name}.example`, `First${i}`, `Last${i}`, 'subscribed', 'subscribed', 'subscribed', 'Tag 1;Tag 2', `Account ${Math.floor(i / 20)}`, 'Buyer'].join(','),
      );
      const columns: Record<string, string> = { Email: 'email', 'First name': 'firstName', 'Last name': 'lastName', Tags: 'tag', Account: 'account', 'Job title': 'jobTitle' };
      lists.forEach((list, n) => (columns[`List ${n + 1}`] = `list:${list.id}`));
      await importFile(server, admin, file, contacts, columns);
      const ids = await activeContactIds(admin);
      if (ids.length !== contacts) throw new Error(`the export listed ${ids.length} contacts, not ${contacts}`);
      return ids;
    });
    return { admin, workspaceId: created.workspace.id, contactIds, fillMs: ms };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A moment clear of the changes before and after it (the server and this client share a clock). */
async function pointBetweenChanges(): Promise<Date> {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const at = new Date();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return at;
}

const chunks = <T>(items: T[], size: number) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * Deletes (POST /contacts/delete) or archives (POST /contacts/archive) the contacts, 1,000
 * ids a request, one request at a time.
 */
export async function removeThroughApi(ws: Workspace, removal: 'delete' | 'archive' = 'delete'): Promise<{ ms: number; rate: number }> {
  const { ms } = await timed(async () => {
    for (const ids of chunks(ws.contactIds, 1000)) {
      const t = await timed(() => ws.admin.post(`/contacts/${removal}`, { ids }));
      if (process.env.BENCH_VERBOSE === '1') console.log(`  ${removal} of ${ids.length}: ${t.ms.toFixed(0)} ms`);
    }
  });
  return { ms, rate: perSecond(ws.contactIds.length, ms) };
}

/** A second workspace filled the same way, every contact archived through the API. */
async function archiveThroughApi(server: RunningServer, contacts: number): Promise<{ ms: number; rate: number }> {
  const ws = await fillThroughApi(server, contacts, 'e2e-archive');
  const archived = await removeThroughApi(ws, 'archive');
  const { usage } = await ws.admin.get<{ usage: { archived: number } }>('/workspace');
  if (usage.archived !== contacts) throw new Error(`${usage.archived} contacts archived, not ${contacts}`);
  return archived;
}

export interface RestoreE2E {
  requestMs: number;
  totalMs: number;
  restored: number;
}

/** POST /restore-jobs {all:true}, then GET /restore-jobs/:id every 100 ms until it ends. */
export async function restoreAllThroughApi(ws: Workspace): Promise<RestoreE2E> {
  const start = process.hrtime.bigint();
  const job = await ws.admin.post<{ id: string }>('/restore-jobs', { source: 'deleted', all: true });
  const requestMs = Number(process.hrtime.bigint() - start) / 1e6;
  const done = await pollUntil(
    () => ws.admin.get<{ status: string; restored: number }>(`/restore-jobs/${job.id}`),
    (j) => j.status === 'succeeded' || j.status === 'failed',
  );
  const totalMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (done.status !== 'succeeded') throw new Error(`the restore job ended ${done.status}: ${JSON.stringify(done)}`);
  return { requestMs, totalMs, restored: done.restored };
}

export interface RollbackE2E {
  previewMs: number;
  /** From the approval to the plan's end (the job leaving its `plan` phase), as a client polling it sees it. */
  planMs: number;
  /** From the approval to the job's end. */
  totalMs: number;
  /** Contacts the rollback sends back to the recycle bin. */
  removed: number;
}

interface RollbackView {
  status: string;
  phase: string;
  counts: { contacts: { remove: number } } | null;
  error?: string | null;
}

/**
 * Issue 15's rollback scenario: with every contact deleted at `at` and restored since, a
 * full rollback to `at` (previewed, requested, approved by a second admin) sends them all
 * back to the recycle bin.
 */
export async function rollBackRestoreThroughApi(server: RunningServer, ws: Workspace, at: Date, name = 'e2e'): Promise<RollbackE2E> {
  const scope = { type: 'workspace' };
  const preview = await timed(() => ws.admin.post<{ counts: { contacts: { remove: number } } }>('/rollbacks/preview', { at: at.toISOString(), scope }));
  // The second admin was an admin before the request (four eyes: an approver made since does not count).
  const approver = new ApiClient(server.base, (await ws.admin.post<{ token: string }>('/users', { email: `approver@${name}.example`, role: 'admin' })).token);
  const requested = await ws.admin.post<{ id: string }>('/rollbacks', { at: at.toISOString(), scope });
  const start = process.hrtime.bigint();
  await approver.post(`/rollbacks/${requested.id}/approve`, {});
  let planMs = 0;
  const done = await pollUntil(
    () => ws.admin.get<RollbackView>(`/rollbacks/${requested.id}`),
    (r) => {
      if (planMs === 0 && r.phase !== 'plan' && r.status !== 'awaiting_approval' && r.status !== 'queued') planMs = Number(process.hrtime.bigint() - start) / 1e6;
      return r.status === 'succeeded' || r.status === 'failed';
    },
  );
  const totalMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (done.status !== 'succeeded') throw new Error(`the rollback ended ${done.status}: ${JSON.stringify(done)}`);
  return { previewMs: preview.ms, planMs: planMs || totalMs, totalMs, removed: done.counts?.contacts.remove ?? 0 };
}

export interface E2EFigures {
  engine: 'server' | 'pglite';
  contacts: number;
  fillMs: number;
  deleteMs: number;
  deleteRate: number;
  /** POST /contacts/archive, 1,000 ids a request, in a second workspace filled the same way. */
  archiveMs: number;
  archiveRate: number;
  requestMs: number;
  totalMs: number;
  /** Contacts back per second, from the request to the job's end as the client saw it. */
  rate: number;
  rollback: RollbackE2E;
}

/**
 * `npm run bench -- e2e`: fill, delete and restore all through the API of a server of
 * `engine`, roll the restore back, and archive as many in a second workspace.
 */
export async function benchE2E(engine: 'server' | 'pglite', contacts: number, shared?: RunningServer): Promise<E2EFigures> {
  const server = shared ?? (await startServer(engine, 'e2e'));
  try {
    const ws = await fillThroughApi(server, contacts);
    const deleted = await removeThroughApi(ws);
    const beforeRestore = await pointBetweenChanges();
    const restored = await restoreAllThroughApi(ws);
    if (restored.restored !== contacts) throw new Error(`the restore brought back ${restored.restored} contacts, not ${contacts}`);
    const rollback = await rollBackRestoreThroughApi(server, ws, beforeRestore);
    if (rollback.removed !== contacts) throw new Error(`the rollback planned ${rollback.removed} contacts back to the bin, not ${contacts}`);
    const archived = await archiveThroughApi(server, contacts);
    return {
      engine,
      contacts,
      fillMs: ws.fillMs,
      deleteMs: deleted.ms,
      deleteRate: deleted.rate,
      archiveMs: archived.ms,
      archiveRate: archived.rate,
      requestMs: restored.requestMs,
      totalMs: restored.totalMs,
      rate: perSecond(contacts, restored.totalMs),
      rollback,
    };
  } finally {
    if (!shared) await server.stop();
  }
}

async function main(): Promise<void> {
  const engine = (process.argv[2] ?? 'server') as 'server' | 'pglite';
  const contacts = Number(process.argv[3] ?? 5000);
  const server = await startServer(engine, 'repro');
  try {
    const ws = await fillThroughApi(server, contacts);
    console.log(`fill ${contacts}: ${(ws.fillMs / 1000).toFixed(1)} s`);
    const del = await removeThroughApi(ws);
    console.log(`delete: ${(del.ms / 1000).toFixed(1)} s, ${del.rate}/s`);
    const r = await restoreAllThroughApi(ws);
    console.log(`restore: request ${(r.requestMs / 1000).toFixed(2)} s, total ${(r.totalMs / 1000).toFixed(2)} s, ${r.restored} restored`);
  } finally {
    await server.stop();
  }
}

if (process.argv[1]?.endsWith('e2e.ts')) await main();
