import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

/** Contacts created a minute apart, so "newest first" has one answer. */
async function contactsInOrder(ws: TestWorkspace, names: string[]): Promise<any[]> {
  const made = [];
  for (const firstName of names) {
    app.clock.advance(60);
    made.push(await aContact(ws, { firstName, lastName: 'Smith', email: `${firstName.toLowerCase()}@example.com` }));
  }
  return made;
}

describe('creating and reading contacts', () => {
  it('creates a contact and reads it back', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/contacts', { email: 'Ada@Example.com', firstName: 'Ada', lastName: 'Lovelace', fields: { plan: 'pro' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ email: 'Ada@Example.com', firstName: 'Ada', lastName: 'Lovelace', phone: null, fields: { plan: 'pro' }, tags: [], status: 'active' });
    expect(res.body.createdAt).toBe(res.body.updatedAt);
    const read = await ws.api('GET', `/contacts/${res.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
  });

  it('creates a contact with tags', async () => {
    const ws = await aWorkspace(app);
    const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    const res = await ws.api('POST', '/contacts', { email: 'tagged@example.com', tags: [tag.id] });
    expect(res.status).toBe(201);
    expect(res.body.tags).toEqual([tag.id]);
  });

  it('refuses an unknown tag with 400 and creates nothing', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/contacts', { email: 'x@example.com', tags: ['no-such-tag'] });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect((await ws.api('GET', '/workspace')).body.usage).toEqual({ active: 0, archived: 0, deleted: 0 });
  });

  it('refuses a second contact with the same email, whatever its case', async () => {
    const ws = await aWorkspace(app);
    const first = await aContact(ws, { email: 'dup@example.com' });
    const res = await ws.api('POST', '/contacts', { email: 'DUP@example.com' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'email_taken', details: { contactId: first.id } });
  });

  it('lets a deleted contact’s email be used again', async () => {
    const ws = await aWorkspace(app);
    const first = await aContact(ws, { email: 'again@example.com' });
    await ws.api('DELETE', `/contacts/${first.id}`);
    const res = await ws.api('POST', '/contacts', { email: 'again@example.com' });
    expect(res.status).toBe(201);
  });

  it('refuses a missing or malformed email with 400', async () => {
    const ws = await aWorkspace(app);
    const missing = await ws.api('POST', '/contacts', { firstName: 'No' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('invalid_request');
    expect(missing.body.error.details.issues[0].path).toEqual(['email']);
    const malformed = await ws.api('POST', '/contacts', { email: 'not-an-email' });
    expect(malformed.status).toBe(400);
  });

  it('answers 404 for an id that matches nothing, whatever its form', async () => {
    const ws = await aWorkspace(app);
    for (const id of ['nope', '00000000-0000-0000-0000-000000000000', '%20', '1']) {
      const res = await ws.api('GET', `/contacts/${id}`);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });
});

describe('listing contacts', () => {
  it('lists active contacts newest first by default', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c] = await contactsInOrder(ws, ['Ann', 'Bob', 'Cid']);
    await ws.api('DELETE', `/contacts/${b.id}`);
    const res = await ws.api('GET', '/contacts');
    expect(res.status).toBe(200);
    expect(res.body.data.map((x: any) => x.id)).toEqual([c.id, a.id]);
    expect(res.body.nextCursor).toBeNull();
  });

  it('filters by status', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c] = await contactsInOrder(ws, ['Ann', 'Bob', 'Cid']);
    await ws.api('DELETE', `/contacts/${a.id}`);
    await ws.api('POST', `/contacts/${b.id}/archive`);
    const ids = async (status: string) => (await ws.api('GET', `/contacts?status=${status}`)).body.data.map((x: any) => x.id);
    expect(await ids('active')).toEqual([c.id]);
    expect(await ids('deleted')).toEqual([a.id]);
    expect(await ids('archived')).toEqual([b.id]);
    expect(await ids('merged')).toEqual([]);
    expect((await ws.api('GET', '/contacts?status=gone')).status).toBe(400);
  });

  it('matches q against first name, last name, full name and email, ignoring case', async () => {
    const ws = await aWorkspace(app);
    const ada = await aContact(ws, { email: 'countess@analytical.org', firstName: 'Ada', lastName: 'Lovelace' });
    const alan = await aContact(ws, { email: 'alan@example.com', firstName: 'Alan', lastName: 'Turing' });
    const ids = async (q: string) => (await ws.api('GET', `/contacts?q=${encodeURIComponent(q)}`)).body.data.map((x: any) => x.id);
    expect(await ids('ADA')).toEqual([ada.id]);
    expect(await ids('turing')).toEqual([alan.id]);
    expect(await ids('ada lovelace')).toEqual([ada.id]);
    expect(await ids('ANALYTICAL')).toEqual([ada.id]);
    expect(await ids('%')).toEqual([]);
  });

  it('pages with limit and cursor until nextCursor is null', async () => {
    const ws = await aWorkspace(app);
    const made = await contactsInOrder(ws, ['P1', 'P2', 'P3', 'P4', 'P5']);
    const newestFirst = made.map((c) => c.id).reverse();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: any = await ws.api('GET', `/contacts?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((x: any) => x.id));
      cursor = res.body.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(newestFirst);
  });

  it('pages through contacts whose times have microseconds, as raw SQL writes them', async () => {
    const ws = await aWorkspace(app);
    await sql`
      INSERT INTO contacts (workspace_id, email, created_at, updated_at)
      SELECT ${ws.id}, 'sql' || n || '@example.com', '2020-01-01 00:00:00.123456+00', '2020-01-01 00:00:00.123456+00'
      FROM generate_series(1, 3) AS n`.execute(app.ctx.db);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await ws.api('GET', `/contacts?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((x: any) => x.email));
      cursor = res.body.nextCursor;
    } while (cursor && seen.length < 10);
    expect(seen.sort()).toEqual(['sql1@example.com', 'sql2@example.com', 'sql3@example.com']);
  });

  it('takes limits from 1 to 500 and refuses others and foreign cursors with 400', async () => {
    const ws = await aWorkspace(app);
    await contactsInOrder(ws, ['L1', 'L2']);
    expect((await ws.api('GET', '/contacts?limit=1')).body.data).toHaveLength(1);
    expect((await ws.api('GET', '/contacts?limit=500')).body.data).toHaveLength(2);
    for (const query of ['limit=0', 'limit=501', 'limit=abc', 'limit=1.5', 'cursor=garbage']) {
      const res = await ws.api('GET', `/contacts?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });
});

