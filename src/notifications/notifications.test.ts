import { createHmac } from 'node:crypto';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupStore } from '../backups/service.js';
import { inTransaction } from '../db/database.js';
import { scheduleMaintenance } from '../maintenance/service.js';
import { aContact, aWorkspace, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { aMailServer, aWebhookReceiver, type MailServer, type ReceivedMail, type ReceivedRequest, type WebhookReceiver } from '../test-support/notification-peers.js';
import { notificationEvents, type NotificationEvent } from './events.js';
import { notificationDeliveryTask } from './maintenance.js';
import { claimDueDeliveries } from './queries.js';
import { claimLeaseMs, deliverDueNotifications, maxAttempts, retryDelaySeconds, sendDelivery } from './sender.js';
import { notify } from './service.js';

let app: TestApp;
let mail: MailServer;
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  mail = await aMailServer();
  app = await testApp({ config: { smtpUrl: mail.url } });
});

afterAll(async () => {
  for (const receiver of receivers) await receiver.close();
  await mail.close();
});

async function aReceiver(): Promise<WebhookReceiver> {
  const receiver = await aWebhookReceiver();
  receivers.push(receiver);
  return receiver;
}

interface Hook {
  id: string;
  secret: string;
}

async function aWebhook(ws: TestWorkspace, url: string, events: NotificationEvent[]): Promise<Hook> {
  const res = await ws.api('POST', '/webhooks', { url, events });
  if (res.status !== 201) throw new Error(`webhook creation failed: ${JSON.stringify(res.body)}`);
  return res.body;
}


/** Runs the workspace's maintenance (jobs, then notifications), as an admin would. */
async function runMaintenance(ws: TestWorkspace): Promise<Record<string, number>> {
  const res = await ws.api('POST', '/maintenance/run');
  expect(res.status).toBe(200);
  return res.body.ran;
}

/** The workspace's first admin's email address, as the API shows it. */
async function adminAddress(ws: TestWorkspace): Promise<string> {
  const users = await ws.api('GET', '/users');
  return users.body.data.find((u: { id: string }) => u.id === ws.adminId).email;
}

/** Events told now, as a feature's transaction would write them (on `onApp`'s database and clock). */
async function anEvent(ws: TestWorkspace, events: NotificationEvent | NotificationEvent[] = 'import.finished', onApp: TestApp = app): Promise<void> {
  const change = { workspaceId: ws.id, actorId: null, origin: 'system' as const, at: onApp.clock.now() };
  await inTransaction(onApp.ctx.db, change, async (tx) => {
    for (const event of [events].flat()) await notify(tx, change, event, { importId: 'i1' });
  });
}

const hmac = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

function ofEvent(received: ReceivedRequest[], event: string): ReceivedRequest[] {
  return received.filter((r) => r.headers['x-retrace-event'] === event);
}

function mailsOf(to: string, event: string): ReceivedMail[] {
  return mail.received.filter((m) => m.to.includes(to) && m.header('X-Retrace-Event') === event);
}

/**
 * Delivers what is due twice over (a second pass must send nothing again) and checks that
 * the event reached the receiver once, signed with the webhook's secret, and the admin's
 * inbox once. Answers the webhook body.
 */
async function expectToldOnce(ws: TestWorkspace, receiver: WebhookReceiver, hook: Hook, event: NotificationEvent): Promise<{ event: string; at: string; workspaceId: string; data: Record<string, unknown> }> {
  await runMaintenance(ws);
  await runMaintenance(ws);
  const requests = ofEvent(receiver.received, event);
  expect(requests).toHaveLength(1);
  const [request] = requests;
  expect(request.headers['content-type']).toBe('application/json');
  expect(request.headers['x-retrace-signature']).toBe(hmac(hook.secret, request.body));
  const deliveries = (await ws.api('GET', `/webhooks/${hook.id}/deliveries`)).body.data.filter((d: { event: string }) => d.event === event);
  expect(deliveries).toHaveLength(1);
  expect(deliveries[0]).toMatchObject({ id: request.headers['x-retrace-delivery'], status: 'delivered', attemptCount: 1 });
  expect(deliveries[0].attempts).toEqual([{ attempt: 1, at: expect.any(String), durationMs: expect.any(Number), statusCode: 200, error: null, outcome: 'delivered', nextAttemptAt: null }]);

  const to = await adminAddress(ws);
  const mails = mailsOf(to, event);
  expect(mails).toHaveLength(1);
  const emails = (await ws.api('GET', '/notification-emails')).body.data.filter((e: { event: string }) => e.event === event);
  expect(emails).toHaveLength(1);
  expect(emails[0]).toMatchObject({ to, userId: ws.adminId, status: 'delivered', attemptCount: 1 });
  expect(mails[0].header('X-Retrace-Delivery')).toBe(emails[0].id);
  expect(mails[0].header('Message-ID')).toBe(`<${emails[0].id}@retrace.invalid>`);

  const body = JSON.parse(request.body);
  expect(Object.keys(body)).toEqual(['event', 'at', 'workspaceId', 'data']);
  expect(body).toMatchObject({ event, workspaceId: ws.id });
  return body;
}

