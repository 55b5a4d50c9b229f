import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, call, testApp, type Response, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { useSender, type OutgoingMessage } from '../messages/sender.js';
import { formSubmissionLimit } from '../http/rate-limits.js';

let app: TestApp;
const handedOver: OutgoingMessage[] = [];

beforeAll(async () => {
  app = await testApp();
  useSender(app.ctx, { name: 'recording', send: async (message) => void handedOver.push(message) });
});

let addressCounter = 0;
/** A client address of its own, so one test's submissions never spend another's tokens. */
const aClientAddress = () => `198.51.100.${(addressCounter += 1)}`;

async function submit(formId: string, body: unknown, remoteAddress = aClientAddress(), on: TestApp = app, headers: Record<string, string> = {}): Promise<Response> {
  const raw = await on.server.inject({ method: 'POST', url: `/api/v1/forms/${formId}/submissions`, payload: body as object, remoteAddress, headers });
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

    const res = await submit(formId, { email: 'BACK@example.com', firstName: 'New', lastName: 'Name' });
    expect(res.status).toBe(201);
    const back = (await ws.api('GET', `/contacts/${archived.id}`)).body;
    // Its name stays what it was: a submission fills names, never overwrites them.
    expect(back).toMatchObject({ status: 'active', firstName: 'Old', lastName: archived.lastName, tags: [newsletterTag], createdAt: archived.createdAt });
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

  it('subscribes the active contact with that email, whatever its case, and never renames it', async () => {
    const ws = await aWorkspace(app);
    const listId = await aList(ws);
    const formId = await aForm(ws, listId);
    const existing = await aContact(ws, { email: 'Alan@Example.com', firstName: 'Al', lastName: 'Turing' });

    expect((await submit(formId, { email: 'alan@example.com', firstName: 'Mallory', lastName: 'Mallet' })).status).toBe(201);

    const read = await ws.api('GET', `/contacts/${existing.id}`);
    expect(read.body).toMatchObject({ id: existing.id, email: 'Alan@Example.com', firstName: 'Al', lastName: 'Turing', status: 'active', updatedAt: existing.updatedAt });
    expect((await ws.api('GET', `/contacts/${existing.id}/lists`)).body.data).toEqual([{ listId, status: 'subscribed' }]);
    expect(await contactByEmail(ws, 'alan@example.com')).toHaveLength(1);
  });

  it('never blanks a name: empty and null names in a submission leave the contact’s as they are', async () => {
    const ws = await aWorkspace(app);
    const formId = await aForm(ws);
    const existing = await aContact(ws, { email: 'kept@example.com', firstName: 'Kept', lastName: 'Names' });
    for (const names of [{ firstName: '', lastName: '' }, { firstName: null, lastName: null }, { firstName: '   ' }]) {
      expect((await submit(formId, { email: 'kept@example.com', ...names })).status).toBe(201);
    }
    expect((await ws.api('GET', `/contacts/${existing.id}`)).body).toMatchObject({ firstName: 'Kept', lastName: 'Names' });
    const history = await ws.api('GET', `/contacts/${existing.id}/history`);
    expect(history.body.data.map((v: { op: string }) => v.op)).toEqual(['insert']);
  });

  it('fills the names a contact lacks, and only those, as origin form', async () => {
    const ws = await aWorkspace(app);
    const formId = await aForm(ws);
    const created = await ws.api('POST', '/contacts', { email: 'half@example.com', lastName: 'Known' });
    expect((await submit(formId, { email: 'half@example.com', firstName: 'Filled', lastName: 'Other' })).status).toBe(201);
    expect((await ws.api('GET', `/contacts/${created.body.id}`)).body).toMatchObject({ firstName: 'Filled', lastName: 'Known' });
    const history = (await ws.api('GET', `/contacts/${created.body.id}/history`)).body.data;
    expect(history.at(-1)).toMatchObject({ op: 'update', actorId: null, origin: 'form' });
  });

  it('creates a contact with no name for empty names', async () => {
    const ws = await aWorkspace(app);
    const formId = await aForm(ws);
    expect((await submit(formId, { email: 'noname@example.com', firstName: '', lastName: null })).status).toBe(201);
    expect((await contactByEmail(ws, 'noname@example.com'))[0]).toMatchObject({ firstName: null, lastName: null });
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

  it('limits submissions per form and client address with 429 and Retry-After, and lets them in again when the window ends', async () => {
    const ws = await aWorkspace(app);
    const formId = await aForm(ws);
    const otherFormId = await aForm(ws);
    const address = aClientAddress();
    for (let i = 0; i < formSubmissionLimit.max; i += 1) {
      expect((await submit(formId, { email: `burst${i}@example.com` }, address)).status).toBe(201);
    }
    app.clock.advance(15);
    const limited = await submit(formId, { email: 'one-too-many@example.com' }, address);
    const wait = formSubmissionLimit.windowSeconds - 15;
    expect(limited.status).toBe(429);
    expect(limited.raw.headers['retry-after']).toBe(String(wait));
    expect(limited.body.error).toEqual({ code: 'rate_limited', message: 'Too many submissions to this form from this address; try again later', details: { retryAfterSeconds: wait } });
    expect(await contactByEmail(ws, 'one-too-many@example.com')).toEqual([]);

    expect((await submit(formId, { email: 'elsewhere@example.com' }, aClientAddress())).status).toBe(201);
    expect((await submit(otherFormId, { email: 'other-form@example.com' }, address)).status).toBe(201);

    app.clock.advance(wait);
    expect((await submit(formId, { email: 'later@example.com' }, address)).status).toBe(201);
  });

  it('counts every visitor behind a proxy apart when TRUST_PROXY names it, and as one when it does not', async () => {
    const behindProxy = await testApp({ config: { trustProxy: ['127.0.0.1'] } });
    const ws = await aWorkspace(behindProxy);
    const formId = await aForm(ws);
    const proxy = '127.0.0.1';
    const visitor = (n: number) => ({ 'x-forwarded-for': `203.0.113.${n}` });
    for (let i = 0; i < formSubmissionLimit.max + 2; i += 1) {
      expect((await submit(formId, { email: `visitor${i}@example.com` }, proxy, behindProxy, visitor(i))).status).toBe(201);
    }
    // One visitor is still limited, whatever the proxy forwards for others.
    for (let i = 0; i < formSubmissionLimit.max; i += 1) await submit(formId, { email: `same${i}@example.com` }, proxy, behindProxy, visitor(99));
    expect((await submit(formId, { email: 'same-again@example.com' }, proxy, behindProxy, visitor(99))).status).toBe(429);

    // Without TRUST_PROXY, X-Forwarded-For is anyone's to write: the proxy's address counts.
    const ownForm = await aForm(await aWorkspace(app));
    for (let i = 0; i < formSubmissionLimit.max; i += 1) await submit(ownForm, { email: `one${i}@example.com` }, '192.0.2.8', app, visitor(i));
    expect((await submit(ownForm, { email: 'one-more@example.com' }, '192.0.2.8', app, visitor(50))).status).toBe(429);
  });

  it('refuses every submission with 409 contact_limit_exceeded while the workspace is at its active contact limit, changing nothing', async () => {
    const ws = await aWorkspace(app, { activeContactLimit: 2 });
    const listId = await aList(ws);
    const formId = await aForm(ws, listId);
    const active = await aContact(ws, { email: 'active@example.com', firstName: '' });
    const archived = await aContact(ws, { email: 'archived@example.com' });
    await ws.api('POST', `/contacts/${archived.id}/archive`);
    expect((await submit(formId, { email: 'new@example.com' })).status).toBe(201);

    const audit = (await ws.api('GET', '/audit-log')).body.data.length;
    for (const email of ['another@example.com', 'archived@example.com', 'active@example.com']) {
      const res = await submit(formId, { email, firstName: 'Filled' });
      expect({ email, status: res.status, error: res.body.error }).toEqual({
        email,
        status: 409,
        error: {
          code: 'contact_limit_exceeded',
          message: 'This workspace is at its limit of active contacts: its forms take no submissions until it has room',
          details: { active: 2, limit: 2, wouldBe: 3 },
        },
      });
    }
    expect((await ws.api('GET', '/workspace')).body.usage).toEqual({ active: 2, archived: 1, deleted: 0 });
    expect((await ws.api('GET', `/contacts/${active.id}`)).body.firstName).toBe('');
    expect((await ws.api('GET', `/contacts/${active.id}/lists`)).body.data).toEqual([]);
    expect((await ws.api('GET', '/audit-log')).body.data).toHaveLength(audit);

    await ws.api('DELETE', `/contacts/${active.id}`);
    expect((await submit(formId, { email: 'archived@example.com' })).status).toBe(201);
    expect((await ws.api('GET', `/contacts/${archived.id}`)).body.status).toBe('active');
  });

  it('lets only one of two submissions at once take the last place under the limit', async () => {
    const ws = await aWorkspace(app, { activeContactLimit: 1 });
    const formId = await aForm(ws);
    const results = await Promise.all([submit(formId, { email: 'first@example.com' }), submit(formId, { email: 'second@example.com' })]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    expect((await ws.api('GET', '/workspace')).body.usage.active).toBe(1);
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
      data: [{ id: formId, name: 'Signup', listId, createdAt: expect.any(String), deletedAt: null }],
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
