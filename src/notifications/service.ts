import { randomBytes, randomUUID } from 'node:crypto';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { notFound } from '../http/errors.js';
import { decodeCursor, toPage, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import type { Permission } from '../users/permissions.js';
import type { NotificationData, NotificationEvent } from './events.js';
import {
  deleteSettledEventsBefore,
  deleteWebhookRow,
  insertEventWithDeliveries,
  insertWebhook,
  selectAttempts,
  selectDeliveries,
  selectWebhook,
  selectWebhooks,
  type AttemptRow,
  type DeliveryRow,
  type WebhookRow,
} from './queries.js';

/**
 * Who is emailed: every user whose role holds this permission. The built-in admin role
 * has it; so does any custom role trusted to manage users, which is what makes a user an
 * admin here (it is also what managing webhooks and running maintenance need).
 */
export const adminPermission: Permission = 'users.manage';

/**
 * Tells the workspace's admins of `event`, inside the caller's transaction: writes the
 * event with one pending delivery per webhook subscribed to it and one email per admin,
 * so they exist exactly when the change they tell of committed, and go out (after the
 * commit) through the background sender or `POST /maintenance/run`. Nothing is sent here.
 *
 * `data` is the event's payload, plain JSON (ids, statuses, counts; never a contact's
 * personal data). Every webhook delivery posts `{event, at, workspaceId, data}`, `at`
 * being the change's time. With `once`, the event is told only the first time that key
 * is given (for a cause that repeats on its own, such as a scheduled task failing at
 * every pass), until the event leaves the log (notificationLogDays).
 *
 * @example
 * await inTransaction(ctx.db, change, async (tx) => {
 *   // … the change …
 *   await notify(tx, change, 'import.finished', { importId, status: 'succeeded', rows, created, updated, failed });
 * });
 */
export async function notify(tx: Tx, change: ChangeContext, event: NotificationEvent, data: NotificationData, options: { once?: string } = {}): Promise<void> {
  const body = JSON.stringify({ event, at: change.at.toISOString(), workspaceId: change.workspaceId, data });
  await insertEventWithDeliveries(tx, change, { id: randomUUID(), event, body, adminPermission, onceKey: options.once ?? null });
}

// ---------------------------------------------------------------- webhooks

export interface Webhook {
  id: string;
  url: string;
  events: NotificationEvent[];
  createdBy: string | null;
  createdAt: string;
}

const presentWebhook = (row: WebhookRow): Webhook => ({
  id: row.id,
  url: row.url,
  events: row.events,
  createdBy: row.created_by,
  createdAt: row.created_at.toISOString(),
});

/**
 * Why a URL cannot be a webhook's, or null when it can: it must be absolute, http or
 * https, and carry no credentials (a secret in the URL would show in every listing and
 * log; the signature is how a receiver knows the sender).
 */
export function webhookUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'a webhook URL is http or https';
  if (url.username !== '' || url.password !== '') return 'a webhook URL carries no user name or password';
  if (url.hostname === '') return 'a webhook URL names a host';
  return null;
}

/** A new webhook secret: 32 random bytes, shown once, kept to sign deliveries. */
const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

/**
 * Adds a webhook that is sent the given events from now on; answers it with its secret,
 * which no later answer shows again. Repeated events count once. Audit `webhook.created`
 * (with the URL's origin only: a path may hold a receiver's own token).
 */
export async function createWebhook(db: Db, change: ChangeContext, input: { url: string; events: NotificationEvent[] }): Promise<Webhook & { secret: string }> {
  const secret = newSecret();
  const url = new URL(input.url).href;
  const events = [...new Set(input.events)];
  const row = await inTransaction(db, change, async (tx) => {
    const created = await insertWebhook(tx, change, { url, events, secret });
    await recordAudit(tx, change, { action: 'webhook.created', targetType: 'webhook', targetId: created.id, details: { origin: new URL(url).origin, events } });
    return created;
  });
  return { ...presentWebhook(row), secret };
}

/** The workspace's webhooks, oldest first (never their secrets). */
export async function listWebhooks(db: Db, workspaceId: string, page: PageRequest): Promise<Page<Webhook>> {
  const rows = await selectWebhooks(db, workspaceId, decodeCursor(page.cursor, ['timestamp', 'text']), page.limit + 1);
  return toPage(rows, page.limit, (r) => [r.page_time, r.id], presentWebhook);
}

export async function getWebhook(db: Db, workspaceId: string, id: string): Promise<Webhook> {
  const row = await selectWebhook(db, workspaceId, id);
  if (!row) throw notFound('Webhook');
  return presentWebhook(row);
}

