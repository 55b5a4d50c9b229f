import { faker } from '@faker-js/faker';
import { sql } from 'kysely';
import type { ChangeContext, Db } from '../db/database.js';
import { inTransaction } from '../db/database.js';

export interface SeedOptions {
  contacts: number;
  /** Reports progress as contacts are written. */
  onProgress?: (done: number, total: number) => void;
  /** Makes the data the same on every run. */
  seed?: number;
}

export interface SeedSummary {
  contacts: number;
  lists: number;
  accounts: number;
  tags: number;
  deals: number;
}

const batchSize = 5000;

/**
 * Fills a workspace with a realistic CRM: contacts with custom fields, each on a few lists
 * (with a mix of statuses), tagged, most linked to a company with a job title, and deals
 * shared by one to three contacts. Written set-based, a batch per transaction, through
 * the same history capture as every other write (origin "import").
 */
export async function seedWorkspace(db: Db, change: ChangeContext, options: SeedOptions): Promise<SeedSummary> {
  faker.seed(options.seed ?? 42);
  const ws = change.workspaceId;
  const importChange: ChangeContext = { ...change, origin: 'import' };
  const listNames = ['Newsletter', 'Product updates', 'Webinar attendees', 'Customers', 'Trial users', 'Events', 'Partners', 'VIP'];
  const tagNames = ['lead', 'customer', 'churn-risk', 'enterprise', 'smb', 'newsletter', 'event-2026', 'partner', 'vip', 'cold', 'warm', 'hot'];
  const accountCount = Math.max(5, Math.min(2000, Math.round(options.contacts / 20)));

  const { lists, tags, accounts } = await inTransaction(db, importChange, async (tx) => {
    const insertNamed = async (table: 'lists' | 'tags' | 'accounts', names: string[]) =>
      (
        await sql<{ id: string }>`
          INSERT INTO ${sql.table(table)} (workspace_id, name, created_at)
          SELECT ${ws}, n, ${change.at} FROM unnest(${names}::text[]) WITH ORDINALITY AS t(n, i) ORDER BY i RETURNING id`.execute(tx)
      ).rows.map((r) => r.id);
    return {
      lists: await insertNamed('lists', listNames),
      tags: await insertNamed('tags', tagNames),
      accounts: await insertNamed('accounts', Array.from({ length: accountCount }, () => faker.company.name())),
    };
  });

  const statuses = ['subscribed', 'subscribed', 'subscribed', 'unsubscribed', 'bounced', 'unconfirmed'];
  const titles = ['CEO', 'CTO', 'Head of Marketing', 'Sales Manager', 'Engineer', 'Designer', 'Account Executive', 'Founder', 'Analyst'];
  const stages = ['lead', 'qualified', 'proposal', 'negotiation', 'won', 'lost'];
  let deals = 0;
  for (let start = 0; start < options.contacts; start += batchSize) {
    const n = Math.min(batchSize, options.contacts - start);
    const people = Array.from({ length: n }, (_, i) => {
      const firstName = faker.person.firstName();
      const lastName = faker.person.lastName();
      return {
        email: `${firstName}.${lastName}.${start + i}@${faker.internet.domainName()}`.toLowerCase().replace(/[^a-z0-9.@-]/g, ''),
        first_name: firstName,
        last_name: lastName,
        phone: faker.phone.number({ style: 'international' }),
        fields: { city: faker.location.city(), source: faker.helpers.arrayElement(['web', 'event', 'referral', 'ads']), score: faker.number.int(100) },
        created_at: faker.date.past({ years: 2, refDate: change.at }).toISOString(),
      };
    });
    await inTransaction(db, importChange, async (tx) => {
      const { rows } = await sql<{ id: string }>`
        INSERT INTO contacts (workspace_id, email, first_name, last_name, phone, fields, created_at, updated_at)
        SELECT ${ws}, p.email, p.first_name, p.last_name, p.phone, p.fields, p.created_at, p.created_at
        FROM jsonb_to_recordset(${JSON.stringify(people)}::jsonb)
          AS p(email text, first_name text, last_name text, phone text, fields jsonb, created_at timestamptz)
        RETURNING id`.execute(tx);
      const ids = rows.map((r) => r.id);
      const memberships = ids.flatMap((id) =>
        faker.helpers.arrayElements(lists, { min: 1, max: 3 }).map((list) => ({ list, id, status: faker.helpers.arrayElement(statuses) })),
      );
      await sql`
        INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
        SELECT ${ws}, m.list, m.id, m.status, ${change.at}, ${change.at}
        FROM jsonb_to_recordset(${JSON.stringify(memberships)}::jsonb) AS m(list text, id text, status text)`.execute(tx);
      const tagged = ids.flatMap((id) => faker.helpers.arrayElements(tags, { min: 0, max: 2 }).map((tag) => ({ tag, id })));
      await sql`
        INSERT INTO contact_tags (workspace_id, contact_id, tag_id, created_at)
        SELECT ${ws}, t.id, t.tag, ${change.at} FROM jsonb_to_recordset(${JSON.stringify(tagged)}::jsonb) AS t(tag text, id text)`.execute(tx);
      const links = ids
        .filter(() => faker.number.float() < 0.8)
        .map((id) => ({ account: faker.helpers.arrayElement(accounts), id, title: faker.helpers.arrayElement(titles) }));
      await sql`
        INSERT INTO account_contacts (workspace_id, account_id, contact_id, job_title, created_at)
        SELECT ${ws}, l.account, l.id, l.title, ${change.at}
        FROM jsonb_to_recordset(${JSON.stringify(links)}::jsonb) AS l(account text, id text, title text)`.execute(tx);
      // About one deal per five contacts, each with one to three of this batch's contacts.
      const dealRows = Array.from({ length: Math.floor(n / 5) }, () => {
        const members = faker.helpers.arrayElements(ids, { min: 1, max: 3 });
        return {
          title: `${faker.commerce.productAdjective()} ${faker.commerce.product()} deal`,
          value: faker.number.int({ min: 500, max: 50000 }),
          stage: faker.helpers.arrayElement(stages),
          members,
        };
      });
      const { rows: dealIds } = await sql<{ id: string }>`
        INSERT INTO deals (workspace_id, title, value, stage, primary_contact_id, created_at, updated_at)
        SELECT ${ws}, d.title, d.value, d.stage, d.members->>0, ${change.at}, ${change.at}
        FROM jsonb_array_elements(${JSON.stringify(dealRows)}::jsonb) WITH ORDINALITY AS t(j, i)
        CROSS JOIN LATERAL jsonb_to_record(t.j) AS d(title text, value numeric, stage text, members jsonb)
        ORDER BY t.i RETURNING id`.execute(tx);
      const dealMembers = dealRows.flatMap((d, i) => d.members.map((contact, position) => ({ deal: dealIds[i].id, contact, position })));
      await sql`
        INSERT INTO deal_contacts (workspace_id, deal_id, contact_id, added_at)
        SELECT ${ws}, m.deal, m.contact, ${change.at}
        FROM jsonb_to_recordset(${JSON.stringify(dealMembers)}::jsonb) AS m(deal text, contact text, position int)
        ORDER BY m.deal, m.position`.execute(tx);
      deals += dealRows.length;
    });
    options.onProgress?.(start + n, options.contacts);
  }
  return { contacts: options.contacts, lists: lists.length, accounts: accounts.length, tags: tags.length, deals };
}