describe('each event reaches the SMTP server and a signed webhook, once', () => {
  it('restore_job.finished: a restore that ran, with its counts', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    const hook = await aWebhook(ws, receiver.url, [...notificationEvents]);
    const kept = await aContact(ws);
    const gone = await aContact(ws);
    await ws.api('POST', '/contacts/delete', { ids: [kept.id, gone.id] });
    await ws.api('POST', `/contacts/${gone.id}/erase`);
    const job = (await ws.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [kept.id, gone.id] })).body;

    const body = await expectToldOnce(ws, receiver, hook, 'restore_job.finished');
    const finished = (await ws.api('GET', `/restore-jobs/${job.id}`)).body;
    expect(body).toEqual({
      event: 'restore_job.finished',
      at: finished.finishedAt,
      workspaceId: ws.id,
      data: { jobId: job.id, status: 'succeeded', source: 'deleted', requested: 2, restored: 1, skipped: 1, error: null, createdBy: ws.adminId, finishedAt: finished.finishedAt },
    });
    expect(mailsOf(await adminAddress(ws), 'restore_job.finished')[0].header('Subject')).toBe('[Retrace] Restore succeeded');
  });

  it('rollback.finished: a partial rollback that ran, with its counts', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    const hook = await aWebhook(ws, receiver.url, ['rollback.finished']);
    const ann = await aContact(ws, { firstName: 'Ann' });
    app.clock.advance(1);
    const at = app.clock.now().toISOString();
    app.clock.advance(1);
    await ws.api('PATCH', `/contacts/${ann.id}`, { firstName: 'Annie' });
    const rollback = (await ws.api('POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [ann.id] } })).body;

    const body = await expectToldOnce(ws, receiver, hook, 'rollback.finished');
    const ran = (await ws.api('GET', `/rollbacks/${rollback.id}`)).body;
    expect(ran.status).toBe('succeeded');
    expect(body.data).toEqual({
      rollbackId: rollback.id,
      status: 'succeeded',
      at,
      scope: 'contacts',
      undoOf: null,
      counts: ran.counts,
      skipped: 0,
      error: null,
      requestedBy: ws.adminId,
      approvedBy: null,
      finishedAt: ran.finishedAt,
    });
    expect(ran.counts.contacts).toEqual({ revive: 0, revert: 1, remove: 0 });
  });

  it('rollback.awaiting_approval when a full rollback is requested, and rollback.finished as failed when it is rejected', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    const hook = await aWebhook(ws, receiver.url, ['rollback.awaiting_approval', 'rollback.finished']);
    await aContact(ws);
    app.clock.advance(1);
    const at = app.clock.now().toISOString();
    app.clock.advance(1);
    await aContact(ws);
    const rollback = (await ws.api('POST', '/rollbacks', { at, scope: { type: 'workspace' } })).body;

    const awaiting = await expectToldOnce(ws, receiver, hook, 'rollback.awaiting_approval');
    expect(awaiting.data).toEqual({
      rollbackId: rollback.id,
      at,
      scope: 'workspace',
      undoOf: null,
      counts: rollback.counts,
      skipped: 0,
      requestedBy: ws.adminId,
    });
    expect(rollback.counts.contacts).toEqual({ revive: 0, revert: 0, remove: 1 });

    await ws.api('POST', `/rollbacks/${rollback.id}/reject`);
    const rejected = await expectToldOnce(ws, receiver, hook, 'rollback.finished');
    expect(rejected.data).toMatchObject({ rollbackId: rollback.id, status: 'failed', error: `rejected by ${ws.adminId}`, scope: 'workspace' });
  });

  it('backup.finished: a backup exported and verified', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    const hook = await aWebhook(ws, receiver.url, ['backup.finished']);
    await aContact(ws);
    const backup = (await ws.api('POST', '/backups')).body;

    const body = await expectToldOnce(ws, receiver, hook, 'backup.finished');
    expect(body.data).toEqual({
      backupId: backup.id,
      snapshotId: backup.snapshotId,
      takenAt: backup.takenAt,
      scheduled: false,
      status: 'verified',
      byteSize: backup.byteSize,
      error: null,
      createdBy: ws.adminId,
    });
  });

  it('backup.finished as failed when the backup store refuses the file', async () => {
    const notADirectory = path.join(mkdtempSync(path.join(tmpdir(), 'retrace-notify-')), 'a-file');
    writeFileSync(notADirectory, 'not a directory');
    const broken = await testApp({ config: { smtpUrl: mail.url, backupDir: path.join(notADirectory, 'backups') } });
    const ws = await aWorkspace(broken);
    const receiver = await aReceiver();
    const hook = await aWebhook(ws, receiver.url, ['backup.finished']);
    expect((await ws.api('POST', '/backups')).status).toBe(500);

    const body = await expectToldOnce(ws, receiver, hook, 'backup.finished');
    expect(body.data).toEqual({
      backupId: null,
      snapshotId: expect.any(String),
      takenAt: expect.any(String),
      scheduled: false,
      status: 'failed',
      byteSize: null,
      error: expect.stringContaining('ENOTDIR'),
      createdBy: ws.adminId,
    });
    expect((await ws.api('GET', '/backups')).body.data).toEqual([]);
  });

  it('backup.finished as failed once per snapshot for a scheduled backup the store refuses at every pass', async () => {
    const notADirectory = path.join(mkdtempSync(path.join(tmpdir(), 'retrace-notify-')), 'a-file');
    writeFileSync(notADirectory, 'not a directory');
    const broken = await testApp({ config: { smtpUrl: mail.url, backupDir: path.join(notADirectory, 'backups') } });
    const ws = await aWorkspace(broken);
    const receiver = await aReceiver();
    const hook = await aWebhook(ws, receiver.url, ['backup.finished']);
    expect((await ws.api('PUT', '/backups/schedule', { export: 'hourly' })).status).toBe(200);
    broken.clock.advance(3601);
    expect(await runMaintenance(ws)).toMatchObject({ snapshots: 1, scheduledBackups: 0 });

    const body = await expectToldOnce(ws, receiver, hook, 'backup.finished');
    expect(body.data).toMatchObject({ backupId: null, scheduled: true, status: 'failed', createdBy: null });
    expect((await ws.api('GET', '/notification-emails')).body.data).toHaveLength(1);
  });

  it('backup.verification_failed when a backup no longer reads back', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    const hook = await aWebhook(ws, receiver.url, ['backup.verification_failed']);
    const backup = (await ws.api('POST', '/backups')).body;
    await runMaintenance(ws);
    expect(receiver.received).toEqual([]);
    await backupStore(app.ctx.config).remove(backup.fileName);
    expect((await ws.api('POST', `/backups/${backup.id}/verify`)).body.status).toBe('failed');

    const body = await expectToldOnce(ws, receiver, hook, 'backup.verification_failed');
    expect(body.data).toEqual({
      backupId: backup.id,
      snapshotId: backup.snapshotId,
      takenAt: backup.takenAt,
      scheduled: false,
      error: 'the file is missing from the backup store',
    });
  });

  it.each(['undo.finished', 'import.finished', 'mass_delete.held'] as const)('%s, from the notify() other features call in their transaction', async (event) => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    const hook = await aWebhook(ws, receiver.url, [event]);
    const change = { workspaceId: ws.id, actorId: ws.adminId, origin: 'user' as const, at: app.clock.now() };
    await inTransaction(app.ctx.db, change, (tx) => notify(tx, change, event, { id: 'x1', status: 'succeeded' }));

    const body = await expectToldOnce(ws, receiver, hook, event);
    expect(body).toEqual({ event, at: change.at.toISOString(), workspaceId: ws.id, data: { id: 'x1', status: 'succeeded' } });
  });
});

