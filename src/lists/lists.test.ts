import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

describe('lists', () => {
  it('creates a list, reads it and lists it', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/lists', { name: '  Newsletter ' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: res.body.id, name: 'Newsletter', createdAt: res.body.createdAt, deletedAt: null, memberCount: 0 });
    expect((await ws.api('GET', `/lists/${res.body.id}`)).body).toEqual(res.body);
    expect((await ws.api('GET', '/lists')).body).toEqual({ data: [res.body], nextCursor: null });
  });

  it('refuses a list without a name', async () => {
    const ws = await aWorkspace(app);
    for (const body of [{}, { name: '' }, { name: '   ' }, { name: 5 }]) {
      const res = await ws.api('POST', '/lists', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await ws.api('GET', '/lists')).body.data).toEqual([]);
  });

  it('deletes a list: it leaves GET /lists and the contact’s lists, and a second delete is 404', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const list = (await ws.api('POST', '/lists', { name: 'Old' })).body;
    await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'subscribed' });
    const res = await ws.api('DELETE', `/lists/${list.id}`);
    expect(res.status).toBe(200);
    expect(typeof res.body.deletedAt).toBe('string');
    expect((await ws.api('GET', '/lists')).body.data).toEqual([]);
    expect((await ws.api('GET', `/contacts/${c.id}/lists`)).body.data).toEqual([]);
    expect((await ws.api('DELETE', `/lists/${list.id}`)).status).toBe(404);
    expect((await ws.api('DELETE', '/lists/missing')).status).toBe(404);
    expect((await ws.api('GET', '/lists/missing')).status).toBe(404);
  });
});

describe('list memberships', () => {
  it('sets and changes a contact’s status on a list', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
    for (const status of ['subscribed', 'unsubscribed', 'bounced', 'unconfirmed']) {
      const res = await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ listId: list.id, contactId: c.id, status });
    }
    expect((await ws.api('GET', `/contacts/${c.id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'unconfirmed' }]);
    expect((await ws.api('GET', `/lists/${list.id}`)).body.memberCount).toBe(1);
  });

  it('refuses an unknown status, a deleted list, an unknown contact and an inactive one', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
    const bad = await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'maybe' });
    expect(bad.status).toBe(400);
    expect((await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, {})).status).toBe(400);
    expect((await ws.api('PUT', `/lists/missing/contacts/${c.id}`, { status: 'subscribed' })).status).toBe(404);
    expect((await ws.api('PUT', `/lists/${list.id}/contacts/missing`, { status: 'subscribed' })).status).toBe(404);
    await ws.api('POST', `/contacts/${c.id}/archive`);
    const archived = await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'subscribed' });
    expect(archived.status).toBe(409);
    expect(archived.body.error.code).toBe('invalid_state');
    const gone = (await ws.api('POST', '/lists', { name: 'Gone' })).body;
    const other = await aContact(ws);
    await ws.api('DELETE', `/lists/${gone.id}`);
    expect((await ws.api('PUT', `/lists/${gone.id}/contacts/${other.id}`, { status: 'subscribed' })).status).toBe(404);
    expect((await ws.api('GET', `/lists/${list.id}`)).body.memberCount).toBe(0);
  });
});
