import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const anAccount = async (ws: TestWorkspace, name = 'Acme') => (await ws.api('POST', '/accounts', { name })).body;

async function aReader(ws: TestWorkspace) {
  await ws.api('POST', '/roles', { name: 'Reader', permissions: ['contacts.read'] });
  return ws.userWithRole('Reader');
}

describe('PATCH /accounts/:id', () => {
  it('renames an account and audits account.renamed with both names', async () => {
    const ws = await aWorkspace(app);
    const account = await anAccount(ws);
    const res = await ws.api('PATCH', `/accounts/${account.id}`, { name: 'Acme Ltd' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...account, name: 'Acme Ltd' });
    expect((await ws.api('GET', `/accounts/${account.id}`)).body).toEqual(res.body);
    const audit = (await ws.api('GET', `/audit-log?action=account.renamed&targetId=${account.id}`)).body.data;
    expect(audit.map((e: { details: object }) => e.details)).toEqual([{ from: 'Acme', to: 'Acme Ltd' }]);
  });

  it('answers 409 invalid_state for a deleted account, 404 for another workspace’s, 403 without contacts.write, 400 for a bad name', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const account = await anAccount(ws);
    const theirs = await anAccount(other, 'Theirs');
    expect((await ws.api('PATCH', `/accounts/${theirs.id}`, { name: 'Mine' })).status).toBe(404);
    expect((await other.api('GET', `/accounts/${theirs.id}`)).body.name).toBe('Theirs');
    const reader = await aReader(ws);
    expect((await reader.api('PATCH', `/accounts/${account.id}`, { name: 'X' })).status).toBe(403);
    for (const body of [{}, { name: '' }, { name: 'x'.repeat(201) }, { name: null }, { name: 'X', domain: 'acme.example' }]) {
      const res = await ws.api('PATCH', `/accounts/${account.id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    await ws.api('DELETE', `/accounts/${account.id}`);
    const res = await ws.api('PATCH', `/accounts/${account.id}`, { name: 'Back' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('invalid_state');
    expect((await ws.api('GET', `/accounts/${account.id}`)).body.name).toBe('Acme');
  });
});

describe('DELETE /accounts/:accountId/contacts/:contactId', () => {
  it('unlinks the contact with 204, audits it with the job title, and 404 once it is not linked', async () => {
    const ws = await aWorkspace(app);
    const account = await anAccount(ws);
    const [a, b] = [await aContact(ws), await aContact(ws)];
    await ws.api('PUT', `/accounts/${account.id}/contacts/${a.id}`, { jobTitle: 'CTO' });
    await ws.api('PUT', `/accounts/${account.id}/contacts/${b.id}`, {});
    const res = await ws.api('DELETE', `/accounts/${account.id}/contacts/${a.id}`);
    expect(res.status).toBe(204);
    expect((await ws.api('GET', `/contacts/${a.id}/accounts`)).body.data).toEqual([]);
    expect((await ws.api('GET', `/contacts/${b.id}/accounts`)).body.data).toEqual([{ accountId: account.id, jobTitle: null }]);
    const audit = (await ws.api('GET', `/audit-log?action=account_contact.removed&targetId=${a.id}`)).body.data;
    expect(audit.map((e: { details: object }) => e.details)).toEqual([{ accountId: account.id, jobTitle: 'CTO' }]);
    expect((await ws.api('DELETE', `/accounts/${account.id}/contacts/${a.id}`)).status).toBe(404);
  });

  it('answers 404 for another workspace’s account or contact, 403 without contacts.write, and changes nothing', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const account = await anAccount(ws);
    const a = await aContact(ws);
    await ws.api('PUT', `/accounts/${account.id}/contacts/${a.id}`, { jobTitle: 'CEO' });
    const theirAccount = await anAccount(other);
    const theirContact = await aContact(other);
    await other.api('PUT', `/accounts/${theirAccount.id}/contacts/${theirContact.id}`, { jobTitle: 'COO' });
    expect((await ws.api('DELETE', `/accounts/${theirAccount.id}/contacts/${theirContact.id}`)).status).toBe(404);
    expect((await ws.api('DELETE', `/accounts/${account.id}/contacts/${theirContact.id}`)).status).toBe(404);
    const reader = await aReader(ws);
    expect((await reader.api('DELETE', `/accounts/${account.id}/contacts/${a.id}`)).status).toBe(403);
    expect((await ws.api('GET', `/contacts/${a.id}/accounts`)).body.data).toEqual([{ accountId: account.id, jobTitle: 'CEO' }]);
    expect((await other.api('GET', `/contacts/${theirContact.id}/accounts`)).body.data).toEqual([{ accountId: theirAccount.id, jobTitle: 'COO' }]);
  });
});
