import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createRunDatabase } from '../test-support/harness.js';
import { connectPGlite, connectPostgres, migrate, type Database } from './database.js';

const opened: Database[] = [];
afterAll(async () => {
  for (const database of opened) await database.close();
});

/** A fresh database, migrated up to and including `last`: on the run's server when the suite runs there, else PGlite. */
async function migratedUpTo(last: string): Promise<Database> {
  const runUrl = process.env.RETRACE_TEST_DATABASE;
  const database = runUrl ? await connectPostgres(await createRunDatabase(runUrl, `migrations_${process.pid}`), 2) : await connectPGlite(undefined);
  opened.push(database);
  await migrate(database);
  // Undo the later migrations' bookkeeping so migrate() applies them again, as on an older database.
  await sql`DELETE FROM schema_migrations WHERE name > ${last}`.execute(database.db);
  return database;
}

describe('migration 009: restore jobs keep their contacts in restore_job_contacts', () => {
  it('moves the ids of unfinished restore jobs into rows by position, and leaves every restore job only their count', async () => {
    const database = await migratedUpTo('008_clear_failed_rollback_plans.sql');
    const { db } = database;
    await sql`DROP TABLE restore_job_contacts`.execute(db);
    await sql`INSERT INTO workspaces (id, name) VALUES ('w', 'W')`.execute(db);
    await sql`
      INSERT INTO jobs (workspace_id, id, kind, status, params, progress) VALUES
        ('w', 'queued', 'restore', 'queued', '{"source":"deleted","ids":["c3","c1","c2"],"resumeAutomations":false}', '{"offset":0}'),
        ('w', 'done', 'restore', 'succeeded', '{"source":"archived","ids":["c4","c5"],"resumeAutomations":true}', '{"offset":2}'),
        ('w', 'rollback', 'rollback', 'succeeded', '{"ids":["x"]}', '{}')`.execute(db);

    expect(await migrate(database)).toEqual(['009_restore_job_contacts.sql']);

    const { rows: contacts } = await sql<{ job_id: string; position: number; contact_id: string }>`
      SELECT job_id, position, contact_id FROM restore_job_contacts ORDER BY job_id, position`.execute(db);
    expect(contacts).toEqual([
      { job_id: 'queued', position: 0, contact_id: 'c3' },
      { job_id: 'queued', position: 1, contact_id: 'c1' },
      { job_id: 'queued', position: 2, contact_id: 'c2' },
    ]);
    const { rows: jobs } = await sql<{ id: string; params: unknown }>`SELECT id, params FROM jobs ORDER BY id`.execute(db);
    expect(jobs).toEqual([
      { id: 'done', params: { source: 'archived', requested: 2, resumeAutomations: true } },
      { id: 'queued', params: { source: 'deleted', requested: 3, resumeAutomations: false } },
      { id: 'rollback', params: { ids: ['x'] } },
    ]);
  });
});
