import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const now = () => app.clock.now().toISOString();

describe('undo by cause: a user’s changes to deals and lists', () => {
  it('puts back the deal a user changed (title, value, stage, contacts and primary) and the name of a list they renamed', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const deal = (await ws.api('POST', '/deals', { title: 'Renewal', value: 100, stage: 'lead', contactIds: [a.id, b.id], primaryContactId: b.id })).body;
    const list = (await ws.api('POST', '/lists', { name: 'News' })).body;
    const editor = await ws.userWithRole('manager');
    app.clock.advance(60);
    const from = now();
    const changed = await editor.api('PATCH', `/deals/${deal.id}`, { title: 'Lost', value: 0, stage: 'lost', contactIds: [c.id, a.id] });
    expect(changed.body).toMatchObject({ contactIds: [c.id, a.id], primaryContactId: c.id });
    expect((await editor.api('PATCH', `/lists/${list.id}`, { name: 'Old news' })).status).toBe(200);
    const to = now();
    app.clock.advance(60);

    const cause = { actorId: editor.id, from, to };
    const res = await ws.api('POST', '/undos', { cause });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await app.runJobs(ws.id);
    const undo = (await ws.api('GET', `/undos/${res.body.id}`)).body;
    expect(undo).toMatchObject({ status: 'succeeded', conflictCount: 0 });

    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toEqual(deal);
    expect((await ws.api('GET', `/lists/${list.id}`)).body).toEqual(list);
  });
});