describe('who is told', () => {
  it('sends a webhook only the events it subscribed to, and emails every event', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    await aWebhook(ws, receiver.url, ['import.finished']);
    await anEvent(ws, ['undo.finished', 'import.finished']);
    await runMaintenance(ws);
    expect(receiver.received.map((r) => r.headers['x-retrace-event'])).toEqual(['import.finished']);
    const to = await adminAddress(ws);
    expect(mailsOf(to, 'undo.finished')).toHaveLength(1);
    expect(mailsOf(to, 'import.finished')).toHaveLength(1);
  });

  it('emails the users whose role holds users.manage, and no one else', async () => {
    const ws = await aWorkspace(app);
    await ws.api('POST', '/roles', { name: 'People ops', permissions: ['contacts.read', 'users.manage'] });
    const peopleOps = await ws.api('POST', '/users', { email: `ops-${ws.id}@example.com`, role: 'People ops' });
    const manager = await ws.api('POST', '/users', { email: `manager-${ws.id}@example.com`, role: 'manager' });
    await anEvent(ws);
    await runMaintenance(ws);
    const emails = (await ws.api('GET', '/notification-emails')).body.data;
    expect(emails.map((e: { userId: string }) => e.userId).sort()).toEqual([ws.adminId, peopleOps.body.user.id].sort());
    expect(mailsOf(peopleOps.body.user.email, 'import.finished')).toHaveLength(1);
    expect(mailsOf(manager.body.user.email, 'import.finished')).toEqual([]);
  });

  it('writes no event when the change that would tell of it rolls back', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    await aWebhook(ws, receiver.url, ['import.finished']);
    const change = { workspaceId: ws.id, actorId: null, origin: 'system' as const, at: app.clock.now() };
    await expect(
      inTransaction(app.ctx.db, change, async (tx) => {
        await notify(tx, change, 'import.finished', {});
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await runMaintenance(ws)).toMatchObject({ notifications: 0 });
    expect(receiver.received).toEqual([]);
    expect((await ws.api('GET', '/notification-emails')).body.data).toEqual([]);
  });

  it('sends nothing more to a deleted webhook, pending deliveries included', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    const hook = await aWebhook(ws, receiver.url, ['import.finished']);
    await anEvent(ws);
    expect((await ws.api('DELETE', `/webhooks/${hook.id}`)).status).toBe(204);
    await runMaintenance(ws);
    expect(receiver.received).toEqual([]);
  });
});

