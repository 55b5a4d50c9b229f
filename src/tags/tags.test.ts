import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

describe('tags', () => {
  it('creates a tag and lists it', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/tags', { name: 'vip' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: res.body.id, name: 'vip', createdAt: res.body.createdAt, deletedAt: null });
    expect((await ws.api('GET', '/tags')).body).toEqual({ data: [res.body], nextCursor: null });
  });

  it('refuses a tag without a name', async () => {
    const ws = await aWorkspace(app);
    expect((await ws.api('POST', '/tags', { name: '' })).status).toBe(400);
    expect((await ws.api('POST', '/tags', { name: ['vip'] })).status).toBe(400);
    expect((await ws.api('GET', '/tags')).body.data).toEqual([]);
  });

  it('deletes a tag: it leaves GET /tags and the tags of the contacts that had it', async () => {
    const ws = await aWorkspace(app);
    const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    const c = await aContact(ws, { tags: [tag.id] });
    expect(c.tags).toEqual([tag.id]);
    const res = await ws.api('DELETE', `/tags/${tag.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: tag.id, deleted: true });
    expect((await ws.api('GET', '/tags')).body.data).toEqual([]);
    expect((await ws.api('GET', `/contacts/${c.id}`)).body.tags).toEqual([]);
    expect((await ws.api('DELETE', `/tags/${tag.id}`)).status).toBe(404);
  });

  it('tags a contact once however often it is asked, and refuses unknown tags and contacts', async () => {
    const ws = await aWorkspace(app);
    const c = await aContact(ws);
    const tag = (await ws.api('POST', '/tags', { name: 'vip' })).body;
    await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: tag.id });
    const again = await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: tag.id });
    expect(again.status).toBe(200);
    expect(again.body.tags).toEqual([tag.id]);
    expect((await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: 'missing' })).status).toBe(404);
    expect((await ws.api('POST', '/contacts/missing/tags', { tagId: tag.id })).status).toBe(404);
    expect((await ws.api('POST', `/contacts/${c.id}/tags`, {})).status).toBe(400);
  });
});
