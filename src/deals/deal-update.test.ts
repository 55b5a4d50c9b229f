import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

async function aDeal(ws: TestWorkspace, contactIds: string[], extra: object = {}) {
  const res = await ws.api('POST', '/deals', { title: 'Renewal', value: 100, stage: 'lead', contactIds, ...extra });
  expect(res.status).toBe(201);
  return res.body;
}

describe('PATCH /deals/:id', () => {
  it('changes title, value and stage, answers the deal as GET does, and audits what changed', async () => {
    const ws = await aWorkspace(app);
    const a = await aContact(ws);
    const deal = await aDeal(ws, [a.id]);
    const res = await ws.api('PATCH', `/deals/${deal.id}`, { title: 'Renewal 2027', value: 250.5, stage: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...deal, title: 'Renewal 2027', value: 250.5, stage: null });
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toEqual(res.body);
    const audit = (await ws.api('GET', `/audit-log?action=deal.updated&targetId=${deal.id}`)).body.data;
    expect(audit.map((e: { details: object }) => e.details)).toEqual([
      { changes: { title: { from: 'Renewal', to: 'Renewal 2027' }, value: { from: 100, to: 250.5 }, stage: { from: 'lead', to: null } } },
    ]);
  });

  it('replaces the contacts in the order given and keeps a primary that stays', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c, d] = [await aContact(ws), await aContact(ws), await aContact(ws), await aContact(ws)];
    const deal = await aDeal(ws, [a.id, b.id, c.id], { primaryContactId: b.id });
    const res = await ws.api('PATCH', `/deals/${deal.id}`, { contactIds: [c.id, d.id, b.id] });
    expect(res.body).toMatchObject({ contactIds: [c.id, d.id, b.id], primaryContactId: b.id });
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toEqual(res.body);
    expect((await ws.api('GET', `/contacts/${a.id}/deals`)).body.data).toEqual([]);
    expect((await ws.api('GET', `/contacts/${d.id}/deals`)).body.data.map((x: { id: string }) => x.id)).toEqual([deal.id]);
  });

  it('adds contacts at the end without moving the ones it keeps', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const deal = await aDeal(ws, [a.id, b.id]);
    const res = await ws.api('PATCH', `/deals/${deal.id}`, { contactIds: [a.id, b.id, c.id, c.id] });
    expect(res.body).toMatchObject({ contactIds: [a.id, b.id, c.id], primaryContactId: a.id });
  });

  it('makes the earliest-added remaining contact primary when the primary is taken off without a new one named', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const deal = await aDeal(ws, [a.id, b.id, c.id]);
    const res = await ws.api('PATCH', `/deals/${deal.id}`, { contactIds: [c.id, b.id] });
    expect(res.body).toMatchObject({ contactIds: [c.id, b.id], primaryContactId: c.id });
    const kept = await ws.api('PATCH', `/deals/${deal.id}`, { contactIds: [b.id] });
    expect(kept.body).toMatchObject({ contactIds: [b.id], primaryContactId: b.id });
  });

  it('takes a new primary among the contacts, with or without new contacts', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const deal = await aDeal(ws, [a.id, b.id]);
    expect((await ws.api('PATCH', `/deals/${deal.id}`, { primaryContactId: b.id })).body.primaryContactId).toBe(b.id);
    const res = await ws.api('PATCH', `/deals/${deal.id}`, { contactIds: [a.id, c.id], primaryContactId: c.id });
    expect(res.body).toMatchObject({ contactIds: [a.id, c.id], primaryContactId: c.id });
  });

  it('keeps a deleted contact set aside on the deal, so a restore puts it back', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const deal = await aDeal(ws, [a.id, b.id]);
    await ws.api('DELETE', `/contacts/${b.id}`);
    await ws.api('PATCH', `/deals/${deal.id}`, { contactIds: [c.id, a.id] });
    const job = await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [b.id] });
    expect(job.status).toBe(202);
    await app.runJobs(ws.id);
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toMatchObject({ contactIds: [b.id, c.id, a.id], primaryContactId: a.id });
  });

  it('refuses bad input with 400 and changes nothing', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const [a, b, archived] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const stranger = await aContact(other);
    await ws.api('POST', `/contacts/${archived.id}/archive`);
    const deal = await aDeal(ws, [a.id]);
    const bodies = [
      { contactIds: [] },
      { primaryContactId: b.id },
      { contactIds: [b.id], primaryContactId: a.id },
      { contactIds: [a.id, 'missing'] },
      { contactIds: [archived.id] },
      { contactIds: [stranger.id] },
      { title: '' },
      { title: 'x'.repeat(201) },
      { value: 'lots' },
      { stage: 7 },
      { owner: 'me' },
    ];
    for (const body of bodies) {
      const res = await ws.api('PATCH', `/deals/${deal.id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await ws.api('GET', `/deals/${deal.id}`)).body).toEqual(deal);
    expect((await ws.api('GET', `/audit-log?action=deal.updated`)).body.data).toEqual([]);
  });

  it('answers 409 invalid_state for a deleted deal, 404 for another workspace’s, 403 without contacts.write', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const a = await aContact(ws);
    const deal = await aDeal(ws, [a.id]);
    const theirs = await aDeal(other, [(await aContact(other)).id]);
    expect((await ws.api('PATCH', `/deals/${theirs.id}`, { title: 'Mine' })).status).toBe(404);
    expect((await other.api('GET', `/deals/${theirs.id}`)).body.title).toBe('Renewal');
    expect((await ws.api('PATCH', '/deals/missing', { title: 'X' })).status).toBe(404);
    await ws.api('POST', '/roles', { name: 'Reader', permissions: ['contacts.read'] });
    const reader = await ws.userWithRole('Reader');
    const refused = await reader.api('PATCH', `/deals/${deal.id}`, { title: 'X' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.details).toEqual({ permission: 'contacts.write' });

    await ws.api('POST', `/contacts/${a.id}/archive`);
    const res = await ws.api('PATCH', `/deals/${deal.id}`, { title: 'Too late' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('invalid_state');
    expect((await ws.api('GET', `/deals/${deal.id}`)).body.title).toBe('Renewal');
  });

  it('captures the change in history as a change set of the user', async () => {
    const ws = await aWorkspace(app);
    const [a, b] = [await aContact(ws), await aContact(ws)];
    const deal = await aDeal(ws, [a.id]);
    const manager = await ws.userWithRole('manager');
    const from = app.clock.now().toISOString();
    await manager.api('PATCH', `/deals/${deal.id}`, { title: 'Bigger', contactIds: [a.id, b.id] });
    const changes = (await ws.api('GET', `/changes?actorId=${manager.id}&from=${from}`)).body.data;
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ cause: { kind: 'user', actorId: manager.id }, counts: { deals: { updated: 1 }, dealContacts: { created: 1 } } });
  });

  it('takes turns with a delete of one of its contacts: no error, and the deal keeps only active contacts with a primary among them', async () => {
    const ws = await aWorkspace(app);
    const [a, b, c] = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const deal = await aDeal(ws, [a.id, b.id]);
    const [patched, deleted] = await Promise.all([
      ws.api('PATCH', `/deals/${deal.id}`, { contactIds: [a.id, c.id] }),
      ws.api('DELETE', `/contacts/${a.id}`),
    ]);
    expect(deleted.status).toBe(200);
    expect([200, 400]).toContain(patched.status);
    const read = (await ws.api('GET', `/deals/${deal.id}`)).body;
    expect(read.contactIds).toEqual(patched.status === 200 ? [c.id] : [b.id]);
    expect(read.primaryContactId).toBe(read.contactIds[0]);
    expect(read.deletedAt).toBeUndefined();
  });
});
