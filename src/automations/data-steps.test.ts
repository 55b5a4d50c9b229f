import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const now = () => app.clock.now().toISOString();

async function maintain(ws: TestWorkspace): Promise<void> {
  const res = await ws.api('POST', '/maintenance/run');
  expect(res.status).toBe(200);
}

/** A list and a tag, and `count` contacts subscribed to the list by an admin. */
async function subscribed(ws: TestWorkspace, count: number) {
  const list = (await ws.api('POST', '/lists', { name: 'Newsletter' })).body;
  const tag = (await ws.api('POST', '/tags', { name: 'Lapsed' })).body;
  const contacts = [];
  for (let i = 0; i < count; i += 1) {
    const c = (await ws.api('POST', '/contacts', { email: `member${i}.${Date.now()}@example.com`, firstName: `Member${i}`, fields: { plan: 'pro' } })).body;
    await ws.api('PUT', `/lists/${list.id}/contacts/${c.id}`, { status: 'subscribed' });
    contacts.push(c);
  }
  return { list, tag, contacts };
}

const listsOf = async (ws: TestWorkspace, id: string) => (await ws.api('GET', `/contacts/${id}/lists`)).body.data;
const contact = async (ws: TestWorkspace, id: string) => (await ws.api('GET', `/contacts/${id}`)).body;

describe('automation steps that change contacts', () => {
  it('sets a list status, adds and removes a tag and sets a custom field, each once, sending nothing', async () => {
    const ws = await aWorkspace(app);
    const { list, tag } = await subscribed(ws, 0);
    const vip = (await ws.api('POST', '/tags', { name: 'VIP' })).body;
    const created = await ws.api('POST', '/automations', {
      name: 'Tidy up new contacts',
      trigger: { type: 'contact.created' },
      steps: [
        { type: 'set_list_status', listId: list.id, status: 'unconfirmed' },
        { type: 'add_tag', tagId: tag.id },
        { type: 'remove_tag', tagId: vip.id },
        { type: 'set_field', field: 'source', value: 'web' },
      ],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const c = await aContact(ws, { tags: [vip.id] });
    await maintain(ws);
    await maintain(ws);

    expect(await listsOf(ws, c.id)).toEqual([{ listId: list.id, status: 'unconfirmed' }]);
    expect(await contact(ws, c.id)).toMatchObject({ tags: [tag.id], fields: { source: 'web' } });
    expect((await ws.api('GET', `/automations/${created.body.id}/enrollments`)).body.data).toEqual([
      expect.objectContaining({ contactId: c.id, stepIndex: 4, status: 'completed' }),
    ]);
    expect((await ws.api('GET', `/messages?contactId=${c.id}`)).body.data).toEqual([]);
    const audit = (await ws.api('GET', `/audit-log?action=automation.step_applied&targetId=${created.body.id}`)).body.data;
    expect(audit.map((e: { details: { type: string; contacts: number } }) => [e.details.type, e.details.contacts]).sort()).toEqual([
      ['add_tag', 1], ['remove_tag', 1], ['set_field', 1], ['set_list_status', 1],
    ]);
  });

  it('refuses a step naming another workspace’s list, or a tag that does not exist, and creates nothing', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const foreignList = (await other.api('POST', '/lists', { name: 'Theirs' })).body;
    for (const step of [{ type: 'set_list_status', listId: foreignList.id, status: 'unsubscribed' }, { type: 'add_tag', tagId: 'no-such-tag' }, { type: 'set_field', field: '', value: 1 }]) {
      const res = await ws.api('POST', '/automations', { name: 'Bad', trigger: { type: 'contact.created' }, steps: [step] });
      expect({ status: res.status, code: res.body.error.code }, JSON.stringify(step)).toEqual({ status: 400, code: 'invalid_request' });
    }
    expect((await ws.api('GET', '/automations')).body.data).toEqual([]);
  });

  it('names the automation as the cause of what it changed, and an undo by automation puts it back, keeping a later edit', async () => {
    const ws = await aWorkspace(app);
    const { list, contacts } = await subscribed(ws, 3);
    const automation = (await ws.api('POST', '/automations', {
      name: 'Unsubscribe on tag',
      trigger: { type: 'tag.added', tagId: (await ws.api('POST', '/tags', { name: 'Churned' })).body.id },
      steps: [{ type: 'set_list_status', listId: list.id, status: 'unsubscribed' }, { type: 'set_field', field: 'plan', value: null }],
    })).body;
    const churned = automation.trigger.tagId;
    for (const c of contacts) await ws.api('POST', `/contacts/${c.id}/tags`, { tagId: churned });
    app.clock.advance(60);
    const from = now();
    await maintain(ws);
    await maintain(ws);
    const to = now();
    for (const c of contacts) expect(await listsOf(ws, c.id)).toEqual([{ listId: list.id, status: 'unsubscribed' }]);
    app.clock.advance(60);
    // someone resubscribes one of them by hand afterwards: kept
    await ws.api('PUT', `/lists/${list.id}/contacts/${contacts[0].id}`, { status: 'bounced' });

    const causes = (await ws.api('GET', `/changes?automationId=${automation.id}`)).body.data;
    expect(causes.length).toBeGreaterThan(0);
    expect(causes.every((c: { cause: { kind: string; id: string } }) => c.cause.kind === 'automation' && c.cause.id === automation.id)).toBe(true);

    const res = await ws.api('POST', '/undos', { cause: { automationId: automation.id, from, to } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await app.runJobs(ws.id);
    const undo = (await ws.api('GET', `/undos/${res.body.id}`)).body;
    expect(undo.status, JSON.stringify(undo)).toBe('succeeded');
    expect(await listsOf(ws, contacts[0].id)).toEqual([{ listId: list.id, status: 'bounced' }]);
    for (const c of contacts.slice(1)) expect(await listsOf(ws, c.id)).toEqual([{ listId: list.id, status: 'subscribed' }]);
    for (const c of contacts) expect((await contact(ws, c.id)).fields).toEqual({ plan: 'pro' });
    expect(undo.conflicts).toEqual([expect.objectContaining({ contactId: contacts[0].id, laterValue: 'bounced', causeValue: 'unsubscribed' })]);
  });
});
