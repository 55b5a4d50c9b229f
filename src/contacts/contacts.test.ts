import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

describe('contacts', () => {
  it('creates a contact and reads it back', async () => {
    const ws = await aWorkspace(app);
    const res = await ws.api('POST', '/contacts', { email: 'Ada@Example.com', firstName: 'Ada', lastName: 'Lovelace', fields: { plan: 'pro' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ email: 'Ada@Example.com', firstName: 'Ada', lastName: 'Lovelace', phone: null, fields: { plan: 'pro' }, tags: [], status: 'active' });
    const read = await ws.api('GET', `/contacts/${res.body.id}`);
    expect(read.body).toEqual(res.body);
  });

  it('refuses a second contact with the same email, whatever its case', async () => {
    const ws = await aWorkspace(app);
    const first = await aContact(ws, { email: 'dup@example.com' });
    const res = await ws.api('POST', '/contacts', { email: 'DUP@example.com' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'email_taken', details: { contactId: first.id } });
  });
});