describe('searching more contacts than a search reads in order', () => {
  // A search reads the first 2,000 contacts in page order before it asks the trigram index
  // of the contacts' search text (src/contacts/search.ts): 2,500 make both ways answer.
  let ws: TestWorkspace;
  const ids = async (query: string) => (await ws.api('GET', `/contacts?${query}`)).body;
  beforeAll(async () => {
    ws = await aWorkspace(app);
    await sql`
      INSERT INTO contacts (workspace_id, email, first_name, last_name, created_at, updated_at)
      SELECT ${ws.id}, 'filler' || n || '@example.com', CASE WHEN n <= 30 THEN 'Oldtimer' ELSE 'Filler' END, 'Number ' || n,
             timestamptz '2020-01-01' + n * interval '1 minute', timestamptz '2020-01-01' + n * interval '1 minute'
      FROM generate_series(1, 2500) AS n`.execute(app.ctx.db);
    // Another workspace's matches are in the same index: never in this one's answers.
    const other = await aWorkspace(app);
    await aContact(other, { email: 'filler3@example.com', firstName: 'Oldtimer', lastName: 'Number 29' });
  });

  it('finds a rare match among the oldest, and pages through all of them newest first', async () => {
    // The 30 oldest, past the first 2,000 read in order: the first page comes from the
    // index; the later ones read what is left after the cursor, in order.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await ids(`q=OLDTIMER&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.data.map((c: any) => c.email));
      cursor = page.nextCursor;
    } while (cursor && seen.length < 100);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => `filler${30 - i}@example.com`));
    expect((await ids('q=filler3%40')).data.map((c: any) => c.email)).toEqual(['filler3@example.com']);
    expect((await ids('q=oldtimer%20number%202&limit=5')).data.map((c: any) => c.lastName)).toEqual(['Number 29', 'Number 28', 'Number 27', 'Number 26', 'Number 25']);
  });

  it('finds a contact by its new name once renamed, and no longer by its old one', async () => {
    const { rows } = await sql<{ id: string }>`SELECT id FROM contacts WHERE workspace_id = ${ws.id} AND email = 'filler7@example.com'`.execute(app.ctx.db);
    const id = rows[0].id;
    expect((await ws.api('PATCH', `/contacts/${id}`, { firstName: 'Zebulon', email: 'zeb@example.org' })).status).toBe(200);
    expect((await ids('q=zebulon')).data.map((c: any) => c.id)).toEqual([id]);
    expect((await ids('q=zeb%40example')).data.map((c: any) => c.id)).toEqual([id]);
    expect((await ids('q=filler7%40')).data).toEqual([]);
  });

  it('keeps every search text exact when one statement renames contacts of two workspaces, and one that changes only their status leaves them be', async () => {
    // The search index follows a bulk rename (an import's update, an undo, a rollback) in
    // one statement per workspace (migration 112): each renamed text is the new one, the
    // untouched contacts keep theirs, and a status-only update rewrites none.
    const other = await aWorkspace(app);
    await aContact(other, { email: 'bulk-other@example.com', firstName: 'Before' });
    const textsNotMatching = async () => {
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM contact_search s JOIN contacts c ON c.workspace_id = s.workspace_id AND c.id = s.contact_id
        WHERE s.workspace_id IN (${ws.id}, ${other.id}) AND s.search_text <> contact_search_text(c.email, c.first_name, c.last_name)`.execute(app.ctx.db);
      return rows[0].n;
    };
    await sql`
      UPDATE contacts SET first_name = CASE WHEN workspace_id = ${ws.id} THEN 'Bulkrenamed' ELSE 'Elsewhere' END
      WHERE (workspace_id = ${ws.id} AND email LIKE 'filler24%') OR (workspace_id = ${other.id} AND email = 'bulk-other@example.com')`.execute(app.ctx.db);
    expect(await textsNotMatching()).toBe(0);
    expect((await ids('q=bulkrenamed&limit=500')).data.length).toBe(1 + 10 + 100);
    expect((await other.api('GET', '/contacts?q=elsewhere')).body.data.map((c: any) => c.email)).toEqual(['bulk-other@example.com']);
    expect((await other.api('GET', '/contacts?q=before')).body.data).toEqual([]);

    const { rows: before } = await sql<{ ctid: string }>`SELECT ctid::text FROM contact_search WHERE workspace_id = ${ws.id} ORDER BY contact_id`.execute(app.ctx.db);
    // a constant time: Citus refuses a STABLE expression over a column (timestamptz + interval) in an UPDATE
    await sql`UPDATE contacts SET updated_at = ${new Date('2030-01-01T00:00:00Z')} WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
    const { rows: after } = await sql<{ ctid: string }>`SELECT ctid::text FROM contact_search WHERE workspace_id = ${ws.id} ORDER BY contact_id`.execute(app.ctx.db);
    expect(after).toEqual(before);
    expect(await textsNotMatching()).toBe(0);
  });

  it('finds a common match within the first contacts read, newest first', async () => {
    const page = await ids('q=filler&limit=3');
    expect(page.data.map((c: any) => c.lastName)).toEqual(['Number 2500', 'Number 2499', 'Number 2498']);
    expect(page.nextCursor).not.toBeNull();
  });

  it('finds nothing for text no contact has, and takes wildcards literally', async () => {
    expect((await ids('q=nobody-has-this')).data).toEqual([]);
    expect((await ids('q=fil%25ler')).data).toEqual([]);
    expect((await ids('q=_iller25')).data).toEqual([]);
  });
});

