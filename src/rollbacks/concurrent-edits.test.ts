import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aPoint, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { seeded } from '../test-support/crash.js';
import { rollbackPlanSteps } from './service.js';

/**
 * Issue 19: edits, deletes and merges by a user while a restore, a rollback and an undo
 * run, a contact a batch (so the job's batches and the requests interleave; on the
 * PostgreSQL server they run at once, on separate connections). What must hold: the job
 * succeeds (a deadlock or serialization failure is retried, never the job's end), no
 * request answers 5xx, every change a request answered 2xx for is there at the end (no
 * lost update), and every contact the job left alone is reported with why.
 */
let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const contactCount = 40;

interface Contact {
  id: string;
  index: number;
}

/** What the user's answered changes left each contact as: the job must not undo them. */
type Expected = Map<string, { status: 'active' | 'deleted' | 'merged'; lastName?: string }>;

/**
 * The user's changes, one at a time, until the job is over and at least `minimum` are
 * made: a lastName edit, a delete, or a merge of two contacts, on contacts picked at
 * random (seeded). Records what each change that answered 2xx left, and how many answered
 * while the job still ran.
 */
async function changeWhile(job: Promise<unknown>, editor: { api: TestWorkspace['api'] }, contacts: Contact[], seed: number, minimum: number) {
  let running = true;
  const finished = job.finally(() => {
    running = false;
  });
  const random = seeded(seed);
  const pick = () => contacts[Math.floor(random() * contacts.length)];
  const expected: Expected = new Map();
  const statuses: number[] = [];
  let duringJob = 0;
  for (let n = 0; running || n < minimum; n += 1) {
    const roll = random();
    const target = pick();
    let status: number;
    if (roll < 0.6) {
      const lastName = `Edited${n}`;
      status = (await editor.api('PATCH', `/contacts/${target.id}`, { lastName })).status;
      if (status === 200) expected.set(target.id, { status: 'active', lastName });
    } else if (roll < 0.8) {
      status = (await editor.api('DELETE', `/contacts/${target.id}`)).status;
      if (status === 200) expected.set(target.id, { ...expected.get(target.id), status: 'deleted' });
    } else {
      const other = pick();
      status = (await editor.api('POST', '/contacts/merge', { survivorId: target.id, mergedIds: [other.id] })).status;
      if (status === 200) {
        expected.set(other.id, { ...expected.get(other.id), status: 'merged' });
        expected.set(target.id, { ...expected.get(target.id), status: 'active' });
      }
    }
    statuses.push(status);
    if (running) duringJob += 1;
    if (n > 2000) throw new Error('the job did not end');
  }
  await finished;
  return { expected, statuses, duringJob };
}

async function rowsOf(ws: TestWorkspace) {
  const { rows } = await sql<{ id: string; first_name: string | null; last_name: string | null; status: string }>`
    SELECT id, first_name, last_name, status FROM contacts WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
  return new Map(rows.map((r) => [r.id, r]));
}

/** No lost update: every change the user was answered 2xx for is as they left it. */
async function expectNoLostUpdate(ws: TestWorkspace, expected: Expected) {
  const rows = await rowsOf(ws);
  const lost = [...expected].filter(([id, e]) => rows.get(id)?.status !== e.status || (e.lastName !== undefined && rows.get(id)?.last_name !== e.lastName));
  expect(lost.map(([id, e]) => ({ id, expected: e, got: rows.get(id) }))).toEqual([]);
}

async function allSkips(ws: TestWorkspace, path: string): Promise<{ contactId: string | null; reason: string }[]> {
  const out = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { data: { contactId: string | null; reason: string }[]; nextCursor: string | null } } = await ws.api(
      'GET',
      `${path}?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(page.status).toBe(200);
    out.push(...page.body.data);
    cursor = page.body.nextCursor;
  } while (cursor);
  return out;
}

/**
 * Runs the planned job (a rollback or an undo, at `path`) to its end while the editor
 * changes contacts, then checks: no 5xx, the job succeeded, no lost update, and every
 * contact it left alone (its first name not put back to First<i>) reported in
 * `path`/skipped, which names only contacts the editor changed.
 */
