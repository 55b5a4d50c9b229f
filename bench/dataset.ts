import { sql } from 'kysely';
import { systemClock } from '../src/clock.js';
import type { ChangeContext, Db } from '../src/db/database.js';
import { inTransaction } from '../src/db/database.js';
import { createWorkspace } from '../src/workspaces/service.js';

/** A workspace made for a benchmark, and its admin's change context. */
export interface BenchWorkspace {
  id: string;
  /** A change by the workspace's admin, now (through the API, deletes and restores are). */
  change: () => ChangeContext;
}

export async function benchWorkspace(db: Db, name: string): Promise<BenchWorkspace> {
  const { workspace, user } = await createWorkspace(db, systemClock, { name, adminEmail: 'bench@example.com' });
  return { id: workspace.id, change: () => ({ workspaceId: workspace.id, actorId: user.id, origin: 'user', at: systemClock.now() }) };
}

export interface CrmShape {
  /** Contacts with associations: the ones a benchmark deletes and restores. */
  contacts: number;
  /** Every contact is on this many lists and has this many tags. */
  listsPerContact: number;
  tagsPerContact: number;
  /** Contacts per deal; each deal also has one keeper, a contact that stays active. */
  contactsPerDeal: number;
}

export const restoreShape: CrmShape = { contacts: 100_000, listsPerContact: 3, tagsPerContact: 2, contactsPerDeal: 4 };

export interface CrmSize {
  contacts: number;
  keepers: number;
  listMemberships: number;
  contactTags: number;
  accountLinks: number;
  deals: number;
  dealMemberships: number;
}

const listCount = 8;
const tagCount = 12;

/**
 * Fills the workspace set-based (INSERT … SELECT over generate_series, one transaction,
 * history captured as for any import): `contacts` people (emails person<i>@…), each on
 * listsPerContact lists with a mix of statuses, with tagsPerContact tags and a job title
 * at one of contacts/50 accounts, and sharing a deal with contactsPerDeal - 1 others and
 * a keeper (keeper<i>@…, never deleted, so the deals survive the deletion). Ids are
 * UUIDs derived from the row number, so runs are alike.
 */
export async function fillCrm(db: Db, ws: BenchWorkspace, shape: CrmShape): Promise<CrmSize> {
  const n = shape.contacts;
  const deals = Math.ceil(n / shape.contactsPerDeal);
  const keepers = Math.max(1, Math.ceil(deals / 5));
  const accounts = Math.max(5, Math.ceil(n / 50));
  const id = (kind: string, i: unknown) => sql`md5(${ws.id}::text || ${`:${kind}:`}::text || ${i})::uuid::text`;
  await inTransaction(db, { ...ws.change(), origin: 'import' }, async (tx) => {
    const at = sql`retrace_now()`;
    await sql`
      INSERT INTO contacts (workspace_id, id, email, first_name, last_name, phone, fields, created_at, updated_at)
      SELECT ${ws.id}, ${id('c', sql`i`)}, 'person' || i || '@example.com', 'First' || i, 'Last' || i, '+1 555 ' || lpad(i::text, 7, '0'),
             jsonb_build_object('city', 'City ' || i % 97, 'source', (ARRAY['web', 'event', 'referral', 'ads'])[1 + i % 4], 'score', i % 100),
             ${at} - make_interval(mins => i), ${at} - make_interval(mins => i)
      FROM generate_series(1, ${n}::int) i`.execute(tx);
    await sql`
      INSERT INTO contacts (workspace_id, id, email, first_name, last_name, created_at, updated_at)
      SELECT ${ws.id}, ${id('k', sql`i`)}, 'keeper' || i || '@example.com', 'Keeper', 'No ' || i, ${at}, ${at}
      FROM generate_series(1, ${keepers}::int) i`.execute(tx);
    for (const [table, count] of [['lists', listCount], ['tags', tagCount], ['accounts', accounts]] as const) {
      await sql`
        INSERT INTO ${sql.table(table)} (workspace_id, id, name, created_at)
        SELECT ${ws.id}, ${id(table, sql`i`)}, ${table}::text || ' ' || i, ${at} FROM generate_series(1, ${count}::int) i`.execute(tx);
    }
    await sql`
      INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
      SELECT ${ws.id}, ${id('lists', sql`1 + (i + k) % ${listCount}`)}, ${id('c', sql`i`)},
             (ARRAY['subscribed', 'subscribed', 'unsubscribed', 'bounced', 'unconfirmed'])[1 + (i + k) % 5], ${at}, ${at}
      FROM generate_series(1, ${n}::int) i CROSS JOIN generate_series(0, ${shape.listsPerContact - 1}::int) k`.execute(tx);
    await sql`
      INSERT INTO contact_tags (workspace_id, contact_id, tag_id, created_at)
      SELECT ${ws.id}, ${id('c', sql`i`)}, ${id('tags', sql`1 + (i + 5 * k) % ${tagCount}`)}, ${at}
      FROM generate_series(1, ${n}::int) i CROSS JOIN generate_series(0, ${shape.tagsPerContact - 1}::int) k`.execute(tx);
    await sql`
      INSERT INTO account_contacts (workspace_id, account_id, contact_id, job_title, created_at)
      SELECT ${ws.id}, ${id('accounts', sql`1 + i % ${accounts}`)}, ${id('c', sql`i`)},
             (ARRAY['CEO', 'CTO', 'Engineer', 'Designer', 'Analyst', 'Founder'])[1 + i % 6], ${at}
      FROM generate_series(1, ${n}::int) i`.execute(tx);
    // Each deal's first contact is its primary; its keeper was added last.
    await sql`
      INSERT INTO deals (workspace_id, id, title, value, stage, primary_contact_id, created_at, updated_at)
      SELECT ${ws.id}, ${id('d', sql`d`)}, 'Deal ' || d, 1000 + d % 50000, (ARRAY['lead', 'qualified', 'proposal', 'won'])[1 + d % 4],
             ${id('c', sql`(d - 1) * ${shape.contactsPerDeal} + 1`)}, ${at}, ${at}
      FROM generate_series(1, ${deals}::int) d`.execute(tx);
    await sql`
      INSERT INTO deal_contacts (workspace_id, deal_id, contact_id, added_at)
      SELECT ${ws.id}, ${id('d', sql`(i - 1) / ${shape.contactsPerDeal} + 1`)}, ${id('c', sql`i`)}, ${at}
      FROM generate_series(1, ${n}::int) i ORDER BY i`.execute(tx);
    await sql`
      INSERT INTO deal_contacts (workspace_id, deal_id, contact_id, added_at)
      SELECT ${ws.id}, ${id('d', sql`d`)}, ${id('k', sql`1 + (d - 1) % ${keepers}`)}, ${at}
      FROM generate_series(1, ${deals}::int) d ORDER BY d`.execute(tx);
  });
  await sql`ANALYZE`.execute(db);
  return {
    contacts: n,
    keepers,
    listMemberships: n * shape.listsPerContact,
    contactTags: n * shape.tagsPerContact,
    accountLinks: n,
    deals,
    dealMemberships: n,
  };
}

/** The ids of the dataset's people (not its keepers), in id order. */
export async function peopleIds(db: Db, workspaceId: string): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    SELECT id FROM contacts WHERE workspace_id = ${workspaceId} AND email LIKE 'person%' ORDER BY id`.execute(db);
  return rows.map((r) => r.id);
}
