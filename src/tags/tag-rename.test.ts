import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

describe('PATCH /tags/:id', () => {
  it('renames a tag, which its contacts keep, and audits tag.renamed with both names', async () => {
    const ws = await aWorkspace(app);
    const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    const c = await aContact(ws, { tags: [tag.id] });
    const res = await ws.api('PATCH', `/tags/${tag.id}`, { name: 'VIP customer' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...tag, name: 'VIP customer' });
    expect((await ws.api('GET', '/tags')).body.data).toEqual([res.body]);
    expect((await ws.api('GET', `/contacts/${c.id}`)).body.tags).toEqual([tag.id]);
    const audit = (await ws.api('GET', `/audit-log?action=tag.renamed&targetId=${tag.id}`)).body.data;
    expect(audit.map((e: { details: object }) => e.details)).toEqual([{ from: 'vip', to: 'VIP customer' }]);
  });

  it('answers 409 invalid_state for a deleted tag, 404 for another workspace’s, 403 without contacts.write, 400 for a bad name', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    const theirs = (await other.api('POST', '/tags', { name: 'theirs' })).body;
    expect((await ws.api('PATCH', `/tags/${theirs.id}`, { name: 'mine' })).status).toBe(404);
    expect((await other.api('GET', '/tags')).body.data.map((t: { name: string }) => t.name)).toEqual(['theirs']);
    await ws.api('POST', '/roles', { name: 'Reader', permissions: ['contacts.read'] });
    const reader = await ws.userWithRole('Reader');
    expect((await reader.api('PATCH', `/tags/${tag.id}`, { name: 'x' })).status).toBe(403);
    for (const body of [{}, { name: '' }, { name: 'x'.repeat(101) }, { name: ['a'] }, { name: 'x', color: 'red' }]) {
      const res = await ws.api('PATCH', `/tags/${tag.id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    await ws.api('DELETE', `/tags/${tag.id}`);
    const res = await ws.api('PATCH', `/tags/${tag.id}`, { name: 'back' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('invalid_state');
    expect((await ws.api('GET', `/audit-log?action=tag.renamed`)).body.data).toEqual([]);
  });
});