async function expectKeptAndReported(ws: TestWorkspace, path: string, editor: { api: TestWorkspace['api'] }, contacts: Contact[], seed: number) {
  const { expected, statuses, duringJob } = await changeWhile(app.runJobs(ws.id), editor, contacts, seed, 30);
  expect(statuses.filter((s) => s >= 500)).toEqual([]);
  expect(duringJob).toBeGreaterThan(0);
  expect((await ws.api('GET', path)).body.status).toBe('succeeded');
  await expectNoLostUpdate(ws, expected);
  const rows = await rowsOf(ws);
  const leftAlone = contacts.filter((c) => rows.get(c.id)?.first_name !== `First${c.index}`).map((c) => c.id);
  const reported = new Set((await allSkips(ws, `${path}/skipped`)).map((s) => s.contactId));
  expect(leftAlone.filter((c) => !reported.has(c))).toEqual([]);
  // The editor met the job: some contacts were changed after the plan and before their batch.
  expect(reported.size).toBeGreaterThan(0);
  expect([...reported].filter((c) => c === null || !expected.has(c))).toEqual([]);
}

async function someContacts(ws: TestWorkspace): Promise<Contact[]> {
  const contacts: Contact[] = [];
  for (let index = 0; index < contactCount; index += 1) contacts.push({ id: (await aContact(ws, { firstName: `First${index}` })).id, index });
  return contacts;
}

const batchOfOne = (ws: TestWorkspace, id: string) =>
  sql`UPDATE rollback_jobs SET batch_size = 1 WHERE workspace_id = ${ws.id} AND job_id = ${id}`.execute(app.ctx.db);

describe('edits, deletes and merges while a job runs', () => {
  it('a rollback keeps every change made after its plan and reports each contact it left alone', async () => {
    const ws = await aWorkspace(app);
    const contacts = await someContacts(ws);
    const at = aPoint(app);
    for (const c of contacts) await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'Changed' });
    const editor = await ws.userWithRole('manager');
    const id = (await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: contacts.map((c) => c.id) } })).body.id as string;
    await batchOfOne(ws, id);
    expect(await app.runJobs(ws.id, { maxSteps: rollbackPlanSteps })).toBe(rollbackPlanSteps);

    await expectKeptAndReported(ws, `/rollbacks/${id}`, editor, contacts, 19);
  });

  it('an undo by cause keeps every change made after its plan and reports each contact it left alone', async () => {
    const ws = await aWorkspace(app);
    const contacts = await someContacts(ws);
    const mistaken = await ws.userWithRole('member');
    app.clock.advance(60);
    const from = app.clock.now().toISOString();
    for (const c of contacts) await mistaken.api('PATCH', `/contacts/${c.id}`, { firstName: 'Wrong' });
    const to = app.clock.now().toISOString();
    app.clock.advance(60);
    const editor = await ws.userWithRole('manager');
    const id = (await ws.api('POST', '/undos', { cause: { actorId: mistaken.id, from, to } })).body.id as string;
    await batchOfOne(ws, id);
    // An undo by cause plans in one step.
    expect(await app.runJobs(ws.id, { maxSteps: 1 })).toBe(1);

    await expectKeptAndReported(ws, `/undos/${id}`, editor, contacts, 20);
  });

  it('a restore keeps every change made while it runs and accounts for each contact: restored, or skipped with why', async () => {
    const ws = await aWorkspace(app);
    const contacts = await someContacts(ws);
    // Half deleted, to be restored; the other half active, for the user to edit, delete and merge meanwhile.
    const deleted = contacts.filter((c) => c.index % 2 === 0);
    expect((await ws.api('POST', '/contacts/delete', { ids: deleted.map((c) => c.id) })).status).toBe(200);
    const editor = await ws.userWithRole('manager');
    const res = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: deleted.map((c) => c.id) });
    expect(res.status).toBe(202);
    await sql`UPDATE restore_jobs SET batch_size = 1 WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);

    const { expected, statuses, duringJob } = await changeWhile(app.runJobs(ws.id), editor, contacts, 21, 30);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(duringJob).toBeGreaterThan(0);
    const job = (await ws.api('GET', `/restore-jobs/${res.body.id}`)).body;
    expect(job.status).toBe('succeeded');
    await expectNoLostUpdate(ws, expected);

    // Every contact asked for: restored once (one restore version) or skipped, never both, never neither.
    const { rows } = await sql<{ id: string }>`
      SELECT id FROM contact_history WHERE workspace_id = ${ws.id} AND origin = 'restore' GROUP BY id HAVING count(*) = 1`.execute(app.ctx.db);
    const restored = new Set(rows.map((r) => r.id));
    const skipped = new Set((job.skipped as { contactId: string }[]).map((s) => s.contactId));
    expect(job.skippedCount).toBe(skipped.size);
    expect(deleted.filter((c) => restored.has(c.id) === skipped.has(c.id)).map((c) => c.id)).toEqual([]);
    expect(job.restored).toBe(restored.size);
    // Skipped only for what the user did meanwhile (a merge).
    expect([...skipped].filter((c) => !expected.has(c))).toEqual([]);
  });
});