describe('searching for text more contacts have than the index’s matches are looked up for', () => {
  it('reads in page order past the first 500 and answers, on either engine', async () => {
    // 20,100 "Common" contacts (the oldest) under 600 newer others: past the first 500 read
    // in order, the index gives more than 20,000 matches, and the page is read in order.
    const ws = await aWorkspace(app);
    await sql`
      INSERT INTO contacts (workspace_id, email, first_name, created_at, updated_at)
      SELECT ${ws.id}, 'many' || n || '@example.com', CASE WHEN n <= 20100 THEN 'Common' ELSE 'Other' END,
             timestamptz '2020-01-01' + n * interval '1 second', timestamptz '2020-01-01' + n * interval '1 second'
      FROM generate_series(1, 20700) AS n`.execute(app.ctx.db);
    const page = (await ws.api('GET', '/contacts?q=common&limit=3')).body;
    expect(page.data.map((c: any) => c.email)).toEqual(['many20100@example.com', 'many20099@example.com', 'many20098@example.com']);
  });
});

describe('changing contacts', () => {
  it('changes the given fields and leaves the others', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws, { email: 'p@example.com', firstName: 'Pat', lastName: 'Lee' });
    app.clock.advance(60);
    const res = await ws.api('PATCH', `/contacts/${c.id}`, { lastName: 'Kim', phone: '+44 1', fields: { tier: 2 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ email: 'p@example.com', firstName: 'Pat', lastName: 'Kim', phone: '+44 1', fields: { tier: 2 } });
    expect(res.body.createdAt).toBe(c.createdAt);
    expect(Math.abs(Date.parse(res.body.updatedAt) - Date.parse(c.updatedAt) - 60_000)).toBeLessThan(5_000);
    const cleared = await ws.api('PATCH', `/contacts/${c.id}`, { phone: null });
    expect(cleared.body.phone).toBeNull();
  });

  it('refuses an email another contact holds with 409 email_taken', async () => {
    const ws = await aWorkspace(app);
    const a = await aContact(ws, { email: 'a@example.com' });
    const b = await aContact(ws, { email: 'b@example.com' });
    const res = await ws.api('PATCH', `/contacts/${b.id}`, { email: 'A@example.com' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'email_taken', details: { contactId: a.id } });
    expect((await ws.api('GET', `/contacts/${b.id}`)).body.email).toBe('b@example.com');
  });

  it('changes only active contacts: archived and deleted ones answer 409 invalid_state', async () => {
    const ws = await aWorkspace(app);
    const archived = await aContact(ws);
    const deleted = await aContact(ws);
    await ws.api('POST', `/contacts/${archived.id}/archive`);
    await ws.api('DELETE', `/contacts/${deleted.id}`);
    for (const c of [archived, deleted]) {
      const res = await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'Changed' });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('invalid_state');
      expect((await ws.api('GET', `/contacts/${c.id}`)).body.firstName).toBe(c.firstName);
    }
  });

  it('refuses an empty patch, unknown fields and an unknown contact', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    expect((await ws.api('PATCH', `/contacts/${c.id}`, {})).status).toBe(400);
    expect((await ws.api('PATCH', `/contacts/${c.id}`, { status: 'deleted' })).status).toBe(400);
    expect((await ws.api('PATCH', `/contacts/${c.id}`, { email: null })).status).toBe(400);
    expect((await ws.api('PATCH', '/contacts/missing', { firstName: 'X' })).status).toBe(404);
    expect((await ws.api('GET', `/contacts/${c.id}`)).body).toEqual(c);
  });
});

