import { beforeAll, describe, expect, it } from 'vitest';
import { aWorkspace, call, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const receiverUrl = 'https://hooks.example.com/retrace?token=abc';

async function aWebhook(ws: TestWorkspace, events: string[] = ['backup.finished']) {
  const res = await ws.api('POST', '/webhooks', { url: receiverUrl, events });
  expect(res.status).toBe(201);
  return res.body;
}

async function auditOf(ws: TestWorkspace, action: string) {
  return (await ws.api('GET', `/audit-log?action=${action}`)).body.data;
}

describe('POST /webhooks', () => {
  it('answers 201 with the webhook and its signing secret, and audits it without the URL’s path', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/webhooks', { url: receiverUrl, events: ['rollback.finished', 'backup.finished', 'rollback.finished'] });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      url: receiverUrl,
      events: ['rollback.finished', 'backup.finished'],
      createdBy: ws.adminId,
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{43}$/),
    });
    const [entry] = await auditOf(ws, 'webhook.created');
    expect(entry).toMatchObject({ actorId: ws.adminId, targetType: 'webhook', targetId: res.body.id, details: { origin: 'https://hooks.example.com', events: ['rollback.finished', 'backup.finished'] } });
  });

  it('gives every webhook its own secret', async () => {
    const ws = await aWorkspace(app);
    const first = await aWebhook(ws);
    const second = await aWebhook(ws);
    expect(first.secret).not.toBe(second.secret);
  });

  it.each([
    ['an ftp URL', { url: 'ftp://files.example.com/in', events: ['backup.finished'] }, ['url']],
    ['a URL with a user and password', { url: 'https://user:pw@hooks.example.com/', events: ['backup.finished'] }, ['url']],
    ['a relative URL', { url: '/hooks', events: ['backup.finished'] }, ['url']],
    ['a URL too long', { url: `https://hooks.example.com/${'a'.repeat(2100)}`, events: ['backup.finished'] }, ['url']],
    ['no events', { url: receiverUrl, events: [] }, ['events']],
    ['an unknown event', { url: receiverUrl, events: ['contact.created'] }, ['events', 0]],
    ['no URL', { events: ['backup.finished'] }, ['url']],
    ['an unknown field', { url: receiverUrl, events: ['backup.finished'], secret: 'mine' }, []],
  ])('refuses %s with 400 and adds nothing', async (_what, body, issuePath) => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/webhooks', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.details.issues[0]).toMatchObject({ in: 'body', path: issuePath });
    expect((await ws.api('GET', '/webhooks')).body).toEqual({ data: [], nextCursor: null });
    expect(await auditOf(ws, 'webhook.created')).toEqual([]);
  });
});

describe('GET /webhooks and GET /webhooks/:id', () => {
  it('lists the workspace’s webhooks oldest first, a page at a time, never with their secrets', async () => {
    const ws = await aWorkspace(app);
    const first = await aWebhook(ws, ['backup.finished']);
    app.clock.advance(1);
    const second = await aWebhook(ws, ['import.finished']);
    const shown = (hook: { secret: string }) => {
      const { secret, ...rest } = hook;
      void secret;
      return rest;
    };
    const page1 = await ws.api('GET', '/webhooks?limit=1');
    expect(page1.body.data).toEqual([shown(first)]);
    const page2 = await ws.api('GET', `/webhooks?limit=1&cursor=${page1.body.nextCursor}`);
    expect(page2.body).toEqual({ data: [shown(second)], nextCursor: null });
    expect((await ws.api('GET', `/webhooks/${first.id}`)).body).toEqual(shown(first));
    expect(JSON.stringify((await ws.api('GET', '/webhooks')).body)).not.toContain(first.secret);
  });

  it('refuses a cursor it did not issue with 400', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('GET', '/webhooks?cursor=garbled');
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues[0]).toMatchObject({ in: 'query', path: ['cursor'] });
  });
});

