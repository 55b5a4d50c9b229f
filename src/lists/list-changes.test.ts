import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const aList = async (ws: TestWorkspace, name = 'News') => (await ws.api('POST', '/lists', { name })).body;

async function aReader(ws: TestWorkspace) {
  await ws.api('POST', '/roles', { name: 'Reader', permissions: ['contacts.read'] });
  return ws.userWithRole('Reader');
}

describe('PATCH /lists/:id', () => {
  it('renames a list, audits list.renamed with both names, and allows a name another list has (names are not unique)', async () => {
    const ws = await aWorkspace(app);
    const list = await aList(ws, 'News');
    await aList(ws, 'Customers');
    const res = await ws.api('PATCH', `/lists/${list.id}`, { name: '  Customers ' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...list, name: 'Customers' });
    expect((await ws.api('GET', `/lists/${list.id}`)).body.name).toBe('Customers');
    const audit = (await ws.api('GET', `/audit-log?action=list.renamed&targetId=${list.id}`)).body.data;
    expect(audit.map((e: { details: object }) => e.details)).toEqual([{ from: 'News', to: 'Customers' }]);
  });

  it('answers 409 invalid_state for a deleted list, 404 for another workspace’s, 403 without contacts.write, 400 for a bad name', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const list = await aList(ws);
    const theirs = await aList(other, 'Theirs');
    expect((await ws.api('PATCH', `/lists/${theirs.id}`, { name: 'Mine' })).status).toBe(404);
    expect((await other.api('GET', `/lists/${theirs.id}`)).body.name).toBe('Theirs');
    const reader = await aReader(ws);
    expect((await reader.api('PATCH', `/lists/${list.id}`, { name: 'X' })).status).toBe(403);
    for (const body of [{}, { name: '' }, { name: ' ' }, { name: 'x'.repeat(201) }, { name: 3 }, { name: 'X', kind: 'static' }]) {
      const res = await ws.api('PATCH', `/lists/${list.id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    await ws.api('DELETE', `/lists/${list.id}`);
    const res = await ws.api('PATCH', `/lists/${list.id}`, { name: 'Back' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('invalid_state');
    expect((await ws.api('GET', `/lists/${list.id}`)).body.name).toBe('News');
  });
});

describe('DELETE /lists/:listId/contacts/:contactId', () => {
  it('takes the contact off the list with 204, audits it, and 404 once it is no member', async () => {
    const ws = await aWorkspace(app);
    const list = await aList(ws);
    const [a, b] = [await aContact(ws), await aContact(ws)];
    await ws.api('PUT', `/lists/${list.id}/contacts/${a.id}`, { status: 'bounced' });
    await ws.api('PUT', `/lists/${list.id}/contacts/${b.id}`, { status: 'subscribed' });
    const res = await ws.api('DELETE', `/lists/${list.id}/contacts/${a.id}`);
    expect(res.status).toBe(204);
    expect(res.raw.body).toBe('');
    expect((await ws.api('GET', `/contacts/${a.id}/lists`)).body.data).toEqual([]);
    expect((await ws.api('GET', `/lists/${list.id}`)).body.memberCount).toBe(1);
    const audit = (await ws.api('GET', `/audit-log?action=list_membership.removed&targetId=${a.id}`)).body.data;
    expect(audit.map((e: { details: object }) => e.details)).toEqual([{ listId: list.id, from: 'bounced' }]);
    const again = await ws.api('DELETE', `/lists/${list.id}/contacts/${a.id}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('not_found');
  });

  it('answers 404 for another workspace’s list or contact, 403 without contacts.write, and changes nothing', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const list = await aList(ws);
    const a = await aContact(ws);
    await ws.api('PUT', `/lists/${list.id}/contacts/${a.id}`, { status: 'subscribed' });
    const theirList = await aList(other);
    const theirContact = await aContact(other);
    await other.api('PUT', `/lists/${theirList.id}/contacts/${theirContact.id}`, { status: 'subscribed' });
    expect((await ws.api('DELETE', `/lists/${theirList.id}/contacts/${theirContact.id}`)).status).toBe(404);
    expect((await ws.api('DELETE', `/lists/${list.id}/contacts/${theirContact.id}`)).status).toBe(404);
    expect((await ws.api('DELETE', `/lists/missing/contacts/${a.id}`)).status).toBe(404);
    const reader = await aReader(ws);
    expect((await reader.api('DELETE', `/lists/${list.id}/contacts/${a.id}`)).status).toBe(403);
    expect((await ws.api('GET', `/contacts/${a.id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'subscribed' }]);
    expect((await other.api('GET', `/contacts/${theirContact.id}/lists`)).body.data).toEqual([{ listId: theirList.id, status: 'subscribed' }]);
  });
});

describe('GET /lists/:id/contacts', () => {
  it('lists the active members with their status, by contact id, a page at a time, optionally of one status', async () => {
    const ws = await aWorkspace(app);
    const list = await aList(ws);
    const contacts = [await aContact(ws), await aContact(ws), await aContact(ws), await aContact(ws)];
    const statuses = ['subscribed', 'bounced', 'subscribed', 'unsubscribed'];
    for (const [i, c] of contacts.entries()) await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: statuses[i] });
    await ws.api('DELETE', `/contacts/${contacts[3].id}`);
    const member = (i: number) => ({ contactId: contacts[i].id, email: contacts[i].email, firstName: contacts[i].firstName, lastName: contacts[i].lastName, status: statuses[i] });
    const expected = [0, 1, 2].map(member).sort((x, y) => (x.contactId < y.contactId ? -1 : 1));

    const first = (await ws.api('GET', `/lists/${list.id}/contacts?limit=2`)).body;
    expect(first.data).toEqual(expected.slice(0, 2));
    const second = (await ws.api('GET', `/lists/${list.id}/contacts?limit=2&cursor=${first.nextCursor}`)).body;
    expect(second).toEqual({ data: expected.slice(2), nextCursor: null });
    const subscribed = (await ws.api('GET', `/lists/${list.id}/contacts?status=subscribed`)).body;
    expect(subscribed).toEqual({ data: expected.filter((m) => m.status === 'subscribed'), nextCursor: null });
  });

  it('answers 404 for another workspace’s list, 403 without contacts.read, 400 for a bad status or cursor', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const list = await aList(ws);
    const theirs = await aList(other);
    expect((await ws.api('GET', `/lists/${theirs.id}/contacts`)).status).toBe(404);
    expect((await ws.api('GET', '/lists/missing/contacts')).status).toBe(404);
    await ws.api('POST', '/roles', { name: 'Nobody', permissions: [] });
    const nobody = await ws.userWithRole('Nobody');
    expect((await nobody.api('GET', `/lists/${list.id}/contacts`)).status).toBe(403);
    for (const query of ['status=gone', 'cursor=nonsense', 'limit=0', 'limit=501']) {
      const res = await ws.api('GET', `/lists/${list.id}/contacts?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });
});
