import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

describe('accounts', () => {
  it('creates an account, reads it and lists it', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/accounts', { name: 'Acme' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: res.body.id, name: 'Acme', createdAt: res.body.createdAt, deletedAt: null });
    expect((await ws.api('GET', `/accounts/${res.body.id}`)).body).toEqual(res.body);
    expect((await ws.api('GET', '/accounts')).body).toEqual({ data: [res.body], nextCursor: null });
  });

  it('refuses an account without a name or with unknown fields', async () => {
    const ws = await aWorkspace(app);
    expect((await ws.api('POST', '/accounts', {})).status).toBe(400);
    expect((await ws.api('POST', '/accounts', { name: 'Acme', domain: 'acme.com' })).status).toBe(400);
    expect((await ws.api('GET', '/accounts')).body.data).toEqual([]);
  });

  it('deletes an account: it leaves GET /accounts and the contact’s accounts', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const account = (await ws.api('POST', '/accounts', { name: 'Acme' })).body;
    await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, { jobTitle: 'CEO' });
    const res = await ws.api('DELETE', `/accounts/${account.id}`);
    expect(res.status).toBe(200);
    expect(typeof res.body.deletedAt).toBe('string');
    expect((await ws.api('GET', '/accounts')).body.data).toEqual([]);
    expect((await ws.api('GET', `/contacts/${c.id}/accounts`)).body.data).toEqual([]);
    expect((await ws.api('DELETE', `/accounts/${account.id}`)).status).toBe(404);
    expect((await ws.api('GET', '/accounts/missing')).status).toBe(404);
  });
});

describe('account contacts', () => {
  it('links a contact with a job title, changes it, and links without one', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const account = (await ws.api('POST', '/accounts', { name: 'Acme' })).body;
    const res = await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, { jobTitle: 'CTO' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accountId: account.id, contactId: c.id, jobTitle: 'CTO' });
    await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, { jobTitle: 'CEO' });
    expect((await ws.api('GET', `/contacts/${c.id}/accounts`)).body.data).toEqual([{ accountId: account.id, jobTitle: 'CEO' }]);
    const bare = await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, {});
    expect(bare.body).toEqual({ accountId: account.id, contactId: c.id, jobTitle: null });
  });

  it('refuses an unknown account, an unknown contact, an archived contact and a wrong type', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const account = (await ws.api('POST', '/accounts', { name: 'Acme' })).body;
    expect((await ws.api('PUT', `/accounts/missing/contacts/${c.id}`, {})).status).toBe(404);
    expect((await ws.api('PUT', `/accounts/${account.id}/contacts/missing`, {})).status).toBe(404);
    expect((await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, { jobTitle: 7 })).status).toBe(400);
    await ws.api('POST', `/contacts/${c.id}/archive`);
    const res = await ws.api('PUT', `/accounts/${account.id}/contacts/${c.id}`, { jobTitle: 'CTO' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('invalid_state');
    expect((await ws.api('GET', `/contacts/${c.id}/accounts`)).body.data).toEqual([]);
  });
});