async function deliveriesOf(ws: TestWorkspace, hook: Hook) {
  return (await ws.api('GET', `/webhooks/${hook.id}/deliveries`)).body.data;
}

describe('retries', () => {
  it('retries a failed delivery after a minute, then two, with the same id and signed body, and logs every attempt', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    receiver.answer = (i) => [500, 503][i] ?? 200;
    const hook = await aWebhook(ws, receiver.url, ['import.finished']);
    await anEvent(ws);

    await runMaintenance(ws);
    const [first] = await deliveriesOf(ws, hook);
    expect(first).toMatchObject({ status: 'pending', attemptCount: 1, deliveredAt: null, lastError: 'the receiver answered 500' });
    expect(first.attempts).toEqual([{ attempt: 1, at: expect.any(String), durationMs: expect.any(Number), statusCode: 500, error: 'the receiver answered 500', outcome: 'retrying', nextAttemptAt: first.nextAttemptAt }]);
    expect(Date.parse(first.nextAttemptAt) - Date.parse(first.attempts[0].at)).toBeGreaterThanOrEqual(60_000);
    expect(Date.parse(first.nextAttemptAt) - Date.parse(first.attempts[0].at)).toBeLessThan(61_000);

    app.clock.advance(55);
    await runMaintenance(ws);
    expect(receiver.received).toHaveLength(1);
    app.clock.advance(6);
    await runMaintenance(ws);
    expect(receiver.received).toHaveLength(2);
    const [second] = await deliveriesOf(ws, hook);
    expect(second.attempts.map((a: { statusCode: number; outcome: string }) => [a.statusCode, a.outcome])).toEqual([[500, 'retrying'], [503, 'retrying']]);
    expect(Date.parse(second.nextAttemptAt) - Date.parse(second.attempts[1].at)).toBeGreaterThanOrEqual(120_000);

    app.clock.advance(121);
    await runMaintenance(ws);
    const [third] = await deliveriesOf(ws, hook);
    expect(third).toMatchObject({ status: 'delivered', attemptCount: 3, nextAttemptAt: null, lastError: null, deliveredAt: third.attempts[2].at });
    expect(third.attempts[2]).toMatchObject({ attempt: 3, statusCode: 200, outcome: 'delivered', error: null });
    expect(new Set(receiver.received.map((r) => r.headers['x-retrace-delivery']))).toEqual(new Set([third.id]));
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    expect(new Set(receiver.received.map((r) => r.headers['x-retrace-signature']))).toEqual(new Set([hmac(hook.secret, receiver.received[0].body)]));
  });

  it(`gives a delivery up as failed after ${maxAttempts} attempts`, async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    receiver.answer = () => 500;
    const hook = await aWebhook(ws, receiver.url, ['import.finished']);
    await anEvent(ws);
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      await runMaintenance(ws);
      app.clock.advance(retryDelaySeconds(attempt) + 1);
    }
    await runMaintenance(ws);
    expect(receiver.received).toHaveLength(maxAttempts);
    const [delivery] = await deliveriesOf(ws, hook);
    expect(delivery).toMatchObject({ status: 'failed', attemptCount: maxAttempts, nextAttemptAt: null, lastError: 'the receiver answered 500' });
    expect(delivery.attempts.map((a: { outcome: string }) => a.outcome)).toEqual([...Array(maxAttempts - 1).fill('retrying'), 'failed']);
  });

  it('doubles the wait between attempts, from a minute up to six hours at most', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(retryDelaySeconds)).toEqual([60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600]);
  });

  it('counts a receiver that does not answer in time as a failed attempt', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    receiver.hold = true;
    const hook = await aWebhook(ws, receiver.url, ['import.finished']);
    await anEvent(ws);
    await deliverDueNotifications(app.ctx, ws.id, { timeoutMs: 50 });
    const [delivery] = await deliveriesOf(ws, hook);
    expect(delivery.attempts).toEqual([expect.objectContaining({ statusCode: null, error: 'no answer within 50 ms', outcome: 'retrying' })]);
  });

  it('logs why a receiver could not be reached, and does not follow redirects', async () => {
    const ws = await aWorkspace(app);
    const gone = await aWebhookReceiver();
    await gone.close();
    const redirecting = await aReceiver();
    redirecting.answer = () => 302;
    const unreachable = await aWebhook(ws, gone.url, ['import.finished']);
    const redirect = await aWebhook(ws, redirecting.url, ['import.finished']);
    await anEvent(ws);
    await runMaintenance(ws);
    expect((await deliveriesOf(ws, unreachable))[0].attempts[0]).toMatchObject({ statusCode: null, error: expect.stringContaining('ECONNREFUSED'), outcome: 'retrying' });
    expect((await deliveriesOf(ws, redirect))[0].attempts[0]).toMatchObject({ statusCode: 302, error: 'the receiver answered 302 (redirects are not followed)', outcome: 'retrying' });
  });

  it('retries an email the SMTP server defers (4xx) and gives one up that it refuses (5xx)', async () => {
    const ws = await aWorkspace(app);
    mail.refuseWith = 451;
    try {
      await anEvent(ws);
      await runMaintenance(ws);
      mail.refuseWith = 550;
      await anEvent(ws, 'undo.finished');
      await runMaintenance(ws);
    } finally {
      mail.refuseWith = null;
    }
    const emails = (await ws.api('GET', '/notification-emails')).body.data;
    const deferred = emails.find((e: { event: string }) => e.event === 'import.finished');
    const refused = emails.find((e: { event: string }) => e.event === 'undo.finished');
    expect(deferred).toMatchObject({ status: 'pending', attemptCount: 1 });
    expect(deferred.attempts[0]).toMatchObject({ statusCode: 451, outcome: 'retrying' });
    expect(refused).toMatchObject({ status: 'failed', attemptCount: 1 });
    expect(refused.attempts[0]).toMatchObject({ statusCode: 550, outcome: 'failed' });

    app.clock.advance(61);
    await runMaintenance(ws);
    const retried = (await ws.api('GET', '/notification-emails')).body.data.find((e: { event: string }) => e.event === 'import.finished');
    expect(retried).toMatchObject({ status: 'delivered', attemptCount: 2 });
    expect(mailsOf(await adminAddress(ws), 'import.finished')).toHaveLength(1);
  });
});

