import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, call, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

/** Raw request with a JSON content type, for bodies `call` cannot send. */
async function rawPost(ws: TestWorkspace, url: string, payload: string, contentType = 'application/json') {
  const res = await app.server.inject({
    method: 'POST',
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${ws.adminToken}`, 'content-type': contentType },
    payload,
  });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

async function usage(ws: TestWorkspace) {
  return (await ws.api('GET', '/workspace')).body.usage;
}

describe('authentication', () => {
  it('answers 401 unauthenticated without a token, with a bad one and with a forged one', async () => {
    const ws = await aWorkspace(app);
    const forged = ws.adminToken.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A'));
    const otherWorkspaceToken = ws.adminToken.replace(ws.id, '00000000-0000-0000-0000-000000000000');
    for (const header of [undefined, 'Bearer', 'Bearer nonsense', `Basic ${ws.adminToken}`, `Bearer ${forged}`, `Bearer ${otherWorkspaceToken}`, 'Bearer rt..x']) {
      const res = await app.server.inject({ method: 'GET', url: '/api/v1/contacts', headers: header ? { authorization: header } : {} });
      expect(res.statusCode, header).toBe(401);
      expect(JSON.parse(res.body).error).toEqual({ code: 'unauthenticated', message: 'A valid bearer token is required', details: {} });
    }
  });

  it('refuses a write without a token and changes nothing', async () => {
    const ws = await aWorkspace(app);
    expect((await call(app.server, null, 'POST', '/contacts', { email: 'anon@example.com' })).status).toBe(401);
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
  });
});

describe('bad input answers 400 invalid_request and changes nothing', () => {
  it('malformed JSON', async () => {
    const ws = await aWorkspace(app);
    const res = await rawPost(ws, '/contacts', '{"email": "broken@example.com",');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(Array.isArray(res.body.error.details.issues)).toBe(true);
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
  });

  it('an empty body, a JSON null and a body that is not an object where a body is needed', async () => {
    const ws = await aWorkspace(app);
    for (const payload of ['', ' ', 'null', '[]', '"email"', '42']) {
      const res = await rawPost(ws, '/contacts', payload);
      expect(res.status, payload).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
  });

  it('a missing, null or non-JSON body is 400 even without a token, found before authentication', async () => {
    const ws = await aWorkspace(app);
    for (const [payload, contentType] of [['hi', 'text/plain'], ['', 'application/json'], ['null', 'application/json']]) {
      for (const url of ['/api/v1/contacts', '/api/v1/rollbacks']) {
        const res = await app.server.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload });
        expect(res.statusCode, `${url} ${contentType} ${payload}`).toBe(400);
        expect(JSON.parse(res.body).error).toMatchObject({ code: 'invalid_request', details: { issues: [{ in: 'body', path: [] }] } });
      }
    }
    const wellFormed = await app.server.inject({ method: 'POST', url: '/api/v1/contacts', headers: { 'content-type': 'application/json' }, payload: '{"email":1}' });
    expect(wellFormed.statusCode).toBe(401);
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
  });

  it('__proto__ and constructor keys', async () => {
    const ws = await aWorkspace(app);
    for (const payload of ['{"email":"p@example.com","__proto__":{"x":1}}', '{"email":"p@example.com","fields":{"constructor":{"prototype":{}}}}']) {
      const res = await rawPost(ws, '/contacts', payload);
      expect(res.status, payload).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_request', message: 'Keys named __proto__ or constructor are refused in request bodies' });
    }
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
  });

  it('a body that is not JSON', async () => {
    const ws = await aWorkspace(app);
    const res = await rawPost(ws, '/contacts', 'email=x@example.com', 'application/x-www-form-urlencoded');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
  });

  it('wrong types, with the issue’s path', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/contacts', { email: 'typed@example.com', firstName: 42, fields: 'x', tags: 'vip' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.details.issues.map((i: any) => i.path)).toEqual([['firstName'], ['fields'], ['tags']]);
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
  });

  it('unknown fields', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const created = await ws.api('POST', '/contacts', { email: 'extra@example.com', favouriteColour: 'blue' });
    expect(created.status).toBe(400);
    expect(created.body.error.code).toBe('invalid_request');
    const patched = await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'New', createdAt: '2000-01-01T00:00:00Z' });
    expect(patched.status).toBe(400);
    expect(await usage(ws)).toEqual({ active: 1, archived: 0, deleted: 0 });
    expect((await ws.api('GET', `/contacts/${c.id}`)).body).toEqual(c);
  });

  it('a body over 1 MiB', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const big = JSON.stringify({ email: 'big@example.com', fields: { blob: 'x'.repeat(1024 * 1024) } });
    const res = await rawPost(ws, '/contacts', big);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    const patch = await app.server.inject({
      method: 'PATCH',
      url: `/api/v1/contacts/${c.id}`,
      headers: { authorization: `Bearer ${ws.adminToken}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ fields: { blob: 'y'.repeat(1024 * 1024 + 10) } }),
    });
    expect(patch.statusCode).toBe(400);
    expect(await usage(ws)).toEqual({ active: 1, archived: 0, deleted: 0 });
    expect((await ws.api('GET', `/contacts/${c.id}`)).body).toEqual(c);
  });

  it('repeated or over-long query parameters', async () => {
    const ws = await aWorkspace(app);
    for (const query of ['status=active&status=deleted', 'limit=1&limit=2', `q=${'a'.repeat(201)}`]) {
      const res = await ws.api('GET', `/contacts?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('query parameters given empty take their defaults, as the contract writes them (?q=&status=)', async () => {
    const ws = await aWorkspace(app);
    const [kept, gone] = [await aContact(ws), await aContact(ws)];
    await ws.api('DELETE', `/contacts/${gone.id}`);
    const contacts = await ws.api('GET', '/contacts?q=&status=&limit=&cursor=');
    expect(contacts.status).toBe(200);
    expect(contacts.body).toEqual((await ws.api('GET', '/contacts')).body);
    expect(contacts.body.data.map((c: any) => c.id)).toEqual([kept.id]);
    const deleted = await ws.api('GET', '/deleted-contacts?q=&deletedFrom=&deletedTo=');
    expect(deleted.status).toBe(200);
    expect(deleted.body.data.map((c: any) => c.id)).toEqual([gone.id]);
    expect((await ws.api('GET', '/deleted-contacts/count?q=&deletedFrom=&deletedTo=')).body).toEqual({ total: 1 });
    expect((await ws.api('GET', '/archived-contacts/count?q=&archivedFrom=&archivedTo=')).body).toEqual({ total: 0, frozen: 0 });
  });

  it('an unknown route answers 404 not_found', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('GET', '/no-such-thing');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('another workspace’s things answer 404, as if they did not exist', () => {
  interface Theirs {
    contactId: string;
    listId: string;
    accountId: string;
    dealId: string;
    tagId: string;
  }

  /** Every route of the foundation that names a thing of the workspace in its path. */
  const routes: [method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: (t: Theirs) => string, body?: (t: Theirs) => unknown][] = [
    ['GET', (t) => `/contacts/${t.contactId}`],
    ['PATCH', (t) => `/contacts/${t.contactId}`, () => ({ firstName: 'Hijacked' })],
    ['DELETE', (t) => `/contacts/${t.contactId}`],
    ['POST', (t) => `/contacts/${t.contactId}/archive`],
    ['GET', (t) => `/contacts/${t.contactId}/history`],
    ['GET', (t) => `/contacts/${t.contactId}/lists`],
    ['GET', (t) => `/contacts/${t.contactId}/accounts`],
    ['GET', (t) => `/contacts/${t.contactId}/deals`],
    ['POST', (t) => `/contacts/${t.contactId}/tags`, (t) => ({ tagId: t.tagId })],
    ['DELETE', (t) => `/contacts/${t.contactId}/tags/${t.tagId}`],
    ['GET', (t) => `/lists/${t.listId}`],
    ['DELETE', (t) => `/lists/${t.listId}`],
    ['PUT', (t) => `/lists/${t.listId}/contacts/${t.contactId}`, () => ({ status: 'unsubscribed' })],
    ['GET', (t) => `/accounts/${t.accountId}`],
    ['DELETE', (t) => `/accounts/${t.accountId}`],
    ['PUT', (t) => `/accounts/${t.accountId}/contacts/${t.contactId}`, () => ({ jobTitle: 'Spy' })],
    ['GET', (t) => `/deals/${t.dealId}`],
    ['DELETE', (t) => `/tags/${t.tagId}`],
  ];

  for (const [method, url, body] of routes) {
    const shape = url({ contactId: ':contactId', listId: ':listId', accountId: ':accountId', dealId: ':dealId', tagId: ':tagId' });
    it(`${method} ${shape}`, async () => {
      const mine = await aWorkspace(app);
      const victim = await aWorkspace(app);
      const contact = await aContact(victim);
      const theirs: Theirs = {
        contactId: contact.id,
        listId: (await victim.api('POST', '/lists', { name: 'L' })).body.id,
        accountId: (await victim.api('POST', '/accounts', { name: 'A' })).body.id,
        tagId: (await victim.api('POST', '/tags', { name: 'T' })).body.id,
        dealId: (await victim.api('POST', '/deals', { title: 'D', contactIds: [contact.id] })).body.id,
      };
      await victim.api('PUT', `/lists/${theirs.listId}/contacts/${contact.id}`, { status: 'subscribed' });
      await victim.api('PUT', `/accounts/${theirs.accountId}/contacts/${contact.id}`, { jobTitle: 'CEO' });
      await victim.api('POST', `/contacts/${contact.id}/tags`, { tagId: theirs.tagId });
      const before = (await victim.api('GET', `/contacts/${contact.id}`)).body;

      const res = await mine.api(method, url(theirs), body?.(theirs));
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');

      expect((await victim.api('GET', `/contacts/${contact.id}`)).body).toEqual(before);
      expect((await victim.api('GET', `/contacts/${contact.id}/lists`)).body.data).toEqual([{ listId: theirs.listId, status: 'subscribed' }]);
      expect((await victim.api('GET', `/contacts/${contact.id}/accounts`)).body.data).toEqual([{ accountId: theirs.accountId, jobTitle: 'CEO' }]);
      expect((await victim.api('GET', '/deals')).body.data.map((d: any) => d.id)).toEqual([theirs.dealId]);
    });
  }

  it('bulk routes skip another workspace’s contacts as not found', async () => {
    const mine = await aWorkspace(app);
    const victim = await aWorkspace(app);
    const contact = await aContact(victim);
    expect((await mine.api('POST', '/contacts/delete', { ids: [contact.id] })).body).toEqual({ deleted: [], skipped: [{ contactId: contact.id, reason: 'not_found' }] });
    expect((await mine.api('POST', '/contacts/archive', { ids: [contact.id] })).body).toEqual({ archived: [], skipped: [{ contactId: contact.id, reason: 'not_found' }] });
    expect((await victim.api('GET', `/contacts/${contact.id}`)).body.status).toBe('active');
  });

  it('bodies naming another workspace’s contacts or tags are refused as unknown ids', async () => {
    const mine = await aWorkspace(app);
    const victim = await aWorkspace(app);
    const contact = await aContact(victim);
    const tag = (await victim.api('POST', '/tags', { name: 'T' })).body;
    expect((await mine.api('POST', '/deals', { title: 'D', contactIds: [contact.id] })).status).toBe(400);
    expect((await mine.api('POST', '/contacts', { email: 'x@example.com', tags: [tag.id] })).status).toBe(400);
    expect((await mine.api('GET', '/deals')).body.data).toEqual([]);
    expect(await usage(mine)).toEqual({ active: 0, archived: 0, deleted: 0 });
  });

  it('lists never show another workspace’s things', async () => {
    const mine = await aWorkspace(app);
    const victim = await aWorkspace(app);
    const contact = await aContact(victim);
    await victim.api('POST', '/lists', { name: 'L' });
    await victim.api('POST', '/accounts', { name: 'A' });
    await victim.api('POST', '/tags', { name: 'T' });
    await victim.api('POST', '/deals', { title: 'D', contactIds: [contact.id] });
    for (const url of ['/contacts', '/lists', '/accounts', '/tags', '/deals', '/users', '/audit-log']) {
      const data = (await mine.api('GET', url)).body.data;
      expect(JSON.stringify(data), url).not.toContain(victim.id);
      expect(JSON.stringify(data), url).not.toContain(contact.id);
    }
    expect((await mine.api('GET', '/contacts')).body.data).toEqual([]);
    expect((await mine.api('GET', '/users')).body.data.map((u: any) => u.id)).toEqual([mine.adminId]);
  });
});

describe('collections page', () => {
  it('every collection pages by ?limit= and ?cursor=: one item a page leads through all of them, in order', async () => {
    const ws = await aWorkspace(app);
    const [ann, bob] = [await aContact(ws), await aContact(ws)];
    await ws.userWithRole('member');
    await ws.userWithRole('manager');
    for (let i = 0; i < 3; i += 1) {
      const list = (await ws.api('POST', '/lists', { name: `List ${i}` })).body;
      const account = (await ws.api('POST', '/accounts', { name: `Account ${i}` })).body;
      await ws.api('POST', '/tags', { name: `Tag ${i}` });
      await ws.api('PUT', `/lists/${list.id}/contacts/${ann.id}`, { status: 'subscribed' });
      await ws.api('PUT', `/accounts/${account.id}/contacts/${ann.id}`, { jobTitle: `Title ${i}` });
      await ws.api('POST', '/deals', { title: `Deal ${i}`, contactIds: [ann.id, bob.id] });
    }
    const collections = ['/users', '/roles', '/lists', '/accounts', '/tags', '/deals', `/contacts/${ann.id}/lists`, `/contacts/${ann.id}/accounts`, `/contacts/${ann.id}/deals`, `/contacts/${ann.id}/history`];
    for (const url of collections) {
      const whole = (await ws.api('GET', `${url}?limit=500`)).body;
      expect(whole.data.length, url).toBeGreaterThanOrEqual(3);
      expect(whole.nextCursor, url).toBeNull();
      const paged: unknown[] = [];
      for (let cursor: string | null = null, pages = 0; pages <= whole.data.length; pages += 1) {
        const page: { data: unknown[]; nextCursor: string | null } = (await ws.api('GET', `${url}?limit=1${cursor ? `&cursor=${cursor}` : ''}`)).body;
        expect(page.data, url).toHaveLength(1);
        paged.push(...page.data);
        cursor = page.nextCursor;
        if (cursor === null) break;
      }
      expect(paged, url).toEqual(whole.data);
      for (const query of ['limit=0', 'limit=501', 'cursor=zzz']) {
        const bad = await ws.api('GET', `${url}?${query}`);
        expect(bad.status, `${url}?${query}`).toBe(400);
        expect(bad.body.error.details.issues[0].in).toBe('query');
      }
    }
    expect((await ws.api('GET', '/deals')).body.data.map((d: { title: string }) => d.title)).toEqual(['Deal 0', 'Deal 1', 'Deal 2']);
  });
});

describe('odd input never answers 5xx', () => {
  const cursorOf = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

  it('a path id with a NUL byte, of great length or that cannot be decoded is 404', async () => {
    const ws = await aWorkspace(app);
    for (const id of ['%00', 'a%00b', 'x'.repeat(5000), '%E2%82%AC', '%ff', '%E0%A4%A', '%c0%af']) {
      const res = await ws.api('GET', `/contacts/${id}`);
      expect(res.status, id.slice(0, 10)).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      expect((await ws.api('DELETE', `/lists/${id}`)).status).toBe(404);
    }
  });

  it('a NUL byte in a body or query string is 400 and changes nothing', async () => {
    const ws = await aWorkspace(app);
    for (const body of [{ email: 'nul@example.com', firstName: 'a\u0000b' }, { email: 'nul@example.com', fields: { 'k\u0000': 1 } }, { email: 'nul@example.com', fields: { k: 'v\u0000' } }]) {
      const res = await ws.api('POST', '/contacts', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await ws.api('GET', '/contacts?q=%00')).status).toBe(400);
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
  });

  it('a lone surrogate or a leading byte-order mark in a body string or key is 400 naming its path, and changes nothing', async () => {
    const ws = await aWorkspace(app);
    const cases: [string, (string | number)[], string][] = [
      ['{"email":"s1@example.com","firstName":"a\\ud800b"}', ['firstName'], 'a lone UTF-16 surrogate, which is no character'],
      ['{"email":"s2@example.com","lastName":"\\udfffb"}', ['lastName'], 'a lone UTF-16 surrogate, which is no character'],
      ['{"email":"s3@example.com","fields":{"k":["x","a\\ud800"]}}', ['fields', 'k', 1], 'a lone UTF-16 surrogate, which is no character'],
      ['{"email":"s4@example.com","fields":{"\\udc00":1}}', ['fields', '\udc00'], 'a lone UTF-16 surrogate, which is no character'],
      ['{"email":"s5@example.com","firstName":"\\ufeffAda"}', ['firstName'], 'a leading byte-order mark (U+FEFF)'],
      ['{"email":"s6@example.com","firstName":"\ufeffAda"}', ['firstName'], 'a leading byte-order mark (U+FEFF)'],
    ];
    for (const [payload, path, message] of cases) {
      const res = await rawPost(ws, '/contacts', payload);
      expect({ payload, status: res.status, error: res.body.error }).toEqual({
        payload,
        status: 400,
        error: { code: 'invalid_request', message: `The request body cannot be stored: ${message}`, details: { issues: [{ in: 'body', path, message }] } },
      });
    }
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
  });

  it('a whole surrogate pair and a byte-order mark inside a string are stored exactly', async () => {
    const ws = await aWorkspace(app);
    const res = await rawPost(ws, '/contacts', '{"email":"pair@example.com","firstName":"\\ud83d\\ude00 A\\ufeffda"}');
    expect(res.status).toBe(201);
    expect((await ws.api('GET', `/contacts/${res.body.id}`)).body.firstName).toBe('\u{1F600} A\ufeffda');
  });

  it('a body that starts with a byte-order mark or holds bytes that are not UTF-8 is 400, and changes nothing', async () => {
    const ws = await aWorkspace(app);
    const utf8 = (text: string) => Buffer.from(text, 'utf8');
    const bodies = [
      { payload: utf8('\ufeff{"email":"bom@example.com"}'), message: 'a leading byte-order mark' },
      { payload: Buffer.concat([utf8('{"email":"b1@example.com","firstName":"a'), Buffer.from([0xff]), utf8('"}')]), message: 'bytes that are not UTF-8' },
      // A surrogate written as UTF-8 bytes (CESU-8): not UTF-8 either.
      { payload: Buffer.concat([utf8('{"email":"b2@example.com","firstName":"a'), Buffer.from([0xed, 0xa0, 0x80]), utf8('"}')]), message: 'bytes that are not UTF-8' },
    ];
    for (const { payload, message } of bodies) {
      const res = await app.server.inject({ method: 'POST', url: '/api/v1/contacts', headers: { authorization: `Bearer ${ws.adminToken}`, 'content-type': 'application/json' }, payload });
      expect(res.statusCode).toBe(400);
      expect(JSON.parse(res.body).error).toMatchObject({ code: 'invalid_request', details: { issues: [{ in: 'body', path: [], message }] } });
    }
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
  });

  it('a JSON body declared in a charset other than UTF-8 is 415, and changes nothing; utf-8 in any case is taken', async () => {
    const ws = await aWorkspace(app);
    for (const charset of ['utf-16', 'UTF-16LE', 'iso-8859-1', '"utf-32"']) {
      const res = await rawPost(ws, '/contacts', '{"email":"cs@example.com"}', `application/json; charset=${charset}`);
      expect(res.status, charset).toBe(415);
      expect(res.body.error).toMatchObject({ code: 'invalid_request', details: { issues: [{ in: 'body', path: [] }] } });
    }
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
    expect((await rawPost(ws, '/contacts', '{"email":"cs1@example.com"}', 'application/json; charset=UTF-8')).status).toBe(201);
    expect((await rawPost(ws, '/contacts', '{"email":"cs2@example.com"}', 'application/json;charset="utf-8"')).status).toBe(201);
  });

  it('a query value with a leading byte-order mark or percent-encoding that is not UTF-8 is 400 naming the parameter', async () => {
    const ws = await aWorkspace(app);
    for (const [query, message] of [
      ['q=%EF%BB%BFada', 'a leading byte-order mark (U+FEFF)'],
      ['q=%ff', 'percent-encoding that is not UTF-8'],
      ['q=%ED%A0%80', 'percent-encoding that is not UTF-8'],
      ['limit=2&q=a%E0%A4', 'percent-encoding that is not UTF-8'],
    ]) {
      const res = await ws.api('GET', `/contacts?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.details.issues).toEqual([{ in: 'query', path: ['q'], message }]);
    }
    expect((await ws.api('GET', '/contacts?q=%E2%82%AC+x')).status).toBe(200);
  });

  it('deeply nested JSON is 400 and changes nothing', async () => {
    const ws = await aWorkspace(app);
    const depth = 200_000;
    const res = await rawPost(ws, '/contacts', `{"email":"deep@example.com","fields":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(await usage(ws)).toEqual({ active: 0, archived: 0, deleted: 0 });
    const modest = await rawPost(ws, '/contacts', `{"email":"deep@example.com","fields":{"a":${'['.repeat(40)}1${']'.repeat(40)}}}`);
    expect(modest.status).toBe(201);
  });

  it('a well-formed cursor with values of the wrong kind is 400', async () => {
    const ws = await aWorkspace(app);
    for (const cursor of [cursorOf(['not a time', 'id']), cursorOf([12, 'id']), cursorOf(['2026-01-01T00:00:00Z', 5])]) {
      expect((await ws.api('GET', `/contacts?cursor=${cursor}`)).status).toBe(400);
    }
    for (const cursor of [cursorOf(['abc']), cursorOf([1.5]), cursorOf([1e300])]) {
      expect((await ws.api('GET', `/audit-log?cursor=${cursor}`)).status).toBe(400);
    }
  });

  it('a cursor of nonsense times, over-long ids or the wrong shape is 400 on every kind of collection, not an empty page', async () => {
    const ws = await aWorkspace(app);
    const nonsense = [
      cursorOf(['99999-01-01T00:00:00.000000Z', 'id']),
      cursorOf(['2026-02-30T00:00:00.000000Z', 'id']),
      cursorOf(['2026-01-01T24:00:00.000000Z', 'id']),
      cursorOf(['1969-12-31T23:59:59.000000Z', 'id']),
      cursorOf(['2026-01-01T00:00:00.0000001Z', 'id']),
      cursorOf(['2026-01-01T00:00:00.000000Z', 'x'.repeat(513)]),
      cursorOf(['2026-01-01T00:00:00.000000Z', 'id', 'extra']),
      cursorOf({ at: '2026-01-01T00:00:00.000000Z' }),
    ];
    for (const url of ['/contacts', '/forms', '/automations', '/messages', '/lists', '/deleted-contacts']) {
      for (const cursor of nonsense) {
        const res = await ws.api('GET', `${url}?cursor=${cursor}`);
        expect({ url, cursor, status: res.status }).toEqual({ url, cursor, status: 400 });
        expect(res.body.error.details.issues).toEqual([{ in: 'query', path: ['cursor'], message: 'invalid cursor' }]);
      }
    }
    expect((await ws.api('GET', `/forms?cursor=${cursorOf(['2026-01-01T00:00:00.123456Z', 'id'])}`)).body).toEqual({ data: [], nextCursor: null });
  });

  it('concurrent creates of one email: one contact, the others 409 email_taken', async () => {
    const ws = await aWorkspace(app);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => ws.api('POST', '/contacts', { email: 'race@example.com' })),
    );
    const created = results.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'email_taken', details: { contactId: created[0].body.id } });
    }
  });

  it('concurrent changes to one email: one wins, the other is 409 email_taken', async () => {
    const ws = await aWorkspace(app);
    const [a, b] = [await aContact(ws), await aContact(ws)];
    const results = await Promise.all([a, b].map((c) => ws.api('PATCH', `/contacts/${c.id}`, { email: 'same@example.com' })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(results.find((r) => r.status === 409)?.body.error.code).toBe('email_taken');
  });
});

describe('requests that need no body', () => {
  it('take an empty text/plain body, as fetch sends for body ""', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const res = await app.server.inject({
      method: 'POST',
      url: `/api/v1/contacts/${c.id}/archive`,
      headers: { authorization: `Bearer ${ws.adminToken}`, 'content-type': 'text/plain;charset=UTF-8' },
      payload: '',
    });
    expect(res.statusCode).toBe(200);
    expect((await ws.api('GET', `/contacts/${c.id}`)).body.status).toBe('archived');
  });

  it('refuse a body with fields (unknown fields, as anywhere) and change nothing; {} is no body', async () => {
    const ws = await aWorkspace(app);
    const [a, b] = [await aContact(ws), await aContact(ws)];
    const refused = await ws.api('POST', `/contacts/${a.id}/archive`, { reason: 'tidy' });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'invalid_request', details: { issues: [{ in: 'body', path: ['reason'] }] } });
    expect((await rawPost(ws, `/contacts/${a.id}/archive`, '[1]')).status).toBe(400);
    expect((await ws.api('DELETE', `/contacts/${b.id}`, { hard: true })).status).toBe(400);
    expect(await usage(ws)).toEqual({ active: 2, archived: 0, deleted: 0 });
    expect((await ws.api('POST', `/contacts/${a.id}/archive`, {})).status).toBe(200);
    expect(await usage(ws)).toEqual({ active: 1, archived: 1, deleted: 0 });
  });

  it('take an empty body sent as JSON', async () => {
    const ws = await aWorkspace(app);
    const [a, b] = [await aContact(ws), await aContact(ws)];
    const archived = await rawPost(ws, `/contacts/${a.id}/archive`, '');
    expect(archived.status).toBe(200);
    expect(archived.body.status).toBe('archived');
    const deleted = await app.server.inject({
      method: 'DELETE',
      url: `/api/v1/contacts/${b.id}`,
      headers: { authorization: `Bearer ${ws.adminToken}`, 'content-type': 'application/json' },
    });
    expect(deleted.statusCode).toBe(200);
    expect(await usage(ws)).toEqual({ active: 0, archived: 1, deleted: 1 });
  });
});