describe('DELETE /webhooks/:id', () => {
  it('removes the webhook (204), audits it, and it is 404 from then on', async () => {
    const ws = await aWorkspace(app);
    const hook = await aWebhook(ws);
    expect((await ws.api('DELETE', `/webhooks/${hook.id}`)).status).toBe(204);
    expect((await ws.api('GET', '/webhooks')).body.data).toEqual([]);
    for (const [method, url] of [['GET', `/webhooks/${hook.id}`], ['DELETE', `/webhooks/${hook.id}`], ['GET', `/webhooks/${hook.id}/deliveries`]] as const) {
      expect((await ws.api(method, url)).status).toBe(404);
    }
    const [entry] = await auditOf(ws, 'webhook.deleted');
    expect(entry).toMatchObject({ targetId: hook.id, details: { origin: 'https://hooks.example.com', events: ['backup.finished'] } });
  });

  it('refuses a body with fields with 400 and keeps the webhook', async () => {
    const ws = await aWorkspace(app);
    const hook = await aWebhook(ws);
    expect((await ws.api('DELETE', `/webhooks/${hook.id}`, { force: true })).status).toBe(400);
    expect((await ws.api('GET', `/webhooks/${hook.id}`)).status).toBe(200);
  });
});

describe('GET /webhooks/:id/deliveries', () => {
  it('answers an empty page for a webhook nothing was sent to yet, and 400 for a bad limit or cursor', async () => {
    const ws = await aWorkspace(app);
    const hook = await aWebhook(ws);
    expect((await ws.api('GET', `/webhooks/${hook.id}/deliveries`)).body).toEqual({ data: [], nextCursor: null });
    for (const url of [`/webhooks/${hook.id}/deliveries?limit=0`, `/webhooks/${hook.id}/deliveries?cursor=garbled`, '/notification-emails?limit=501', '/notification-emails?cursor=garbled']) {
      const res = await ws.api('GET', url);
      expect(res.status, url).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });
});

describe('access', () => {
  const routes = (id: string) =>
    [
      ['POST', '/webhooks', { url: receiverUrl, events: ['backup.finished'] }],
      ['GET', '/webhooks', undefined],
      ['GET', `/webhooks/${id}`, undefined],
      ['DELETE', `/webhooks/${id}`, undefined],
      ['GET', `/webhooks/${id}/deliveries`, undefined],
      ['GET', '/notification-emails', undefined],
    ] as const;

  it('answers 403 without users.manage on every route, and changes nothing', async () => {
    const ws = await aWorkspace(app);
    const hook = await aWebhook(ws);
    const manager = await ws.userWithRole('manager');
    for (const [method, url, body] of routes(hook.id)) {
      const res = await manager.api(method, url, body);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'users.manage' } });
    }
    expect((await ws.api('GET', '/webhooks')).body.data.map((h: { id: string }) => h.id)).toEqual([hook.id]);
  });

  it('answers 401 without a token', async () => {
    const ws = await aWorkspace(app);
    const hook = await aWebhook(ws);
    for (const [method, url, body] of routes(hook.id)) expect((await call(app.server, null, method, url, body)).status).toBe(401);
  });

  it('answers 404 for another workspace’s webhook, as for one that does not exist, and leaves it be', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const hook = await aWebhook(other);
    for (const id of [hook.id, 'no-such-webhook']) {
      for (const [method, url] of [['GET', `/webhooks/${id}`], ['DELETE', `/webhooks/${id}`], ['GET', `/webhooks/${id}/deliveries`]] as const) {
        const res = await ws.api(method, url);
        expect(res.status, `${method} ${url}`).toBe(404);
        expect(res.body.error.code).toBe('not_found');
      }
    }
    expect((await ws.api('GET', '/webhooks')).body.data).toEqual([]);
    expect((await other.api('GET', `/webhooks/${hook.id}`)).status).toBe(200);
  });
});
