import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Database } from '../db/database.js';

/**
 * Who runs a server's jobs (issue 19 point 2). A runner is the server as configured
 * (RETRACE_RUNNER_ID: by default its host and port, or data directory), an instance one
 * process of it. Jobs are leased to `runnerId#instance`; sessions on PostgreSQL are named
 * `retrace-runner <tag> <instance>` (application_name, at most 63 bytes: the runner id is
 * hashed). A process that starts after a crash of its runner takes over at once what the
 * dead one held: its sessions are ended, so a statement it left running (a plan, say)
 * stops holding locks, and its jobs' leases are released, so they are claimed now rather
 * than when the lease runs out.
 */
export interface RunnerIdentity {
  runnerId: string;
  /** What this process writes into jobs.lease_owner. */
  owner: string;
  /** Its sessions' application_name on PostgreSQL. */
  applicationName: string;
}

const applicationPrefix = 'retrace-runner';

const runnerTag = (runnerId: string) => createHash('sha256').update(runnerId).digest('hex').slice(0, 16);

export function runnerIdentity(runnerId: string): RunnerIdentity {
  const instance = randomBytes(6).toString('hex');
  return { runnerId, owner: `${runnerId}#${instance}`, applicationName: `${applicationPrefix} ${runnerTag(runnerId)} ${instance}` };
}

/** How long a takeover waits for the ended sessions to be gone (their transactions rolled back). */
const sessionsGoneWithinMs = 10_000;

/**
 * Takes over what earlier processes of this runner left: on PostgreSQL, ends their
 * sessions (pg_terminate_backend of those named for this runner but not this process) and
 * waits until they are gone; then releases the leases of their running jobs. Returns how
 * many of each. Call it before the worker starts.
 */
export async function takeOverRunner(database: Database, identity: RunnerIdentity): Promise<{ sessionsEnded: number; jobsReleased: number }> {
  let sessionsEnded = 0;
  if (database.engine === 'postgres') {
    const others = sql`datname = current_database() AND pid <> pg_backend_pid()
      AND left(application_name, ${applicationPrefix.length + 18}) = ${`${applicationPrefix} ${runnerTag(identity.runnerId)} `}
      AND application_name <> ${identity.applicationName}`;
    const { rows } = await sql<{ ended: boolean }>`SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE ${others}`.execute(database.db);
    sessionsEnded = rows.filter((r) => r.ended).length;
    const until = Date.now() + sessionsGoneWithinMs;
    while (sessionsEnded > 0 && Date.now() < until) {
      const left = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${others}`.execute(database.db);
      if (left.rows[0].n === 0) break;
      await delay(50);
    }
  }
  const prefix = `${identity.runnerId}#`;
  const released = await sql`
    UPDATE jobs SET lease_owner = NULL, lease_until = NULL
    WHERE status = 'running' AND left(lease_owner, ${prefix.length}) = ${prefix} AND lease_owner <> ${identity.owner}`.execute(database.db);
  return { sessionsEnded, jobsReleased: Number(released.numAffectedRows ?? 0) };
}