/** Removes a webhook: nothing more is sent to it, pending deliveries included; its log goes with it. Audit `webhook.deleted`. */
export async function deleteWebhook(db: Db, change: ChangeContext, id: string): Promise<void> {
  await inTransaction(db, change, async (tx) => {
    const row = await deleteWebhookRow(tx, change.workspaceId, id);
    if (!row) throw notFound('Webhook');
    await recordAudit(tx, change, { action: 'webhook.deleted', targetType: 'webhook', targetId: id, details: { origin: new URL(row.url).origin, events: row.events } });
  });
}

// ---------------------------------------------------------------- the delivery log

export interface DeliveryAttempt {
  attempt: number;
  at: string;
  durationMs: number;
  /** The receiver's HTTP status, or the SMTP server's reply code; null when none answered. */
  statusCode: number | null;
  error: string | null;
  outcome: 'delivered' | 'retrying' | 'failed';
  nextAttemptAt: string | null;
}

export interface Delivery {
  /** The x-retrace-delivery header (an email's Message-ID): the same on every attempt. */
  id: string;
  eventId: string;
  event: NotificationEvent;
  eventAt: string;
  status: 'pending' | 'delivered' | 'failed';
  /** Attempts made, including one under way or one whose sender stopped before logging it. */
  attemptCount: number;
  attempts: DeliveryAttempt[];
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  lastError: string | null;
  createdAt: string;
}

export type WebhookDelivery = Delivery & { webhookId: string };
export type EmailDelivery = Delivery & { to: string; userId: string | null };

const presentAttempt = (row: AttemptRow): DeliveryAttempt => ({
  attempt: row.attempt,
  at: row.at.toISOString(),
  durationMs: row.duration_ms,
  statusCode: row.status_code,
  error: row.error,
  outcome: row.outcome,
  nextAttemptAt: row.next_attempt_at?.toISOString() ?? null,
});

function presentDelivery(row: DeliveryRow, attempts: DeliveryAttempt[]): Delivery {
  return {
    id: row.id,
    eventId: row.event_id,
    event: row.event,
    eventAt: row.event_at.toISOString(),
    status: row.status,
    attemptCount: row.attempts,
    attempts,
    nextAttemptAt: row.status === 'pending' ? (row.next_attempt_at?.toISOString() ?? null) : null,
    deliveredAt: row.delivered_at?.toISOString() ?? null,
    lastError: row.last_error,
    createdAt: row.created_at.toISOString(),
  };
}

async function deliveryPage<T>(
  db: Db,
  workspaceId: string,
  of: { webhookId: string } | { channel: 'email' },
  page: PageRequest,
  present: (row: DeliveryRow, delivery: Delivery) => T,
): Promise<Page<T>> {
  const rows = await selectDeliveries(db, workspaceId, of, decodeCursor(page.cursor, ['timestamp', 'text']), page.limit + 1);
  const kept = rows.slice(0, page.limit);
  const attempts = new Map<string, DeliveryAttempt[]>();
  for (const row of await selectAttempts(db, workspaceId, kept.map((r) => r.id))) {
    attempts.set(row.delivery_id, [...(attempts.get(row.delivery_id) ?? []), presentAttempt(row)]);
  }
  return toPage(rows, page.limit, (r) => [r.created_key, r.id], (r) => present(r, presentDelivery(r, attempts.get(r.id) ?? [])));
}

/** A webhook's deliveries, newest first, each with every attempt logged. */
export async function listWebhookDeliveries(db: Db, workspaceId: string, webhookId: string, page: PageRequest): Promise<Page<WebhookDelivery>> {
  const webhook = await selectWebhook(db, workspaceId, webhookId);
  if (!webhook) throw notFound('Webhook');
  return deliveryPage(db, workspaceId, { webhookId }, page, (_row, delivery) => ({ ...delivery, webhookId }));
}

/** The notification emails of the workspace, newest first, each with every attempt logged. */
export async function listNotificationEmails(db: Db, workspaceId: string, page: PageRequest): Promise<Page<EmailDelivery>> {
  return deliveryPage(db, workspaceId, { channel: 'email' }, page, (row, delivery) => ({ ...delivery, to: row.email ?? '', userId: row.user_id }));
}

/** How long an event and its delivery log are kept once every delivery of it is settled. */
export const notificationLogDays = 30;

/** Removes events (with their deliveries and log) settled and older than notificationLogDays. */
export async function pruneNotificationLog(db: Db, workspaceId: string | null, now: Date): Promise<number> {
  return deleteSettledEventsBefore(db, workspaceId, new Date(now.getTime() - notificationLogDays * 86_400_000));
}
