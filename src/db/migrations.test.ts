import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createRunDatabase } from '../test-support/harness.js';
import { connectPGlite, connectPostgres, migrate, type Database } from './database.js';

const opened: Database[] = [];
afterAll(async () => {
  for (const database of opened) await database.close();
});

/**
 * A fresh database, migrated up to and including `last`: on the run's server when the
 * suite runs there, else PGlite. On a Citus coordinator, a plain database of the
 * coordinator: these migrations upgrade databases made before Retrace ran on Citus, and
 * a distributed one holds no data from before them (migrations-after-distribution.citus-test.ts
 * covers what a migration written since must do there).
 */
let databases = 0;
async function migratedUpTo(last: string): Promise<Database> {
  const runUrl = process.env.RETRACE_TEST_DATABASE;
  databases += 1;
  const database = runUrl ? await connectPostgres(await createRunDatabase(runUrl, `migrations_${process.pid}_${databases}`, { plain: true }), 2) : await connectPGlite(undefined);
  opened.push(database);
  await migrate(database);
  // Undo the later migrations' bookkeeping so migrate() applies them again, as on an older database.
  await sql`DELETE FROM kysely_migration WHERE name > ${last}`.execute(database.db);
  await sql`DELETE FROM migration_checksums WHERE name > ${last}`.execute(database.db);
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

    expect(await migrate(database, { through: '009_restore_job_contacts.sql' })).toEqual(['009_restore_job_contacts.sql']);

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

describe('migration 010: contacts that left with their associations removed get them back, set aside', () => {
  it('re-inserts the rows their leaving transaction deleted, except those of deleted lists, and leaves contacts that kept rows alone', async () => {
    const database = await migratedUpTo('009_restore_job_contacts.sql');
    const { db } = database;
    await sql`INSERT INTO workspaces (id, name) VALUES ('w', 'W')`.execute(db);
    await sql`INSERT INTO lists (workspace_id, id, name) VALUES ('w', 'kept', 'Kept'), ('w', 'gone', 'Gone'), ('w', 'before', 'Before')`.execute(db);
    await sql`INSERT INTO tags (workspace_id, id, name) VALUES ('w', 't', 'T')`.execute(db);
    await sql`INSERT INTO contacts (workspace_id, id, email) VALUES ('w', 'old', 'old@example.com'), ('w', 'new', 'new@example.com')`.execute(db);
    await sql`
      INSERT INTO list_memberships (workspace_id, list_id, contact_id, status) VALUES
        ('w', 'kept', 'old', 'bounced'), ('w', 'gone', 'old', 'subscribed'), ('w', 'before', 'old', 'subscribed'), ('w', 'kept', 'new', 'subscribed')`.execute(db);
    await sql`INSERT INTO contact_tags (workspace_id, contact_id, tag_id) VALUES ('w', 'old', 't')`.execute(db);
    // Removed on purpose before the contact left: it does not come back.
    await sql`DELETE FROM list_memberships WHERE list_id = 'before'`.execute(db);
    // How a contact left before: the status and the removal of its rows in one transaction.
    await db.transaction().execute(async (tx) => {
      await sql`UPDATE contacts SET status = 'deleted', deleted_at = now() WHERE id = 'old'`.execute(tx);
      await sql`DELETE FROM list_memberships WHERE contact_id = 'old'`.execute(tx);
      await sql`DELETE FROM contact_tags WHERE contact_id = 'old'`.execute(tx);
    });
    await sql`UPDATE lists SET deleted_at = now() WHERE id = 'gone'`.execute(db);
    // How a contact leaves now: its rows stay.
    await sql`UPDATE contacts SET status = 'archived', archived_at = now() WHERE id = 'new'`.execute(db);

    expect((await migrate(database))[0]).toBe('010_set_aside_associations.sql');
    const { rows: memberships } = await sql<{ list_id: string; contact_id: string; status: string }>`
      SELECT list_id, contact_id, status FROM list_memberships ORDER BY contact_id, list_id`.execute(db);
    expect(memberships).toEqual([
      { list_id: 'kept', contact_id: 'new', status: 'subscribed' },
      { list_id: 'kept', contact_id: 'old', status: 'bounced' },
    ]);
    const { rows: tags } = await sql<{ contact_id: string; tag_id: string }>`SELECT contact_id, tag_id FROM contact_tags`.execute(db);
    expect(tags).toEqual([{ contact_id: 'old', tag_id: 't' }]);
  });
});

describe('migration 014: contacts get a history store of before images', () => {
  it('moves contact entries over with each one holding the previous entry’s after, leaves the other tables’ entries, and has the next compaction examine all', async () => {
    const database = await migratedUpTo('013_backup_keep.sql');
    const { db } = database;
    await sql`INSERT INTO workspaces (id, name) VALUES ('w', 'W')`.execute(db);
    // Entries as 001's capture wrote them, of a contact whose change from B to C (version
    // 1003) a compaction removed: the state at a point between versions 1002 and 1004 was B.
    const entry = (version: number, op: string, before: string | null, after: string | null) =>
      sql`(${'w'}, ${version}, 'contacts', 'c', 'c', ${op}, ${new Date(Date.UTC(2026, 0, 1, version - 1000))}, NULL, 'sql',
           ${before === null ? null : JSON.stringify({ id: 'c', first_name: before })}::jsonb,
           ${after === null ? null : JSON.stringify({ id: 'c', first_name: after })}::jsonb, 100)`;
    await sql`
      INSERT INTO history_entries (workspace_id, version, table_name, row_key, contact_id, op, at, actor_id, origin, before, after, txid) VALUES
        ${entry(1001, 'insert', null, 'A')}, ${entry(1002, 'update', 'A', 'B')}, ${entry(1004, 'update', 'C', 'D')}, ${entry(1005, 'delete', 'D', null)},
        ('w', 1006, 'tags', 't', NULL, 'insert', now(), NULL, 'sql', NULL, '{"id": "t"}', 100)`.execute(db);
    await sql`INSERT INTO history_compactions (workspace_id, compacted_through, last_run_at, released) VALUES ('w', now(), now(), false)`.execute(db);

    expect((await migrate(database))[0]).toBe('014_contact_history.sql');

    const { rows } = await sql<{ version: number; op: string; first_name: string | null }>`
      SELECT version::int, op, (before).first_name FROM contact_history WHERE workspace_id = 'w' ORDER BY version`.execute(db);
    expect(rows).toEqual([
      { version: 1001, op: 'insert', first_name: null },
      { version: 1002, op: 'update', first_name: 'A' },
      { version: 1004, op: 'update', first_name: 'B' },
      { version: 1005, op: 'delete', first_name: 'D' },
    ]);
    const { rows: left } = await sql<{ table_name: string }>`SELECT table_name FROM history_entries WHERE workspace_id = 'w' AND version > 1000`.execute(db);
    expect(left).toEqual([{ table_name: 'tags' }]);
    // Compaction's rule for contacts changed: the next pass examines all history.
    const { rows: compactions } = await sql<{ released: boolean }>`SELECT released FROM history_compactions WHERE workspace_id = 'w'`.execute(db);
    expect(compactions).toEqual([{ released: true }]);
    const { rows: viewed } = await sql<{ version: number; before: unknown; after: unknown }>`
      SELECT version::int, before->>'first_name' AS before, after->>'first_name' AS after FROM history WHERE workspace_id = 'w' AND table_name = 'contacts' ORDER BY version`.execute(db);
    expect(viewed).toEqual([
      { version: 1001, before: null, after: 'A' },
      { version: 1002, before: 'A', after: 'B' },
      { version: 1004, before: 'B', after: 'D' },
      { version: 1005, before: 'D', after: null },
    ]);
  });
});

describe('migration 015: restore jobs get typed columns and a table of skips', () => {
  it('moves each restore job’s figures and skips out of its params and progress, and leaves other jobs alone', async () => {
    const database = await migratedUpTo('014_contact_history.sql');
    const { db } = database;
    await sql`INSERT INTO workspaces (id, name) VALUES ('w', 'W'), ('v', 'V')`.execute(db);
    await sql`
      INSERT INTO jobs (workspace_id, id, kind, status, params, progress) VALUES
        ('v', 'running', 'restore', 'running', '{"source":"deleted","requested":3,"resumeAutomations":false,"batchSize":1}',
         '{"offset":2,"restored":1,"skipped":[{"contactId":"c2","reason":"email_taken","takenBy":"c9"}]}'),
        ('w', 'queued', 'restore', 'queued', '{"source":"archived","requested":2,"resumeAutomations":true}', '{"offset":0,"restored":0,"skipped":[]}'),
        ('w', 'rollback', 'rollback', 'succeeded', '{"at":"2026-12-01T00:00:00Z"}', '{"phase":"done"}')`.execute(db);

    expect(await migrate(database, { through: '015_restore_jobs.sql' })).toEqual(['015_restore_jobs.sql']);

    const { rows: jobs } = await sql`
      SELECT job_id, source, resume_automations, match_all, contacts_fixed, requested, next_position, restored, skipped, batch_size
      FROM restore_jobs ORDER BY job_id`.execute(db);
    expect(jobs).toEqual([
      { job_id: 'queued', source: 'archived', resume_automations: true, match_all: false, contacts_fixed: true, requested: 2, next_position: 0, restored: 0, skipped: 0, batch_size: null },
      { job_id: 'running', source: 'deleted', resume_automations: false, match_all: false, contacts_fixed: true, requested: 3, next_position: 2, restored: 1, skipped: 1, batch_size: 1 },
    ]);
    const { rows: skips } = await sql`SELECT job_id, position, contact_id, reason, taken_by FROM restore_job_skips`.execute(db);
    expect(skips).toEqual([{ job_id: 'running', position: 0, contact_id: 'c2', reason: 'email_taken', taken_by: 'c9' }]);
    const { rows: left } = await sql`SELECT id, params, progress FROM jobs ORDER BY id`.execute(db);
    expect(left).toEqual([
      { id: 'queued', params: {}, progress: {} },
      { id: 'rollback', params: { at: '2026-12-01T00:00:00Z' }, progress: { phase: 'done' } },
      { id: 'running', params: {}, progress: {} },
    ]);
  });
});

describe('migration 094: rollbacks get typed columns of their own', () => {
  it('moves each rollback’s and undo’s settings and checkpoint out of its params and progress, keeps an undo’s cause in its params, and leaves other jobs alone', async () => {
    const database = await migratedUpTo('093_contact_search.sql');
    const { db } = database;
    await sql`INSERT INTO workspaces (id, name) VALUES ('w', 'W'), ('v', 'V'), ('u', 'U')`.execute(db);
    const counts = { contacts: { revive: 1, revert: 2, remove: 0 }, skipped: { contacts: 1 } };
    await sql`
      INSERT INTO jobs (workspace_id, id, kind, status, params, progress) VALUES
        ('w', 'partial', 'rollback', 'running',
         '{"at":"2026-12-01T10:00:00.000Z","scope":{"type":"contacts","contactIds":["c2","c1"]},"resumeAutomations":true,"batchSize":1}',
         ${JSON.stringify({ phase: 'contacts', cursor: 'c1', contactsTotal: 2, contactsDone: 1, counts, planCounts: counts, skipped: [{ contactId: 'c3', reason: 'email_taken', takenBy: 'c9' }], txids: ['501', '502'], planned: ['contacts', 'others', 'skips'] })}::jsonb),
        ('w', 'undone', 'rollback', 'succeeded', '{"at":"2026-12-01T11:00:00.000Z","scope":{"type":"workspace"},"resumeAutomations":false,"undoOf":"partial","undoTxids":["501","502"]}', '{}'),
        ('v', 'undo', 'undo', 'queued',
         '{"at":"2026-12-01T09:00:00.000Z","scope":{"type":"workspace"},"resumeAutomations":false,"cause":{"txids":["400"],"undoAnyway":true,"merge":false},"undoCause":{"importId":"i1"},"onConflict":"undo_anyway"}',
         '{"phase":"plan","counts":null}'),
        ('u', 'restore', 'restore', 'queued', '{}', '{}')`.execute(db);

    expect(await migrate(database, { through: '094_rollback_jobs.sql' })).toEqual(['094_rollback_jobs.sql']);

    const { rows } = await sql`
      SELECT job_id, at, scope_type, scope_contact_ids, resume_automations, undo_of, undo_txids, cause_txids, cause_undo_anyway, cause_merge,
             batch_size, phase, last_done_id, contacts_total, contacts_done, counts, plan_counts, skipped, txids, planned
      FROM rollback_jobs ORDER BY job_id`.execute(db);
    const none = { undo_of: null, undo_txids: null, cause_txids: null, cause_undo_anyway: null, cause_merge: null, batch_size: null };
    const fresh = { phase: 'plan', last_done_id: '', contacts_total: 0, contacts_done: 0, counts: null, plan_counts: null, skipped: [], txids: [], planned: [] };
    expect(rows).toEqual([
      {
        ...none, job_id: 'partial', at: new Date('2026-12-01T10:00:00.000Z'), scope_type: 'contacts', scope_contact_ids: ['c2', 'c1'], resume_automations: true, batch_size: 1,
        phase: 'contacts', last_done_id: 'c1', contacts_total: 2, contacts_done: 1, counts, plan_counts: counts,
        skipped: [{ contactId: 'c3', reason: 'email_taken', takenBy: 'c9' }], txids: ['501', '502'], planned: ['contacts', 'others', 'skips'],
      },
      { ...none, ...fresh, job_id: 'undo', at: new Date('2026-12-01T09:00:00.000Z'), scope_type: 'workspace', scope_contact_ids: null, resume_automations: false, cause_txids: ['400'], cause_undo_anyway: true, cause_merge: false },
      { ...none, ...fresh, job_id: 'undone', at: new Date('2026-12-01T11:00:00.000Z'), scope_type: 'workspace', scope_contact_ids: null, resume_automations: false, undo_of: 'partial', undo_txids: ['501', '502'] },
    ]);
    const { rows: left } = await sql`SELECT id, params, progress FROM jobs ORDER BY id`.execute(db);
    expect(left).toEqual([
      { id: 'partial', params: {}, progress: {} },
      { id: 'restore', params: {}, progress: {} },
      { id: 'undo', params: { undoCause: { importId: 'i1' }, onConflict: 'undo_anyway' }, progress: {} },
      { id: 'undone', params: {}, progress: {} },
    ]);
  });
});
