/**
 * The API under load (issue 15 point 6), with autocannon on loopback against a server
 * started as `npm start` starts it:
 * - mixed: `connections` connections for `durationS` seconds across `workspaces`
 *   workspaces, three reads (a page of contacts, a page of the bin, the workspace) to one
 *   write (POST /contacts) each, while a restore of `restoreContacts` contacts runs in
 *   the first workspace: requests/s, p99, errors and non-2xx answers (the goal: none);
 * - writes: POST /contacts for `writeDurationS` seconds from the same connections into one
 *   workspace, then spread over all of them; beside it the ceiling, a plain INSERT of the
 *   same row through the same PostgreSQL server from as many connections (server only:
 *   PGlite lives inside the server process).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { fillBinThroughApi } from './search.js';
import { ApiClient, inParallel, pollUntil, startServer, type RunningServer } from './server.js';

export interface LoadOptions {
  restoreContacts: number;
  workspaces: number;
  connections: number;
  durationS: number;
  writeDurationS: number;
  /** Contacts made in each workspace before the load, for its reads to find. */
  seedContacts: number;
}

export const fullLoad: LoadOptions = { restoreContacts: 100_000, workspaces: 10, connections: 50, durationS: 30, writeDurationS: 30, seedContacts: 100 };

export interface LoadFigures extends LoadOptions {
  engine: 'server' | 'pglite';
  mixed: { requests: number; requestsPerSecond: number; p50Ms: number; p99Ms: number; errors: number; non2xx: number; timeouts: number };
  /** The restore under the load: from its request to its end, and whether it ended before the load did. */
  restore: { ms: number; restored: number; endedDuringLoad: boolean };
  writes: {
    oneWorkspacePerSecond: number;
    allWorkspacesPerSecond: number;
    /** Plain INSERTs of the same row per second through the same server (null on PGlite). */
    plainInsertPerSecond: number | null;
    /** One workspace's writes per second over the ceiling's. */
    oneWorkspaceVsCeiling: number | null;
    errors: number;
  };
}

let written = 0;

/** POST /contacts with a new email each time, as the admin of `token`. */
const createContact = (token: string): autocannon.Request => ({
  method: 'POST',
  path: '/api/v1/contacts',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  setupRequest: (request) => {
    written += 1;
    return { ...request, body: JSON.stringify({ email: `load${written}-${process.pid}@load-bench.example`, firstName: 'Load', lastName: `No ${written}` }) };
  },
});

const read = (token: string, url: string): autocannon.Request => ({ method: 'GET', path: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` } });

function cannon(origin: string, connections: number, durationS: number, requests: autocannon.Request[]): Promise<autocannon.Result> {
  return autocannon({ url: origin, connections, duration: durationS, requests });
}

/** On a server of its own, or on `shared` (a smoke run's). */
export async function benchLoad(engine: 'server' | 'pglite', options: LoadOptions, shared?: RunningServer): Promise<LoadFigures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'retrace-load-bench-'));
  const server = shared ?? (await startServer(engine, 'load', { RETRACE_IMPORT_DIR: path.join(dir, 'store') }));
  const origin = new URL(server.base).origin;
  try {
    const bin = await fillBinThroughApi(server, options.restoreContacts, dir, 'load-restore');
    const operator = new ApiClient(server.base, server.operatorToken);
    const tokens = [bin.admin.token];
    for (let n = 1; n < options.workspaces; n += 1) {
      const created = await operator.post<{ token: string }>('/workspaces', { name: `Load ${n}`, adminEmail: `admin${n}@load-bench.example` });
      tokens.push(created.token);
    }
    // Something to read in each.
    await inParallel([...tokens.keys()].flatMap((w) => [...Array(options.seedContacts).keys()].map((i) => [w, i] as const)), 16, async ([w, i]) => {
      await new ApiClient(server.base, tokens[w]).post('/contacts', { email: `seed${i}@ws${w}.load-bench.example`, firstName: 'Seed', lastName: `No ${i}` });
    });

    const restoreStart = process.hrtime.bigint();
    const job = await bin.admin.post<{ id: string }>('/restore-jobs', { source: 'deleted', all: true, confirmOverage: true });
    const restoreDone = pollUntil(
      () => bin.admin.get<{ status: string; restored: number; error?: string }>(`/restore-jobs/${job.id}`),
      (j) => j.status === 'succeeded' || j.status === 'failed',
      100,
    ).then((j) => ({ job: j, ms: Number(process.hrtime.bigint() - restoreStart) / 1e6 }));
    const mixedRequests = tokens.flatMap((token) => [read(token, '/contacts?limit=50'), read(token, '/deleted-contacts?limit=50'), read(token, '/workspace'), createContact(token)]);
    const mixed = await cannon(origin, options.connections, options.durationS, mixedRequests);
    const loadMs = Number(process.hrtime.bigint() - restoreStart) / 1e6;
    const restored = await restoreDone;
    if (restored.job.status !== 'succeeded') throw new Error(`the restore under load ended ${restored.job.status}: ${restored.job.error ?? ''}`);

    const one = await cannon(origin, options.connections, options.writeDurationS, [createContact(tokens[0])]);
    const all = await cannon(origin, options.connections, options.writeDurationS, tokens.map(createContact));
    const ceiling = server.databaseUrl ? await plainInserts(server.databaseUrl, options.connections, options.writeDurationS) : null;
    const perSecond = (r: autocannon.Result) => Math.round(r['2xx'] / r.duration);
    return {
      engine,
      ...options,
      mixed: {
        requests: mixed.requests.total,
        requestsPerSecond: Math.round(mixed.requests.average),
        p50Ms: mixed.latency.p50,
        p99Ms: mixed.latency.p99,
        errors: mixed.errors,
        non2xx: mixed.non2xx,
        timeouts: mixed.timeouts,
      },
      restore: { ms: restored.ms, restored: restored.job.restored, endedDuringLoad: restored.ms <= loadMs },
      writes: {
        oneWorkspacePerSecond: perSecond(one),
        allWorkspacesPerSecond: perSecond(all),
        plainInsertPerSecond: ceiling,
        oneWorkspaceVsCeiling: ceiling ? Math.round((perSecond(one) / ceiling) * 100) / 100 : null,
        errors: one.errors + one.non2xx + all.errors + all.non2xx,
      },
    };
  } finally {
    if (!shared) await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The ceiling of POST /contacts: the same row (a workspace, an id, an email and a name, the
 * times) INSERTed, each its own transaction, into a copy of contacts (LIKE contacts: its
 * indexes and checks, no triggers, no foreign keys) from `connections` connections.
 */
async function plainInserts(databaseUrl: string, connections: number, durationS: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: connections });
  try {
    await pool.query('CREATE TABLE bench_plain_contacts (LIKE contacts INCLUDING ALL)');
    const until = Date.now() + durationS * 1000;
    let inserted = 0;
    await Promise.all(
      Array.from({ length: connections }, async (_, c) => {
        for (let i = 0; Date.now() < until; i += 1) {
          await pool.query(
            `INSERT INTO bench_plain_contacts (workspace_id, id, email, first_name, last_name, created_at, updated_at)
             VALUES ('plain', gen_random_uuid()::text, $1, 'Load', $2, now(), now())`,
            [`plain${c}-${i}@load-bench.example`, `No ${i}`],
          );
          inserted += 1;
        }
      }),
    );
    await pool.query('DROP TABLE bench_plain_contacts');
    return Math.round(inserted / durationS);
  } finally {
    await pool.end();
  }
}