describe('deleting contacts', () => {
  it('soft-deletes a contact with who and when, and takes it off lists, accounts and tags', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
    const account = (await ws.api('POST', '/accounts', { name: 'Acme' })).body;
    const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'subscribed' });
    await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, { jobTitle: 'CTO' });
    await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: tag.id });
    const now = app.clock.advance(10);
    const res = await ws.api('DELETE', `/contacts/${c.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: c.id, status: 'deleted', deletedBy: ws.adminId, tags: [] });
    expect(Math.abs(Date.parse(res.body.deletedAt) - now.getTime())).toBeLessThan(5_000);
    expect((await ws.api('GET', `/contacts/${c.id}/lists`)).body.data).toEqual([]);
    expect((await ws.api('GET', `/contacts/${c.id}/accounts`)).body.data).toEqual([]);
    expect((await ws.api('GET', '/workspace')).body.usage).toEqual({ active: 0, archived: 0, deleted: 1 });
  });

  it('answers 409 invalid_state when the contact is already deleted, and 404 when unknown', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    await ws.api('DELETE', `/contacts/${c.id}`);
    const again = await ws.api('DELETE', `/contacts/${c.id}`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('invalid_state');
    expect((await ws.api('DELETE', '/contacts/missing')).status).toBe(404);
  });

  it('deletes a deal whose only contact is deleted', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const deal = (await ws.api('POST', '/deals', { title: 'Solo', contactIds: [c.id] })).body;
    await ws.api('DELETE', `/contacts/${c.id}`);
    const read = await ws.api('GET', `/deals/${deal.id}`);
    expect(read.body.contactIds).toEqual([]);
    expect(typeof read.body.deletedAt).toBe('string');
    expect((await ws.api('GET', '/deals')).body.data).toEqual([]);
  });

  it('keeps a shared deal without the deleted contact, and its primary when another contact left', async () => {
    const ws = await aWorkspace(app);
    const [a, b] = [await aContact(ws), await aContact(ws)];
    const deal = (await ws.api('POST', '/deals', { title: 'Shared', contactIds: [a.id, b.id], primaryContactId: a.id })).body;
    await ws.api('DELETE', `/contacts/${b.id}`);
    const read = await ws.api('GET', `/deals/${deal.id}`);
    expect(read.body).toMatchObject({ contactIds: [a.id], primaryContactId: a.id });
    expect(read.body.deletedAt).toBeUndefined();
    expect((await ws.api('GET', `/contacts/${a.id}/deals`)).body.data.map((d: any) => d.id)).toEqual([deal.id]);
  });

  it('passes the primary to the earliest-added remaining contact when the primary is deleted', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const deal = (await ws.api('POST', '/deals', { title: 'Trio', contactIds: [c.id, b.id, a.id], primaryContactId: b.id })).body;
    await ws.api('DELETE', `/contacts/${b.id}`);
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toMatchObject({ contactIds: [c.id, a.id], primaryContactId: c.id });
    await ws.api('DELETE', `/contacts/${c.id}`);
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toMatchObject({ contactIds: [a.id], primaryContactId: a.id });
  });

  it('deletes many at once and says which were skipped and why', async () => {
    const ws = await aWorkspace(app);
    const [a, b, gone, archived] = [await aContact(ws), await aContact(ws), await aContact(ws), await aContact(ws)];
    await ws.api('DELETE', `/contacts/${gone.id}`);
    await ws.api('POST', `/contacts/${archived.id}/archive`);
    const res = await ws.api('POST', '/contacts/delete', { ids: [a.id, b.id, a.id, gone.id, 'missing', archived.id] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      deleted: [a.id, b.id, archived.id],
      skipped: [
        { contactId: gone.id, reason: 'deleted' },
        { contactId: 'missing', reason: 'not_found' },
      ],
    });
    expect((await ws.api('GET', '/workspace')).body.usage).toEqual({ active: 0, archived: 0, deleted: 4 });
  });

  it('refuses a bulk delete without ids', async () => {
    const ws = await aWorkspace(app);
    expect((await ws.api('POST', '/contacts/delete', { ids: [] })).status).toBe(400);
    expect((await ws.api('POST', '/contacts/delete', {})).status).toBe(400);
  });
});

describe('archiving contacts', () => {
  it('archives an active contact and refuses an archived one with 409', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const res = await ws.api('POST', `/contacts/${c.id}/archive`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'archived', archivedBy: ws.adminId });
    expect(typeof res.body.archivedAt).toBe('string');
    expect((await ws.api('POST', `/contacts/${c.id}/archive`)).status).toBe(409);
    expect((await ws.api('POST', '/contacts/missing/archive')).status).toBe(404);
    expect((await ws.api('GET', '/workspace')).body.usage).toEqual({ active: 0, archived: 1, deleted: 0 });
  });

  it('archives many at once and keeps the email held', async () => {
    const ws = await aWorkspace(app);
    const [a, b] = [await aContact(ws, { email: 'held@example.com' }), await aContact(ws)];
    const res = await ws.api('POST', '/contacts/archive', { ids: [a.id, b.id, 'missing'] });
    expect(res.body).toEqual({ archived: [a.id, b.id], skipped: [{ contactId: 'missing', reason: 'not_found' }] });
    expect((await ws.api('POST', '/contacts', { email: 'held@example.com' })).body.error.code).toBe('email_taken');
  });
});

describe('a contact’s sub-resources', () => {
  it('lists the contact’s lists, accounts, deals and tags', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
    const account = (await ws.api('POST', '/accounts', { name: 'Acme' })).body;
    const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    const deal = (await ws.api('POST', '/deals', { title: 'Big', value: 1200.5, stage: 'won', contactIds: [c.id] })).body;
    await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'unconfirmed' });
    await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, { jobTitle: 'CFO' });
    const tagged = await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: tag.id });
    expect(tagged.body.tags).toEqual([tag.id]);
    expect((await ws.api('GET', `/contacts/${c.id}/lists`)).body).toEqual({ data: [{ listId: list.id, status: 'unconfirmed' }], nextCursor: null });
    expect((await ws.api('GET', `/contacts/${c.id}/accounts`)).body).toEqual({ data: [{ accountId: account.id, jobTitle: 'CFO' }], nextCursor: null });
    const deals = (await ws.api('GET', `/contacts/${c.id}/deals`)).body;
    expect(deals.data).toEqual([deal]);
    const untagged = await ws.api('DELETE', `/contacts/${c.id}/tags/${tag.id}`);
    expect(untagged.body.tags).toEqual([]);
    expect((await ws.api('DELETE', `/contacts/${c.id}/tags/${tag.id}`)).status).toBe(404);
  });

  it('answers 404 for the sub-resources of an unknown contact', async () => {
    const ws = await aWorkspace(app);
    for (const sub of ['lists', 'accounts', 'deals', 'history']) {
      expect((await ws.api('GET', `/contacts/missing/${sub}`)).status).toBe(404);
    }
  });

  it('tags only active contacts with live tags', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const tag = (await ws.api('POST', '/tags', { name: 'old' })).body;
    await ws.api('DELETE', `/tags/${tag.id}`);
    expect((await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: tag.id })).status).toBe(404);
    const live = (await ws.api('POST', '/tags', { name: 'new' })).body;
    await ws.api('POST', `/contacts/${c.id}/archive`);
    const res = await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: live.id });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('invalid_state');
  });
});
