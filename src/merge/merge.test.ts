import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

describe('merging contacts', () => {
  it('gives the survivor the merged contact’s lists, tags, accounts and deals, and marks it merged', async () => {
    const ws = await aWorkspace(app);
    const survivor = await aContact(ws);
    const dup = await aContact(ws);
    const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
    const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    const account = (await ws.api('POST', '/accounts', { name: 'Acme' })).body;
    await ws.api('PUT', `/lists/${list.id}/contacts/${dup.id}`, { status: 'unconfirmed' });
    await ws.api('POST', `/contacts/${dup.id}/tags`, { tagId: tag.id });
    await ws.api('PUT', `/accounts/${account.id}/contacts/${dup.id}`, { jobTitle: 'CFO' });
    const deal = (await ws.api('POST', '/deals', { title: 'Big', contactIds: [dup.id] })).body;

    const res = await ws.api('POST', '/contacts/merge', { survivorId: survivor.id, mergedIds: [dup.id] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: survivor.id, status: 'active', tags: [tag.id] });
    expect((await ws.api('GET', `/contacts/${survivor.id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'unconfirmed' }]);
    expect((await ws.api('GET', `/contacts/${survivor.id}/accounts`)).body.data).toEqual([{ accountId: account.id, jobTitle: 'CFO' }]);
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toMatchObject({ contactIds: [survivor.id], primaryContactId: survivor.id });
    expect((await ws.api('GET', `/contacts/${dup.id}`)).body).toMatchObject({ status: 'merged', mergedInto: survivor.id });
  });

  it('gives the survivor an archived merged contact’s lists, tags, accounts and deals too', async () => {
    const ws = await aWorkspace(app);
    const survivor = await aContact(ws);
    const colleague = await aContact(ws);
    const away = await aContact(ws);
    const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
    const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    const account = (await ws.api('POST', '/accounts', { name: 'Acme' })).body;
    await ws.api('PUT', `/lists/${list.id}/contacts/${away.id}`, { status: 'bounced' });
    await ws.api('POST', `/contacts/${away.id}/tags`, { tagId: tag.id });
    await ws.api('PUT', `/accounts/${account.id}/contacts/${away.id}`, { jobTitle: 'VP' });
    const deal = (await ws.api('POST', '/deals', { title: 'Shared', contactIds: [away.id, colleague.id] })).body;
    expect((await ws.api('POST', `/contacts/${away.id}/archive`)).status).toBe(200);

    const res = await ws.api('POST', '/contacts/merge', { survivorId: survivor.id, mergedIds: [away.id] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: survivor.id, status: 'active', tags: [tag.id] });
    expect((await ws.api('GET', `/contacts/${survivor.id}/lists`)).body.data).toEqual([{ listId: list.id, status: 'bounced' }]);
    expect((await ws.api('GET', `/contacts/${survivor.id}/accounts`)).body.data).toEqual([{ accountId: account.id, jobTitle: 'VP' }]);
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toMatchObject({ contactIds: [colleague.id, survivor.id], primaryContactId: colleague.id });
    expect((await ws.api('GET', `/contacts/${away.id}`)).body).toMatchObject({ status: 'merged', mergedInto: survivor.id });
  });

  it('never restores a merged contact: the restore skips it as merged', async () => {
    const ws = await aWorkspace(app);
    const survivor = await aContact(ws);
    const dup = await aContact(ws);
    await ws.api('POST', '/contacts/merge', { survivorId: survivor.id, mergedIds: [dup.id] });
    const job = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [dup.id] });
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/restore-jobs/${job.body.id}`)).body.skipped).toEqual([{ contactId: dup.id, reason: 'merged' }]);
  });

  it('refuses bad merges without changing anything', async () => {
    const ws = await aWorkspace(app);
    const a = await aContact(ws);
    const b = await aContact(ws);
    await ws.api('DELETE', `/contacts/${b.id}`);
    expect((await ws.api('POST', '/contacts/merge', { survivorId: a.id, mergedIds: [a.id] })).status).toBe(400);
    expect((await ws.api('POST', '/contacts/merge', { survivorId: a.id, mergedIds: ['nope'] })).status).toBe(404);
    const deleted = await ws.api('POST', '/contacts/merge', { survivorId: a.id, mergedIds: [b.id] });
    expect(deleted.status).toBe(409);
    expect(deleted.body.error.code).toBe('invalid_state');
    expect((await ws.api('GET', `/contacts/${b.id}`)).body.status).toBe('deleted');
  });

  it('is refused to members with 403 contacts.merge', async () => {
    const ws = await aWorkspace(app);
    const a = await aContact(ws);
    const b = await aContact(ws);
    const member = await ws.userWithRole('member');
    const res = await member.api('POST', '/contacts/merge', { survivorId: a.id, mergedIds: [b.id] });
    expect(res.status).toBe(403);
    expect(res.body.error.details).toEqual({ permission: 'contacts.merge' });
  });
});
