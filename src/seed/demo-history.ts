import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { TestClock } from '../clock.js';
import type { AppContext } from '../context.js';
import type { ChangeContext } from '../db/database.js';
import { updateContact } from '../contacts/service.js';
import { releaseHeldDelete, removeContacts } from '../held-deletes/service.js';
import { AppError } from '../http/errors.js';
import { importLane, queueImport, storeUpload, type ImportRef } from '../imports/service.js';
import { jobHandlers } from '../jobs/handlers.js';
import { runPendingJobs } from '../jobs/service.js';
import { addUser } from '../users/service.js';
import { createIntegrationToken } from '../users/tokens.js';
import { permissions } from '../users/permissions.js';

const minute = 60_000;
const hour = 60 * minute;

/** What the demo's recent history holds, for the start-up message and the tests. */
export interface DemoHistory {
  importId: string;
  tokenId: string;
  renamed: number;
  deleted: number;
  editors: string[];
}

/** A CSV cell, quoted when it must be. */
const cell = (value: string) => (/[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

/**
 * Gives the seeded demo workspace a recent history with accidents to recover, each
 * through the services that make them in real use, so each is a cause Activity lists
 * and undoes:
 *  - two hours ago, an import of `webinar-leads.csv` (update mode) whose "Company" column
 *    was mapped to the first name, and whose Newsletter column unsubscribed everyone in
 *    it: 300 contacts renamed and unsubscribed, and two bad rows reported;
 *  - an hour ago, the integration token "Zapier sync" deleted 500 contacts: 150 at once,
 *    then 350 that the mass-delete guard held and an admin released four minutes later;
 *  - then ordinary edits by two people (Ann Smith fixes a few of the renamed contacts, so
 *    undoing the import meets conflicts; Ben Okafor edits others).
 *
 * Times: every write's history and change set take their time from the change context's
 * `at` (retrace.now in the transaction), and a job's writes from the clock of the context
 * running it. So the import runs as the real job, queued and run here (not by the
 * worker, which has not started yet) with a clock two hours behind; the token's and the
 * people's writes carry their past `at`. Nothing is written later than now.
 */
export async function seedDemoHistory(ctx: AppContext, workspaceId: string, adminId: string): Promise<DemoHistory> {
  const now = ctx.clock.now().getTime();
  const at = (msAgo: number) => new Date(now - msAgo);
  const system: ChangeContext = { workspaceId, actorId: adminId, origin: 'user', at: at(3 * hour) };

  // The admin makes the integration's token and the two colleagues, as in the UI.
  const admin = { roleName: 'admin', permissions: new Set(permissions), ownerId: adminId };
  const tokenId = (await createIntegrationToken(ctx.db, system, admin, { name: 'Zapier sync', role: 'manager' })).token.id;
  const ann = (await addUser(ctx.db, system, admin, { email: 'ann.smith@demo.retrace.dev', name: 'Ann Smith', role: 'member' })).user.id;
  const ben = (await addUser(ctx.db, system, admin, { email: 'ben.okafor@demo.retrace.dev', name: 'Ben Okafor', role: 'member' })).user.id;

  // 300 Newsletter subscribers for the import, and 500 other contacts for the token.
  const newsletter = (await sql<{ id: string }>`SELECT id FROM lists WHERE workspace_id = ${workspaceId} AND name = 'Newsletter'`.execute(ctx.db)).rows[0].id;
  const { rows: subscribers } = await sql<{ id: string; email: string }>`
    SELECT c.id, c.email FROM contacts c
    JOIN list_memberships m ON m.workspace_id = c.workspace_id AND m.contact_id = c.id AND m.list_id = ${newsletter} AND m.status = 'subscribed'
    WHERE c.workspace_id = ${workspaceId} AND c.status = 'active' ORDER BY c.email LIMIT 300`.execute(ctx.db);
  const { rows: others } = await sql<{ id: string }>`
    SELECT c.id FROM contacts c WHERE c.workspace_id = ${workspaceId} AND c.status = 'active' AND NOT (c.id = ANY(${subscribers.map((s) => s.id)}::text[]))
    ORDER BY c.email DESC LIMIT 520`.execute(ctx.db);
  const doomed = others.slice(0, 500).map((r) => r.id);
  const edited = others.slice(500).map((r) => r.id);

  // The import, two hours ago.
  const companies = ['Acme Corp', 'Globex', 'Initech', 'Umbrella Ltd', 'Hooli', 'Stark Industries'];
  const lines = [
    'Email,Company,Newsletter',
    ...subscribers.map((s, i) => [s.email, companies[i % companies.length], 'unsubscribed'].map(cell).join(',')),
    'nobody@unknown.example,Acme Corp,unsubscribed',
    'not-an-email,Globex,unsubscribed',
  ];
  const past = { ...ctx, clock: new TestClock(at(2 * hour).getTime() - Date.now()), kickJobs: () => undefined };
  const ref: ImportRef = { workspaceId, id: randomUUID(), createdBy: adminId };
  const stored = await storeUpload(ctx.config, ref, Readable.from([Buffer.from(`${lines.join('\n')}\n`)]), ctx.config.importMaxBytes);
  await queueImport(past, ref, {
    stored,
    mapping: { columns: { Email: 'email', Company: 'firstName', Newsletter: `list:${newsletter}` }, mode: 'update' },
    originalName: 'webinar-leads.csv',
  });
  await runPendingJobs(past, jobHandlers, { workspaceId, lane: importLane });

  // The integration, an hour ago: 150 deleted, then 350 held by the guard and released.
  const token = (msAgo: number): ChangeContext => ({ workspaceId, actorId: tokenId, tokenId, origin: 'user', at: at(msAgo) });
  const deleteAsToken = async (ids: string[], msAgo: number) => {
    try {
      await removeContacts(ctx.db, token(msAgo), 'delete', ids);
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'mass_delete_held') throw error;
      await releaseHeldDelete(ctx.db, { workspaceId, actorId: adminId, origin: 'user', at: at(msAgo - 2 * minute) }, String(error.details.heldId));
    }
  };
  await deleteAsToken(doomed.slice(0, 150), hour);
  await deleteAsToken(doomed.slice(150), hour - 2 * minute);

  // Ordinary work after both.
  for (const [i, s] of subscribers.slice(0, 5).entries()) {
    await updateContact(ctx.db, { workspaceId, actorId: ann, origin: 'user', at: at(30 * minute - i * minute) }, s.id, { firstName: ['Maya', 'Tom', 'Lena', 'Omar', 'Ida'][i] });
  }
  for (const [i, id] of edited.slice(0, 7).entries()) {
    await updateContact(ctx.db, { workspaceId, actorId: ann, origin: 'user', at: at(24 * minute - i * minute) }, id, { phone: `+44 20 7946 0${100 + i}` });
  }
  for (const [i, id] of edited.slice(7).entries()) {
    await updateContact(ctx.db, { workspaceId, actorId: ben, origin: 'user', at: at(12 * minute - i * 30_000) }, id, { fields: { source: 'referral', reviewed: true } });
  }
  return { importId: ref.id, tokenId, renamed: subscribers.length, deleted: doomed.length, editors: [ann, ben] };
}