describe('without SMTP_URL', () => {
  it('records each email as not sent with why, and still delivers webhooks', async () => {
    const plain = await testApp();
    const ws = await aWorkspace(plain);
    const receiver = await aReceiver();
    await aWebhook(ws, receiver.url, ['import.finished']);
    await anEvent(ws, 'import.finished', plain);
    expect((await ws.api('POST', '/maintenance/run')).status).toBe(200);
    expect(receiver.received).toHaveLength(1);
    const emails = (await ws.api('GET', '/notification-emails')).body.data;
    expect(emails).toEqual([
      expect.objectContaining({
        status: 'failed',
        userId: ws.adminId,
        lastError: 'not sent: SMTP_URL is not set, so there is no mail server to send through',
        attempts: [expect.objectContaining({ outcome: 'failed', statusCode: null })],
      }),
    ]);
  });
});

describe('a crash sends each once', () => {
  it('sends what a stopped server left queued once, from the next server’s background sender', async () => {
    const first = await testApp({ config: { smtpUrl: mail.url } });
    const ws = await aWorkspace(first);
    const receiver = await aReceiver();
    await aWebhook(ws, receiver.url, ['import.finished', 'undo.finished']);
    await anEvent(ws, ['import.finished', 'undo.finished'], first);
    const to = await adminAddress(ws);
    // The first server stops before sending anything.
    await first.server.close();

    const second = await testApp({ config: { smtpUrl: mail.url } });
    const stop = scheduleMaintenance(second.ctx, [notificationDeliveryTask], 20);
    await receiver.until(2);
    await mail.until(2, (m) => m.to.includes(to));
    await stop();
    await deliverDueNotifications(second.ctx, ws.id);
    expect(receiver.received.map((r) => r.headers['x-retrace-event']).sort()).toEqual(['import.finished', 'undo.finished']);
    expect(new Set(receiver.received.map((r) => r.headers['x-retrace-delivery'])).size).toBe(2);
    expect(mailsOf(to, 'import.finished')).toHaveLength(1);
    expect(mailsOf(to, 'undo.finished')).toHaveLength(1);
    await second.server.close();
  });

  it('sends a delivery again under the same id when its sender died between sending and recording, then never again', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    const hook = await aWebhook(ws, receiver.url, ['import.finished']);
    await anEvent(ws);
    // A sender claims and sends, and dies before it records anything.
    const now = app.clock.now();
    const claimed = await claimDueDeliveries(app.ctx.db, ws.id, now, new Date(now.getTime() + claimLeaseMs), 'dead-sender', 20);
    expect(claimed.map((d) => d.channel).sort()).toEqual(['email', 'webhook']);
    for (const delivery of claimed) await sendDelivery(app.ctx, delivery);
    expect(receiver.received).toHaveLength(1);

    // Its claim holds until the lease is over: nothing is sent twice meanwhile.
    await runMaintenance(ws);
    expect(receiver.received).toHaveLength(1);

    app.clock.advance(claimLeaseMs / 1000 + 1);
    await runMaintenance(ws);
    await runMaintenance(ws);
    expect(receiver.received).toHaveLength(2);
    const [delivery] = await deliveriesOf(ws, hook);
    expect(receiver.received.map((r) => r.headers['x-retrace-delivery'])).toEqual([delivery.id, delivery.id]);
    expect(delivery).toMatchObject({ status: 'delivered', attemptCount: 2 });
    // The dead sender's attempt was never logged; the log says so by its number.
    expect(delivery.attempts.map((a: { attempt: number }) => a.attempt)).toEqual([2]);
    const email = (await ws.api('GET', '/notification-emails')).body.data[0];
    expect(mailsOf(await adminAddress(ws), 'import.finished').map((m) => m.header('X-Retrace-Delivery'))).toEqual([email.id, email.id]);
  });

  it('sends each delivery once when two senders run at the same time', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    await aWebhook(ws, receiver.url, ['import.finished']);
    for (let i = 0; i < 5; i += 1) await anEvent(ws);
    const sent = await Promise.all([deliverDueNotifications(app.ctx, ws.id), deliverDueNotifications(app.ctx, ws.id)]);
    expect(sent[0] + sent[1]).toBe(10);
    expect(receiver.received).toHaveLength(5);
    expect(new Set(receiver.received.map((r) => r.headers['x-retrace-delivery'])).size).toBe(5);
    expect(mailsOf(await adminAddress(ws), 'import.finished')).toHaveLength(5);
  });
});

describe('the delivery log', () => {
  it('is kept 30 days after its event settled, then pruned by maintenance', async () => {
    const ws = await aWorkspace(app);
    const receiver = await aReceiver();
    const hook = await aWebhook(ws, receiver.url, ['import.finished']);
    await anEvent(ws);
    await runMaintenance(ws);
    app.clock.advance(29 * 86_400);
    expect(await runMaintenance(ws)).toMatchObject({ prunedNotifications: 0 });
    app.clock.advance(2 * 86_400);
    expect(await runMaintenance(ws)).toMatchObject({ prunedNotifications: 1 });
    expect(await deliveriesOf(ws, hook)).toEqual([]);
    expect((await ws.api('GET', '/notification-emails')).body.data).toEqual([]);
  });
});
