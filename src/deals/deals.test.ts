import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

describe('deals', () => {
  it('creates a deal whose primary is the first contact by default, reads it and lists it', async () => {
    const ws = await aWorkspace(app);
    const [a, b] = [await aContact(ws), await aContact(ws)];
    const res = await ws.api('POST', '/deals', { title: 'Renewal', value: 5000, stage: 'proposal', contactIds: [a.id, b.id] });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: res.body.id,
      title: 'Renewal',
      value: 5000,
      stage: 'proposal',
      contactIds: [a.id, b.id],
      primaryContactId: a.id,
      createdAt: res.body.createdAt,
    });
    expect((await ws.api('GET', `/deals/${res.body.id}`)).body).toEqual(res.body);
    expect((await ws.api('GET', '/deals')).body).toEqual({ data: [res.body], nextCursor: null });
  });

  it('takes a named primary contact and ignores repeated contact ids', async () => {
    const ws = await aWorkspace(app);
    const [a, b] = [await aContact(ws), await aContact(ws)];
    const res = await ws.api('POST', '/deals', { title: 'D', contactIds: [a.id, b.id, a.id], primaryContactId: b.id });
    expect(res.body).toMatchObject({ contactIds: [a.id, b.id], primaryContactId: b.id, value: null, stage: null });
  });

  it('refuses a primary outside the contacts, no contacts, inactive or unknown contacts, and creates nothing', async () => {
    const ws = await aWorkspace(app);
    const [a, b, archived] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    await ws.api('POST', `/contacts/${archived.id}/archive`);
    const bodies = [
      { title: 'D', contactIds: [a.id], primaryContactId: b.id },
      { title: 'D', contactIds: [] },
      { title: 'D', contactIds: [a.id, 'missing'] },
      { title: 'D', contactIds: [archived.id] },
      { title: '', contactIds: [a.id] },
      { title: 'D', contactIds: [a.id], value: 'lots' },
    ];
    for (const body of bodies) {
      const res = await ws.api('POST', '/deals', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await ws.api('GET', '/deals')).body.data).toEqual([]);
  });

  it('answers 404 for an unknown deal', async () => {
    const ws = await aWorkspace(app);
    expect((await ws.api('GET', '/deals/missing')).status).toBe(404);
  });

  it('deletes a deal whose only contact is archived', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const deal = (await ws.api('POST', '/deals', { title: 'Solo', contactIds: [c.id] })).body;
    await ws.api('POST', `/contacts/${c.id}/archive`);
    expect(typeof (await ws.api('GET', `/deals/${deal.id}`)).body.deletedAt).toBe('string');
  });

  it('deletes a shared deal when all its contacts are deleted at the same time', async () => {
    const ws = await aWorkspace(app);
    const contacts = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const deal = (await ws.api('POST', '/deals', { title: 'Shared', contactIds: contacts.map((c) => c.id) })).body;
    const results = await Promise.all(contacts.map((c) => ws.api('DELETE', `/contacts/${c.id}`)));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const read = (await ws.api('GET', `/deals/${deal.id}`)).body;
    expect(read.contactIds).toEqual([]);
    expect(typeof read.deletedAt).toBe('string');
    expect((await ws.api('GET', '/deals')).body.data).toEqual([]);
  });
});
