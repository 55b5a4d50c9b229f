import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, call, testApp, type Response, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { useSender, type OutgoingMessage } from '../messages/sender.js';
import { submissionBurst, submissionRefillSeconds } from './routes.js';

let app: TestApp;
const handedOver: OutgoingMessage[] = [];

beforeAll(async () => {
  app = await testApp();
  useSender(app.ctx, { name: 'recording', send: async (message) => void handedOver.push(message) });
});

let addressCounter = 0;
/** A client address of its own, so one test's submissions never spend another's tokens. */
const aClientAddress = () => `198.51.100.${(addressCounter += 1)}`;

async function submit(formId: string, body: unknown, remoteAddress = aClientAddress()): Promise<Response> {
  const raw = await app.server.inject({ method: 'POST', url: `/api/v1/forms/${formId}/submissions`, payload: body as object, remoteAddress });
  return { status: raw.statusCode, body: raw.body ? JSON.parse(raw.body) : null, raw };
}

async function aForm(ws: TestWorkspace, listId?: string): Promise<string> {
  const res = await ws.api('POST', '/forms', { name: 'Signup', ...(listId ? { listId } : {}) });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function aList(ws: TestWorkspace): Promise<string> {
  return (await ws.api('POST', '/lists', { name: 'Newsletter' })).body.id;
}

async function contactByEmail(ws: TestWorkspace, email: string) {
  const res = await ws.api('GET', `/contacts?q=${encodeURIComponent(email)}`);
  return res.body.data;
}

describe('forms', () => {
  it('restores an archived contact at once on a submission (inside the freeze), updates it and subscribes it', async () => {
    const ws = await aWorkspace(app);
    const listId = await aList(ws);
    const formId = await aForm(ws, listId);
    const newsletterTag = (await ws.api('POST', '/tags', { name: 'newsletter' })).body.id;
    const archived = await aContact(ws, { email: 'back@example.com', firstName: 'Old', tags: [newsletterTag] });
    await ws.api('POST', `/contacts/${archived.id}/archive`);
    app.clock.advance(86_400);

    const res = await submit(formId, { email: 'BACK@example.com', firstName: 'New' });
    expect(res.status).toBe(201);
    const back = (await ws.api('GET', `/contacts/${archived.id}`)).body;
    expect(back).toMatchObject({ status: 'active', firstName: 'New', tags: [newsletterTag], createdAt: archived.createdAt });
    expect((await ws.api('GET', `/contacts/${archived.id}/lists`)).body.data).toEqual([{ listId, status: 'subscribed' }]);
    expect((await ws.api('GET', '/workspace')).body.usage).toEqual({ active: 1, archived: 0, deleted: 0 });
  });

  it('creates a contact from a submission and subscribes it, which starts the list’s automations', async () => {
    const ws = await aWorkspace(app);
    const listId = await aList(ws);
    const formId = await aForm(ws, listId);
    const automation = await ws.api('POST', '/automations', {
      name: 'Welcome', trigger: { type: 'list.subscribed', listId }, steps: [{ type: 'send_email', subject: 'Thanks for signing up' }],
    });

    const res = await submit(formId, { email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper' });
    expect(res).toMatchObject({ status: 201, body: { accepted: true } });

    const [contact] = await contactByEmail(ws, 'grace@example.com');
    expect(contact).toMatchObject({ email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper', status: 'active' });
    expect((await ws.api('GET', `/contacts/${contact.id}/lists`)).body.data).toEqual([{ listId, status: 'subscribed' }]);
    const history = await ws.api('GET', `/contacts/${contact.id}/history`);
    expect(history.body.data[0]).toMatchObject({ op: 'insert', actorId: null, origin: 'form' });

    await ws.api('POST', '/maintenance/run');
    expect(handedOver.filter((m) => m.workspaceId === ws.id).map((m) => [m.automationId, m.contactId, m.subject])).toEqual([
      [automation.body.id, contact.id, 'Thanks for signing up'],
    ]);
  });

  it('updates the active contact with that email, whatever its case, and keeps what the form did not ask', async () => {
    const ws = await aWorkspace(app);
    const listId = await aList(ws);
    const formId = await aForm(ws, listId);
    const existing = await aContact(ws, { email: 'Alan@Example.com', firstName: 'Al', lastName: 'Turing' });

    expect((await submit(formId, { email: 'alan@example.com', firstName: 'Alan' })).status).toBe(201);

    const read = await ws.api('GET', `/contacts/${existing.id}`);
    expect(read.body).toMatchObject({ id: existing.id, email: 'Alan@Example.com', firstName: 'Alan', lastName: 'Turing', status: 'active' });
    expect((await ws.api('GET', `/contacts/${existing.id}/lists`)).body.data).toEqual([{ listId, status: 'subscribed' }]);
    expect(await contactByEmail(ws, 'alan@example.com')).toHaveLength(1);
  });

  it('makes one contact of two first submissions of one email at the same time', async () => {
    const ws = await aWorkspace(app);
    const listId = await aList(ws);
    const formId = await aForm(ws, listId);
    const results = await Promise.all([
      submit(formId, { email: 'twice@example.com', firstName: 'First' }),
      submit(formId, { email: 'twice@example.com', firstName: 'Second' }),
    ]);
    expect(results.map((r) => r.status)).toEqual([201, 201]);
    const contacts = await contactByEmail(ws, 'twice@example.com');
    expect(contacts).toHaveLength(1);
    expect((await ws.api('GET', `/contacts/${contacts[0].id}/lists`)).body.data).toEqual([{ listId, status: 'subscribed' }]);
  });

  it('takes a submission to a form without a list, subscribing nobody', async () => {
    const ws = await aWorkspace(app);
    const formId = await aForm(ws);
    expect((await submit(formId, { email: 'nolist@example.com' })).status).toBe(201);
    const [contact] = await contactByEmail(ws, 'nolist@example.com');
    expect((await ws.api('GET', `/contacts/${contact.id}/lists`)).body.data).toEqual([]);
  });

  it('still takes submissions after its list is deleted, subscribing nobody', async () => {
    const ws = await aWorkspace(app);
    const listId = await aList(ws);
    const formId = await aForm(ws, listId);
    await ws.api('DELETE', `/lists/${listId}`);
    expect((await submit(formId, { email: 'late@example.com' })).status).toBe(201);
    const [contact] = await contactByEmail(ws, 'late@example.com');
    expect((await ws.api('GET', `/contacts/${contact.id}/lists`)).body.data).toEqual([]);
  });

  it('limits submissions per form and client address, and lets them in again as time passes', async () => {
    const ws = await aWorkspace(app);
    const formId = await aForm(ws);
    const otherFormId = await aForm(ws);
    const address = aClientAddress();
    for (let i = 0; i < submissionBurst; i += 1) {
      expect((await submit(formId, { email: `burst${i}@example.com` }, address)).status).toBe(201);
    }
    const limited = await submit(formId, { email: 'one-too-many@example.com' }, address);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({ code: 'rate_limited', details: { retryAfterSeconds: submissionRefillSeconds } });
    expect(await contactByEmail(ws, 'one-too-many@example.com')).toEqual([]);

    expect((await submit(formId, { email: 'elsewhere@example.com' }, aClientAddress())).status).toBe(201);
    expect((await submit(otherFormId, { email: 'other-form@example.com' }, address)).status).toBe(201);

    app.clock.advance(submissionRefillSeconds);
    expect((await submit(formId, { email: 'later@example.com' }, address)).status).toBe(201);
    expect((await submit(formId, { email: 'too-soon@example.com' }, address)).status).toBe(429);
  });

  it('answers 404 for an unknown form and 400 for bad input, changing nothing', async () => {
    const ws = await aWorkspace(app);
    const formId = await aForm(ws);
    expect((await submit('no-such-form', { email: 'x@example.com' })).status).toBe(404);
    const bad: unknown[] = [{}, { email: 'not-an-email' }, { email: 'y@example.com', phone: '123' }, { email: 42 }, { email: 'y@example.com', firstName: 7 }];
    for (const body of bad) {
      const res = await submit(formId, body);
      expect({ body, status: res.status, code: res.body.error.code }).toEqual({ body, status: 400, code: 'invalid_request' });
    }
    expect((await ws.api('GET', '/contacts')).body.data).toEqual([]);
  });

  it('refuses a form whose list is not one of the workspace’s live lists', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const theirs = await aList(other);
    const deleted = await aList(ws);
    await ws.api('DELETE', `/lists/${deleted}`);
    for (const listId of [theirs, deleted, 'no-such-list']) {
      const res = await ws.api('POST', '/forms', { name: 'Signup', listId });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await ws.api('POST', '/forms', { name: 'Signup', extra: true })).status).toBe(400);
    expect((await ws.api('GET', '/forms')).body).toEqual({ data: [], nextCursor: null });
  });

  it('lists and reads a workspace’s forms; another workspace’s form is a 404', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const listId = await aList(ws);
    const formId = await aForm(ws, listId);
    expect((await ws.api('GET', '/forms')).body).toEqual({
      data: [{ id: formId, name: 'Signup', listId, createdAt: expect.any(String) }],
      nextCursor: null,
    });
    expect((await ws.api('GET', `/forms/${formId}`)).body).toMatchObject({ id: formId, listId });
    expect((await other.api('GET', `/forms/${formId}`)).status).toBe(404);
  });

  it('lets automations.manage create forms, needs no token to submit, and refuses a member', async () => {
    const ws = await aWorkspace(app);
    const member = await ws.userWithRole('member');
    const res = await member.api('POST', '/forms', { name: 'Signup' });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'automations.manage' } });
    expect((await call(app.server, null, 'POST', '/forms', { name: 'Signup' })).status).toBe(401);
    const formId = await aForm(ws);
    expect((await call(app.server, null, 'POST', `/forms/${formId}/submissions`, { email: 'anon@example.com' })).status).toBe(201);
  });
});
