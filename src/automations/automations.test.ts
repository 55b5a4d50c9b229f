import { sql } from 'kysely';
import nodemailer from 'nodemailer';
import { beforeAll, describe, expect, it } from 'vitest';
import { aContact, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { inTransaction, type ChangeContext } from '../db/database.js';
import { setMembership } from '../lists/service.js';
import { addTagsToContact } from '../tags/service.js';
import { runMaintenance } from '../maintenance/service.js';
import { maintenanceTasks } from '../maintenance/tasks.js';
import { automationTasks } from './maintenance.js';
import { SmtpSender, useSender, type OutgoingMessage, type Sender } from '../messages/sender.js';
import { pauseEnrollments, resumeEnrollments } from './enrollments.js';
import { nextTransition } from './runner.js';
import type { Step } from './service.js';

let app: TestApp;
/** Every message handed to the transport, by any workspace of this file. */
const handedOver: OutgoingMessage[] = [];
/** Workspaces whose transport fails after the ledger has claimed the message. */
const failingWorkspaces = new Set<string>();

const recordingSender: Sender = {
  name: 'recording',
  async send(message) {
    handedOver.push(message);
    if (failingWorkspaces.has(message.workspaceId)) throw new Error('connection reset after DATA');
  },
};

beforeAll(async () => {
  app = await testApp();
  useSender(app.ctx, recordingSender);
});

const sentIn = (ws: TestWorkspace) => handedOver.filter((m) => m.workspaceId === ws.id).map((m) => m.subject);

async function maintain(ws: TestWorkspace): Promise<Record<string, number>> {
  const res = await ws.api('POST', '/maintenance/run');
  expect(res.status).toBe(200);
  return res.body.ran;
}

async function aList(ws: TestWorkspace): Promise<string> {
  const res = await ws.api('POST', '/lists', { name: 'Newsletter' });
  return res.body.id;
}

async function anAutomation(ws: TestWorkspace, trigger: object, steps: object[]): Promise<string> {
  const res = await ws.api('POST', '/automations', { name: 'Welcome series', trigger, steps });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function enrollments(ws: TestWorkspace, automationId: string) {
  const res = await ws.api('GET', `/automations/${automationId}/enrollments`);
  expect(res.status).toBe(200);
  return res.body.data.map((e: { contactId: string; stepIndex: number; status: string }) => ({
    contactId: e.contactId,
    stepIndex: e.stepIndex,
    status: e.status,
  }));
}

const changeOf = (ws: TestWorkspace, origin: ChangeContext['origin']): ChangeContext => ({
  workspaceId: ws.id,
  actorId: null,
  origin,
  at: app.clock.now(),
});

/**
 * What a restore does to a deleted contact, as far as automations can see: the contact
 * is active again and its membership comes back, written with origin "restore".
 */
async function simulateRestore(ws: TestWorkspace, contactId: string, listId: string, options: { resume: boolean }) {
  const change = changeOf(ws, 'restore');
  await inTransaction(app.ctx.db, change, async (tx) => {
    await sql`UPDATE contacts SET status = 'active', deleted_at = NULL, deleted_by = NULL
              WHERE workspace_id = ${ws.id} AND id = ${contactId}`.execute(tx);
    await setMembership(tx, change, listId, contactId, 'subscribed');
    if (options.resume) await resumeEnrollments(tx, ws.id, [contactId], change.at);
  });
}

/** A contact that a user subscribes to a new list, which starts a series of these steps. */
async function aSubscriberOf(ws: TestWorkspace, steps: object[], fields: { email?: string } = {}) {
  const listId = await aList(ws);
  const automationId = await anAutomation(ws, { type: 'list.subscribed', listId }, steps);
  const contact = await aContact(ws, fields);
  await ws.api('PUT', `/lists/${listId}/contacts/${contact.id}`, { status: 'subscribed' });
  return { listId, automationId, contact };
}

/** A three-step series, run until the contact waits at step 2 (index 1). */
async function aContactWaitingAtStepTwo(ws: TestWorkspace) {
  const { listId, automationId, contact } = await aSubscriberOf(ws, [
    { type: 'send_email', subject: 'Welcome' },
    { type: 'wait', seconds: 3600 },
    { type: 'send_email', subject: 'Day two' },
  ]);
  await maintain(ws);
  expect(await enrollments(ws, automationId)).toEqual([{ contactId: contact.id, stepIndex: 1, status: 'waiting' }]);
  return { listId, automationId, contactId: contact.id as string };
}

describe('automations', () => {
  it('sends a subscription’s message exactly once, however often maintenance runs', async () => {
    const ws = await aWorkspace(app);
    const { listId, automationId, contact } = await aSubscriberOf(ws, [{ type: 'send_email', subject: 'Welcome aboard' }], { email: 'ada@example.com' });

    expect(await maintain(ws)).toMatchObject({ events: 2, automationSteps: 1 });
    await maintain(ws);
    // Unsubscribing and subscribing again is a new event, but the ledger has the message.
    await ws.api('PUT', `/lists/${listId}/contacts/${contact.id}`, { status: 'unsubscribed' });
    await ws.api('PUT', `/lists/${listId}/contacts/${contact.id}`, { status: 'subscribed' });
    await maintain(ws);

    expect(handedOver.filter((m) => m.workspaceId === ws.id)).toEqual([
      { id: expect.any(String), workspaceId: ws.id, automationId, stepIndex: 0, contactId: contact.id, to: 'ada@example.com', subject: 'Welcome aboard' },
    ]);
    const ledger = await ws.api('GET', `/messages?contactId=${contact.id}`);
    expect(ledger.body).toEqual({
      data: [{ id: expect.any(String), contactId: contact.id, automationId, stepIndex: 0, subject: 'Welcome aboard', sentAt: expect.any(String), deliveryStatus: 'delivered' }],
      nextCursor: null,
    });
    expect(await enrollments(ws, automationId)).toEqual([{ contactId: contact.id, stepIndex: 1, status: 'completed' }]);
  });

  it('starts on contact.created and on tag.added of the named tag only', async () => {
    const ws = await aWorkspace(app);
    const vip = (await ws.api('POST', '/tags', { name: 'vip' })).body.id;
    const other = (await ws.api('POST', '/tags', { name: 'other' })).body.id;
    const onCreate = await anAutomation(ws, { type: 'contact.created' }, [{ type: 'send_email', subject: 'Hello' }]);
    const onVip = await anAutomation(ws, { type: 'tag.added', tagId: vip }, [{ type: 'send_email', subject: 'VIP' }]);
    const tagged = await aContact(ws);
    const untagged = await aContact(ws);
    await ws.api('POST', `/contacts/${tagged.id}/tags`, { tagId: vip });
    await ws.api('POST', `/contacts/${untagged.id}/tags`, { tagId: other });
    await maintain(ws);

    expect((await enrollments(ws, onCreate)).map((e: { contactId: string }) => e.contactId).sort()).toEqual([tagged.id, untagged.id].sort());
    expect(await enrollments(ws, onVip)).toEqual([{ contactId: tagged.id, stepIndex: 1, status: 'completed' }]);
    expect(sentIn(ws).sort()).toEqual(['Hello', 'Hello', 'VIP']);
  });

  it('enrols nobody for events that happened before the automation existed', async () => {
    const ws = await aWorkspace(app);
    const listId = await aList(ws);
    const contact = await aContact(ws);
    await ws.api('PUT', `/lists/${listId}/contacts/${contact.id}`, { status: 'subscribed' });
    app.clock.advance(1);
    const automationId = await anAutomation(ws, { type: 'list.subscribed', listId }, [{ type: 'send_email', subject: 'Late' }]);
    await maintain(ws);
    expect(await enrollments(ws, automationId)).toEqual([]);
    expect(sentIn(ws)).toEqual([]);
  });

  it('enrols nobody for events whose origin is restore or rollback', async () => {
    const ws = await aWorkspace(app);
    const listId = await aList(ws);
    const tagId = (await ws.api('POST', '/tags', { name: 'vip' })).body.id;
    const onList = await anAutomation(ws, { type: 'list.subscribed', listId }, [{ type: 'send_email', subject: 'Welcome' }]);
    const onTag = await anAutomation(ws, { type: 'tag.added', tagId }, [{ type: 'send_email', subject: 'VIP' }]);
    const contact = await aContact(ws);
    const restore = changeOf(ws, 'restore');
    await inTransaction(app.ctx.db, restore, (tx) => setMembership(tx, restore, listId, contact.id, 'subscribed'));
    const rollback = changeOf(ws, 'rollback');
    await inTransaction(app.ctx.db, rollback, (tx) => addTagsToContact(tx, rollback, contact.id, [tagId]));

    expect(await maintain(ws)).toMatchObject({ events: 3, automationSteps: 0 });
    expect(await enrollments(ws, onList)).toEqual([]);
    expect(await enrollments(ws, onTag)).toEqual([]);
    expect(sentIn(ws)).toEqual([]);
  });

  it('pauses a deleted contact’s enrollment, and a restore sends nothing and enrols nobody', async () => {
    const ws = await aWorkspace(app);
    const { listId, automationId, contactId } = await aContactWaitingAtStepTwo(ws);
    const second = await anAutomation(ws, { type: 'list.subscribed', listId }, [{ type: 'send_email', subject: 'Second series' }]);
    app.clock.advance(1);
    expect((await ws.api('DELETE', `/contacts/${contactId}`)).status).toBe(200);
    expect(await enrollments(ws, automationId)).toEqual([{ contactId, stepIndex: 1, status: 'paused' }]);

    await simulateRestore(ws, contactId, listId, { resume: false });
    app.clock.advance(7200);
    await maintain(ws);

    expect(await enrollments(ws, automationId)).toEqual([{ contactId, stepIndex: 1, status: 'paused' }]);
    expect(await enrollments(ws, second)).toEqual([]);
    expect(sentIn(ws)).toEqual(['Welcome']);
  });

  it('resumes a restored contact at step 2 of 3 when asked, and sends only step 3’s message', async () => {
    const ws = await aWorkspace(app);
    const { listId, automationId, contactId } = await aContactWaitingAtStepTwo(ws);
    expect((await ws.api('DELETE', `/contacts/${contactId}`)).status).toBe(200);
    await simulateRestore(ws, contactId, listId, { resume: true });
    expect(await enrollments(ws, automationId)).toEqual([{ contactId, stepIndex: 1, status: 'waiting' }]);

    app.clock.advance(3600);
    await maintain(ws);

    expect(sentIn(ws)).toEqual(['Welcome', 'Day two']);
    const ledger = await ws.api('GET', `/messages?contactId=${contactId}`);
    expect(ledger.body.data.map((m: { stepIndex: number; subject: string }) => [m.stepIndex, m.subject])).toEqual([
      [0, 'Welcome'],
      [2, 'Day two'],
    ]);
    expect(await enrollments(ws, automationId)).toEqual([{ contactId, stepIndex: 3, status: 'completed' }]);
  });

  it('sends nothing again when a resumed enrollment stands at a step already sent', async () => {
    const ws = await aWorkspace(app);
    const { automationId, contactId } = await aContactWaitingAtStepTwo(ws);
    // Paused back at step 1 (index 0), as a rollback to before the first send would leave it.
    const rollback = changeOf(ws, 'rollback');
    await inTransaction(app.ctx.db, rollback, async (tx) => {
      await sql`UPDATE enrollments SET step_index = 0, status = 'active' WHERE workspace_id = ${ws.id} AND automation_id = ${automationId}`.execute(tx);
      await pauseEnrollments(tx, ws.id, [contactId], rollback.at);
      await resumeEnrollments(tx, ws.id, [contactId], rollback.at);
    });
    await maintain(ws);
    expect(sentIn(ws)).toEqual(['Welcome']);
    expect(await enrollments(ws, automationId)).toEqual([{ contactId, stepIndex: 1, status: 'waiting' }]);
  });

  it('sends nothing new when the outbox is delivered again, twice', async () => {
    const ws = await aWorkspace(app);
    const { automationId, contact } = await aSubscriberOf(ws, [{ type: 'send_email', subject: 'Welcome' }]);
    await maintain(ws);

    for (let replay = 0; replay < 2; replay += 1) {
      await sql`UPDATE outbox SET processed_at = NULL WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
      expect(await maintain(ws)).toMatchObject({ events: 2, automationSteps: 0 });
    }
    expect(sentIn(ws)).toEqual(['Welcome']);
    expect(await enrollments(ws, automationId)).toEqual([{ contactId: contact.id, stepIndex: 1, status: 'completed' }]);
  });

  it('prunes events delivered more than 7 days ago, and only those', async () => {
    const ws = await aWorkspace(app);
    await aSubscriberOf(ws, [{ type: 'send_email', subject: 'Welcome' }]);
    await maintain(ws);
    app.clock.advance(6 * 86_400);
    await aContact(ws);
    expect(await maintain(ws)).toMatchObject({ events: 1, prunedEvents: 0 });
    app.clock.advance(2 * 86_400);
    expect(await maintain(ws)).toMatchObject({ prunedEvents: 2 });
    const { rows } = await sql<{ type: string }>`SELECT type FROM outbox WHERE workspace_id = ${ws.id}`.execute(app.ctx.db);
    expect(rows).toEqual([{ type: 'contact.created' }]);
  });

  it('does not send twice when the transport fails after the ledger claimed the message', async () => {
    const ws = await aWorkspace(app);
    failingWorkspaces.add(ws.id);
    const { automationId, contact } = await aSubscriberOf(ws, [
      { type: 'send_email', subject: 'Welcome' },
      { type: 'send_email', subject: 'Follow-up' },
    ]);
    await maintain(ws);
    await maintain(ws);

    expect(sentIn(ws)).toEqual(['Welcome', 'Follow-up']);
    const ledger = await ws.api('GET', `/messages?contactId=${contact.id}`);
    expect(ledger.body.data.map((m: { subject: string; deliveryStatus: string }) => [m.subject, m.deliveryStatus])).toEqual([
      ['Welcome', 'failed'],
      ['Follow-up', 'failed'],
    ]);
    expect(await enrollments(ws, automationId)).toEqual([{ contactId: contact.id, stepIndex: 2, status: 'completed' }]);
  });

  it('does not send twice when a step whose message is in the ledger runs again', async () => {
    const ws = await aWorkspace(app);
    const { automationId, contact } = await aSubscriberOf(ws, [{ type: 'send_email', subject: 'Welcome' }]);
    await maintain(ws);
    // A crash that lost the step's mark but not its ledger row: the step is due again.
    await sql`UPDATE enrollments SET step_index = 0, status = 'active' WHERE workspace_id = ${ws.id} AND automation_id = ${automationId}`.execute(app.ctx.db);

    expect(await maintain(ws)).toMatchObject({ automationSteps: 1 });
    expect(sentIn(ws)).toEqual(['Welcome']);
    expect((await ws.api('GET', `/messages?contactId=${contact.id}`)).body.data).toHaveLength(1);
    expect(await enrollments(ws, automationId)).toEqual([{ contactId: contact.id, stepIndex: 1, status: 'completed' }]);
  });

  it('waits by the test clock', async () => {
    const ws = await aWorkspace(app);
    const { automationId, contact } = await aSubscriberOf(ws, [
      { type: 'wait', seconds: 600 },
      { type: 'send_email', subject: 'Ten minutes later' },
    ]);
    await maintain(ws);
    expect(await enrollments(ws, automationId)).toEqual([{ contactId: contact.id, stepIndex: 0, status: 'waiting' }]);

    app.clock.advance(590);
    await maintain(ws);
    expect(sentIn(ws)).toEqual([]);

    app.clock.advance(10);
    await maintain(ws);
    expect(sentIn(ws)).toEqual(['Ten minutes later']);
    expect(await enrollments(ws, automationId)).toEqual([{ contactId: contact.id, stepIndex: 2, status: 'completed' }]);
  });

  it('runs every workspace’s due steps in the background pass', async () => {
    const ws = await aWorkspace(app);
    await anAutomation(ws, { type: 'contact.created' }, [{ type: 'send_email', subject: 'Hello' }]);
    await aContact(ws);
    // The automation tasks alone, unscoped as the background pass runs them: the whole
    // pass also walks every other workspace this worker's shared database holds (its
    // snapshots, compaction, audit chain), which proves nothing here and took 32 s in CI.
    expect(maintenanceTasks).toEqual(expect.arrayContaining(automationTasks));
    const ran = await runMaintenance(app.ctx, automationTasks, null);
    expect(ran.automationSteps).toBeGreaterThanOrEqual(1);
    expect(sentIn(ws)).toEqual(['Hello']);
  });

  it('sends each message once when two maintenance passes run at the same time', async () => {
    const ws = await aWorkspace(app);
    const listId = await aList(ws);
    await anAutomation(ws, { type: 'list.subscribed', listId }, [
      { type: 'send_email', subject: 'One' },
      { type: 'send_email', subject: 'Two' },
    ]);
    for (let i = 0; i < 12; i += 1) {
      const contact = await aContact(ws);
      await ws.api('PUT', `/lists/${listId}/contacts/${contact.id}`, { status: 'subscribed' });
    }
    await Promise.all([maintain(ws), maintain(ws), runMaintenance(app.ctx, maintenanceTasks, ws.id)]);
    await maintain(ws);
    const sent = handedOver.filter((m) => m.workspaceId === ws.id);
    expect(sent).toHaveLength(24);
    expect(new Set(sent.map((m) => `${m.contactId}:${m.stepIndex}`)).size).toBe(24);
    expect((await ws.api('GET', '/messages?limit=500')).body.data).toHaveLength(24);
  });

  it('lists and reads automations; another workspace’s is a 404', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const first = await anAutomation(ws, { type: 'contact.created' }, [{ type: 'send_email', subject: 'A' }]);
    const second = await anAutomation(ws, { type: 'contact.created' }, [{ type: 'wait', seconds: 5 }]);
    const page = await ws.api('GET', '/automations?limit=1');
    expect(page.body.data.map((a: { id: string }) => a.id)).toEqual([first]);
    const next = await ws.api('GET', `/automations?limit=1&cursor=${page.body.nextCursor}`);
    expect(next.body).toEqual({ data: [expect.objectContaining({ id: second, trigger: { type: 'contact.created' }, steps: [{ type: 'wait', seconds: 5 }] })], nextCursor: null });
    expect((await other.api('GET', `/automations/${first}`)).status).toBe(404);
    expect((await other.api('GET', `/automations/${first}/enrollments`)).status).toBe(404);
    expect((await ws.api('GET', '/automations/no-such-id')).status).toBe(404);
  });

  it('refuses bad automations with 400 and creates none', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const foreignList = (await other.api('POST', '/lists', { name: 'Theirs' })).body.id;
    const bad: object[] = [
      { name: 'x', trigger: { type: 'list.subscribed', listId: foreignList }, steps: [{ type: 'send_email', subject: 'Hi' }] },
      { name: 'x', trigger: { type: 'tag.added', tagId: 'no-such-tag' }, steps: [{ type: 'send_email', subject: 'Hi' }] },
      { name: 'x', trigger: { type: 'list.subscribed' }, steps: [{ type: 'send_email', subject: 'Hi' }] },
      { name: 'x', trigger: { type: 'contact.deleted' }, steps: [{ type: 'send_email', subject: 'Hi' }] },
      { name: 'x', trigger: { type: 'contact.created' }, steps: [] },
      { name: 'x', trigger: { type: 'contact.created' }, steps: [{ type: 'wait', seconds: -1 }] },
      { name: 'x', trigger: { type: 'contact.created' }, steps: [{ type: 'send_sms', subject: 'Hi' }] },
      { name: 'x', trigger: { type: 'contact.created' }, steps: [{ type: 'send_email', subject: 'Hi', body: 'extra' }] },
      { name: 'x', trigger: { type: 'contact.created' }, steps: [{ type: 'send_email', subject: 'Hi' }], active: true },
    ];
    for (const body of bad) {
      const res = await ws.api('POST', '/automations', body);
      expect({ body, status: res.status, code: res.body.error.code }).toEqual({ body, status: 400, code: 'invalid_request' });
    }
    expect((await ws.api('GET', '/automations')).body).toEqual({ data: [], nextCursor: null });
  });

  it('lets only automations.manage create automations, and contacts.read read the ledger', async () => {
    const ws = await aWorkspace(app);
    const member = await ws.userWithRole('member');
    const res = await member.api('POST', '/automations', { name: 'x', trigger: { type: 'contact.created' }, steps: [{ type: 'send_email', subject: 'Hi' }] });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'automations.manage' } });
    expect((await member.api('GET', '/messages')).body).toEqual({ data: [], nextCursor: null });
    expect((await member.api('GET', '/automations')).status).toBe(200);
  });

  it('pages through the ledger, oldest first, whatever the precision of its times', async () => {
    const ws = await aWorkspace(app);
    const contact = await aContact(ws);
    await sql`
      INSERT INTO messages (workspace_id, automation_id, step_index, contact_id, subject, sent_at)
      SELECT ${ws.id}, 'automation', n, ${contact.id}, 'Step ' || n, '2020-01-01 00:00:00.123456+00'::timestamptz + n * interval '1 microsecond'
      FROM generate_series(0, 2) AS n`.execute(app.ctx.db);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { data: { subject: string }[]; nextCursor: string | null } } = await ws.api('GET', `/messages?contactId=${contact.id}&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...res.body.data.map((m) => m.subject));
      cursor = res.body.nextCursor;
    } while (cursor !== null && seen.length < 10);
    expect(seen).toEqual(['Step 0', 'Step 1', 'Step 2']);
  });

  it('answers 404 for the ledger of another workspace’s contact', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const theirs = await aContact(other);
    const res = await ws.api('GET', `/messages?contactId=${theirs.id}`);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('the step machine', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const base = { automationId: 'a', contactId: 'c', stepCount: 3 };

  it('claims a send_email step’s message and moves to the next step', () => {
    expect(nextTransition({ ...base, stepIndex: 2, status: 'active', step: { type: 'send_email', subject: 'Bye' } }, now)).toEqual({
      automationId: 'a', contactId: 'c', stepIndex: 3, status: 'completed', runAt: now.toISOString(),
      claim: { automationId: 'a', contactId: 'c', stepIndex: 2, subject: 'Bye' }, dataStep: null,
    });
  });

  it('passes over a step it does not know', () => {
    const unknown = { type: 'send_sms', body: 'Hi' } as unknown as Step;
    expect(nextTransition({ ...base, stepIndex: 0, status: 'active', step: unknown }, now)).toMatchObject({ stepIndex: 1, status: 'active', claim: null });
  });

  it('enters a wait step until now plus its seconds, then leaves it', () => {
    const wait = { ...base, stepIndex: 1, step: { type: 'wait' as const, seconds: 90 } };
    expect(nextTransition({ ...wait, status: 'active' }, now)).toMatchObject({ stepIndex: 1, status: 'waiting', runAt: '2026-01-01T00:01:30.000Z', claim: null });
    expect(nextTransition({ ...wait, status: 'waiting' }, now)).toMatchObject({ stepIndex: 2, status: 'active', claim: null });
  });
});

describe('the SMTP sender', () => {
  it('mails the claimed message to the contact through nodemailer', async () => {
    const transport = nodemailer.createTransport({ jsonTransport: true });
    const mails: string[] = [];
    const sender = new SmtpSender({
      sendMail: async (mail: object) => {
        const info = await transport.sendMail(mail);
        mails.push(String(info.message));
        return info;
      },
    } as never);
    await sender.send({ id: 'm1', workspaceId: 'w', automationId: 'a', stepIndex: 0, contactId: 'c', to: 'ada@example.com', subject: 'Welcome' });
    expect(mails).toHaveLength(1);
    expect(JSON.parse(mails[0])).toMatchObject({
      from: { address: 'no-reply@retrace.invalid', name: 'Retrace' },
      to: [{ address: 'ada@example.com', name: '' }],
      subject: 'Welcome',
      text: 'Welcome',
      headers: { 'X-Retrace-Message-Id': 'm1' },
    });
  });
});
