/**
 * End to end, as a user sees it: a server started as `npm start` starts it, a workspace
 * with a contact limit, data created only through the public HTTP API, no ANALYZE, and
 * time from the request to the job's end as a client polling the job sees it.
 */
import { ApiClient, inParallel, pollUntil, startServer, type RunningServer } from './server.js';
import { timed, perSecond } from './timing.js';

interface Workspace {
  admin: ApiClient;
  workspaceId: string;
  contactIds: string[];
  fillMs: number;
}

const concurrency = 16;

/**
 * A workspace whose contact limit is twice `contacts`, with `contacts` contacts on 3 lists,
 * with 2 tags and an account each (one account for every 20 contacts), all made through
 * the API one request at a time, `concurrency` in flight.
 */
export async function fillThroughApi(server: RunningServer, contacts: number, name = 'e2e'): Promise<Workspace> {
  const operator = new ApiClient(server.base, server.operatorToken);
  const created = await operator.post<{ workspace: { id: string }; token: string }>('/workspaces', {
    name,
    adminEmail: `admin@${name}.example`,
    activeContactLimit: contacts * 2,
  });
  const admin = new ApiClient(server.base, created.token);
  const { ms, value: contactIds } = await timed(async () => {
    const lists = await Promise.all([1, 2, 3].map((n) => admin.post<{ id: string }>('/lists', { name: `List ${n}` })));
    const tags = await Promise.all([1, 2].map((n) => admin.post<{ id: string }>('/tags', { name: `Tag ${n}` })));
    const accounts: { id: string }[] = [];
    for (let n = 0; n < Math.ceil(contacts / 20); n += 1) accounts.push(await admin.post<{ id: string }>('/accounts', { name: `Account ${n}` }));
    const ids: string[] = new Array(contacts);
    await inParallel([...Array(contacts).keys()], concurrency, async (i) => {
      const contact = await admin.post<{ id: string }>('/contacts', {
        email: `person${i}@${name}.example`,
        firstName: `First${i}`,
        lastName: `Last${i}`,
        tags: tags.map((t) => t.id),
      });
      ids[i] = contact.id;
      for (const list of lists) await admin.put(`/lists/${list.id}/contacts/${contact.id}`, { status: 'subscribed' });
      await admin.put(`/accounts/${accounts[Math.floor(i / 20)].id}/contacts/${contact.id}`, { jobTitle: 'Buyer' });
    });
    return ids;
  });
  return { admin, workspaceId: created.workspace.id, contactIds, fillMs: ms };
}

const chunks = <T>(items: T[], size: number) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** Deletes the contacts through POST /contacts/delete, 1,000 ids a request, one request at a time. */
export async function deleteThroughApi(ws: Workspace): Promise<{ ms: number; rate: number }> {
  const { ms } = await timed(async () => {
    for (const ids of chunks(ws.contactIds, 1000)) {
      const t = await timed(() => ws.admin.post('/contacts/delete', { ids }));
      if (process.env.BENCH_VERBOSE === '1') console.log(`  delete of ${ids.length}: ${t.ms.toFixed(0)} ms`);
    }
  });
  return { ms, rate: perSecond(ws.contactIds.length, ms) };
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

export interface E2EFigures {
  engine: 'server' | 'pglite';
  contacts: number;
  fillMs: number;
  deleteMs: number;
  deleteRate: number;
  requestMs: number;
  totalMs: number;
  /** Contacts back per second, from the request to the job's end as the client saw it. */
  rate: number;
}

/** `npm run bench -- e2e`: fill, delete and restore all through the API of a server of `engine`. */
export async function benchE2E(engine: 'server' | 'pglite', contacts: number, shared?: RunningServer): Promise<E2EFigures> {
  const server = shared ?? (await startServer(engine, 'e2e'));
  try {
    const ws = await fillThroughApi(server, contacts);
    const deleted = await deleteThroughApi(ws);
    const restored = await restoreAllThroughApi(ws);
    if (restored.restored !== contacts) throw new Error(`the restore brought back ${restored.restored} contacts, not ${contacts}`);
    return {
      engine,
      contacts,
      fillMs: ws.fillMs,
      deleteMs: deleted.ms,
      deleteRate: deleted.rate,
      requestMs: restored.requestMs,
      totalMs: restored.totalMs,
      rate: perSecond(contacts, restored.totalMs),
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
    const del = await deleteThroughApi(ws);
    console.log(`delete: ${(del.ms / 1000).toFixed(1)} s, ${del.rate}/s`);
    const r = await restoreAllThroughApi(ws);
    console.log(`restore: request ${(r.requestMs / 1000).toFixed(2)} s, total ${(r.totalMs / 1000).toFixed(2)} s, ${r.restored} restored`);
  } finally {
    await server.stop();
  }
}

if (process.argv[1]?.endsWith('e2e.ts')) await main();
