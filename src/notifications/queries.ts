import { sql, type Selectable } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import type { Webhooks } from '../db/schema.js';
import { workspaceIn } from '../db/keys.js';
import { cursorTime, type CursorKey } from '../http/pagination.js';
import { activeUsersHolding } from '../users/service.js';
import type { NotificationEvent } from './events.js';

// The notifications module's SQL: webhooks, events, deliveries and their attempts. Every
// statement is scoped by workspace first; a batch of claimed deliveries finds its event
// and webhook by primary key (LATERAL), the one plan that needs no statistics.

const webhookColumns = ['id', 'url', 'events', 'created_by', 'created_at'] as const;
/** Its events are those the webhooks routes accept (their schema checks each). */
export type WebhookRow = Pick<Selectable<Webhooks>, (typeof webhookColumns)[number]> & { events: NotificationEvent[] };

export async function insertWebhook(
  tx: Tx,
  change: ChangeContext,
  input: { url: string; events: readonly NotificationEvent[]; secret: string },
): Promise<WebhookRow> {
  return tx
    .insertInto('webhooks')
    .values({ workspace_id: change.workspaceId, url: input.url, events: [...input.events], secret: input.secret, created_by: change.actorId, created_at: change.at })
    .returning(webhookColumns)
    .$narrowType<{ events: NotificationEvent[] }>()
    .executeTakeFirstOrThrow();
}

/** A page of the workspace's webhooks, oldest first, past the cursor's (created_at, id). */
export async function selectWebhooks(db: Db, workspaceId: string, after: CursorKey | undefined, fetch: number): Promise<(WebhookRow & { page_time: string })[]> {
  const { rows } = await sql<WebhookRow & { page_time: string }>`
    SELECT ${sql.join(webhookColumns.map((column) => sql.ref(column)))}, ${cursorTime('created_at')} AS page_time FROM webhooks
    WHERE workspace_id = ${workspaceId}
      AND (${after?.[0] ?? null}::timestamptz IS NULL OR (created_at, id) > (${after?.[0] ?? null}::timestamptz, ${after?.[1] ?? null}::text))
    ORDER BY created_at, id LIMIT ${fetch}`.execute(db);
  return rows;
}

export async function selectWebhook(db: Db | Tx, workspaceId: string, id: string): Promise<WebhookRow | null> {
  const row = await db
    .selectFrom('webhooks')
    .select(webhookColumns)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .$narrowType<{ events: NotificationEvent[] }>()
    .executeTakeFirst();
  return row ?? null;
}

/** Removes a webhook with its deliveries and their log (foreign keys cascade). */
export async function deleteWebhookRow(tx: Tx, workspaceId: string, id: string): Promise<WebhookRow | null> {
  const row = await tx
    .deleteFrom('webhooks')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returning(webhookColumns)
    .$narrowType<{ events: NotificationEvent[] }>()
    .executeTakeFirst();
  return row ?? null;
}

/**
 * Writes an event and, in the same statement, one pending delivery per webhook of the
 * workspace subscribed to it and one email per admin (an active user whose role holds
 * users.manage), each due at once; nothing when an event with the same once-key was
 * written before. Returns how many deliveries it queued.
 */
export async function insertEventWithDeliveries(
  tx: Tx,
  change: ChangeContext,
  input: { id: string; event: NotificationEvent; body: string; adminPermission: string; onceKey: string | null },
): Promise<number> {
  const ws = change.workspaceId;
  const { rows } = await sql<{ n: number }>`
    WITH event AS (
      INSERT INTO notification_events (workspace_id, id, event, origin, actor_id, at, body, once_key)
      VALUES (${ws}, ${input.id}, ${input.event}, ${change.origin}, ${change.actorId}, ${change.at}, ${input.body}, ${input.onceKey})
      ON CONFLICT (workspace_id, once_key) WHERE once_key IS NOT NULL DO NOTHING
      RETURNING id),
    queued AS (
      INSERT INTO notification_deliveries (workspace_id, event_id, channel, webhook_id, user_id, email, next_attempt_at, created_at)
      SELECT ${ws}, event.id, 'webhook', w.id, NULL, NULL, ${change.at}::timestamptz, ${change.at}::timestamptz
      FROM event, webhooks w
      WHERE w.workspace_id = ${ws} AND ${input.event} = ANY (w.events)
      UNION ALL
      SELECT ${ws}, event.id, 'email', NULL, u.id, u.email, ${change.at}::timestamptz, ${change.at}::timestamptz
      FROM event, (${activeUsersHolding(ws, input.adminPermission)}) u
      RETURNING 1)
    SELECT count(*)::int AS n FROM queued`.execute(tx);
  return rows[0].n;
}

/** Workspaces with a delivery due by `now` (the sender's one look across workspaces). */
export async function selectWorkspacesWithDueDeliveries(db: Db, now: Date): Promise<string[]> {
  const rows = await db.selectFrom('notification_deliveries').select('workspace_id').distinct().where('status', '=', 'pending').where('next_attempt_at', '<=', now).execute();
  return rows.map((r) => r.workspace_id);
}

/** A delivery a sender holds: what to send and where, and which attempt this is. */
export interface ClaimedDelivery {
  workspaceId: string;
  id: string;
  eventId: string;
  event: NotificationEvent;
  /** The event's body: what a webhook delivery sends and signs. */
  body: string;
  eventAt: Date;
  channel: 'webhook' | 'email';
  url: string | null;
  secret: string | null;
  email: string | null;
  attempt: number;
  claimToken: string;
}

interface ClaimedRow {
  workspace_id: string;
  id: string;
  event_id: string;
  event: NotificationEvent;
  body: string;
  event_at: Date;
  channel: 'webhook' | 'email';
  url: string | null;
  secret: string | null;
  email: string | null;
  attempts: number;
}

/**
 * Claims up to `limit` deliveries of the workspace due by `now`, oldest due first: counts
 * the attempt and pushes next_attempt_at to `leaseUntil`, so no other sender takes them
 * meanwhile and a sender that dies leaves them due again after the lease. Commits on its
 * own: the sending happens outside any transaction.
 */
export async function claimDueDeliveries(db: Db, workspaceId: string, now: Date, leaseUntil: Date, claimToken: string, limit: number): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<ClaimedRow>`
    WITH due AS (
      SELECT id FROM notification_deliveries
      WHERE workspace_id = ${workspaceId} AND status = 'pending' AND next_attempt_at <= ${now}
      ORDER BY next_attempt_at, id LIMIT ${limit}
      FOR UPDATE SKIP LOCKED),
    claimed AS (
      UPDATE notification_deliveries d
      SET attempts = d.attempts + 1, next_attempt_at = ${leaseUntil}, claim_token = ${claimToken}
      FROM due WHERE d.workspace_id = ${workspaceId} AND d.id = due.id
      RETURNING d.workspace_id, d.id, d.event_id, d.channel, d.webhook_id, d.email, d.attempts)
    SELECT c.workspace_id, c.id, c.event_id, e.event, e.body, e.at AS event_at, c.channel, w.url, w.secret, c.email, c.attempts
    FROM claimed c
    CROSS JOIN LATERAL (SELECT event, body, at FROM notification_events WHERE workspace_id = ${workspaceIn('c', workspaceId)} AND id = c.event_id) e
    LEFT JOIN LATERAL (SELECT url, secret FROM webhooks WHERE workspace_id = ${workspaceIn('c', workspaceId)} AND id = c.webhook_id) w ON true
    ORDER BY c.id`.execute(db);
  return rows.map((r) => ({
    workspaceId: r.workspace_id,
    id: r.id,
    eventId: r.event_id,
    event: r.event,
    body: r.body,
    eventAt: r.event_at,
    channel: r.channel,
    url: r.url,
    secret: r.secret,
    email: r.email,
    attempt: r.attempts,
    claimToken: claimToken,
  }));
}

/** What one attempt came to, as the delivery log keeps it. */
export interface AttemptRecord {
  at: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  outcome: 'delivered' | 'retrying' | 'failed';
  /** When the next attempt is due (retrying only). */
  nextAttemptAt: Date | null;
}

/**
 * Logs an attempt and moves its delivery on (delivered, due again later, or given up),
 * if the delivery is still this claim's: a sender whose lease ran out while it sent
 * logs its attempt but leaves the delivery to the sender that claimed it since. A
 * delivery gone meanwhile (its webhook deleted) logs nothing.
 */
export async function recordAttempt(tx: Tx, delivery: ClaimedDelivery, attempt: AttemptRecord): Promise<void> {
  const ws = delivery.workspaceId;
  await sql`
    INSERT INTO notification_attempts (workspace_id, delivery_id, attempt, at, duration_ms, status_code, error, outcome, next_attempt_at)
    SELECT workspace_id, id, ${delivery.attempt}, ${attempt.at}, ${attempt.durationMs}, ${attempt.statusCode}, ${attempt.error}, ${attempt.outcome}, ${attempt.nextAttemptAt}
    FROM notification_deliveries WHERE workspace_id = ${ws} AND id = ${delivery.id}
    FOR KEY SHARE`.execute(tx);
  await tx
    .updateTable('notification_deliveries')
    .set({
      status: attempt.outcome === 'retrying' ? 'pending' : attempt.outcome,
      next_attempt_at: attempt.nextAttemptAt,
      delivered_at: attempt.outcome === 'delivered' ? attempt.at : null,
      last_error: attempt.error,
      claim_token: null,
    })
    .where('workspace_id', '=', ws)
    .where('id', '=', delivery.id)
    .where('claim_token', '=', delivery.claimToken)
    .execute();
}

export interface DeliveryRow {
  id: string;
  event_id: string;
  event: NotificationEvent;
  event_at: Date;
  channel: 'webhook' | 'email';
  webhook_id: string | null;
  user_id: string | null;
  email: string | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: Date | null;
  delivered_at: Date | null;
  last_error: string | null;
  created_at: Date;
  created_key: string;
}

/**
 * A page of deliveries, newest first, past the cursor's (created_at, id): a webhook's,
 * or the emails of the workspace.
 */
export async function selectDeliveries(
  db: Db,
  workspaceId: string,
  of: { webhookId: string } | { channel: 'email' },
  before: CursorKey | undefined,
  fetch: number,
): Promise<DeliveryRow[]> {
  const which = 'webhookId' in of ? sql`channel = 'webhook' AND webhook_id = ${of.webhookId}` : sql`channel = 'email'`;
  const { rows } = await sql<DeliveryRow>`
    SELECT d.id, d.event_id, e.event, e.at AS event_at, d.channel, d.webhook_id, d.user_id, d.email, d.status, d.attempts,
           d.next_attempt_at, d.delivered_at, d.last_error, d.created_at, d.created_key
    FROM (
      SELECT *, ${cursorTime('created_at')} AS created_key FROM notification_deliveries
      WHERE workspace_id = ${workspaceId} AND ${which}
        AND (${before?.[0] ?? null}::timestamptz IS NULL OR (created_at, id) < (${before?.[0] ?? null}::timestamptz, ${before?.[1] ?? null}::text))
      ORDER BY created_at DESC, id DESC LIMIT ${fetch}) d
    CROSS JOIN LATERAL (SELECT event, at FROM notification_events WHERE workspace_id = d.workspace_id AND id = d.event_id) e
    ORDER BY d.created_at DESC, d.id DESC`.execute(db);
  return rows;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  at: Date;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  outcome: AttemptRecord['outcome'];
  next_attempt_at: Date | null;
}

/** The logged attempts of these deliveries, in order. */
export async function selectAttempts(db: Db, workspaceId: string, deliveryIds: string[]): Promise<AttemptRow[]> {
  if (deliveryIds.length === 0) return [];
  const { rows } = await sql<AttemptRow>`
    SELECT delivery_id, attempt, at, duration_ms, status_code, error, outcome, next_attempt_at FROM notification_attempts
    WHERE workspace_id = ${workspaceId} AND delivery_id IN (SELECT unnest(${deliveryIds}::text[]))
    ORDER BY delivery_id, attempt`.execute(db);
  return rows;
}

/**
 * Removes events older than `before` none of whose deliveries is still pending, with
 * their deliveries and log. Returns how many events went.
 */
export async function deleteSettledEventsBefore(db: Db, workspaceId: string | null, before: Date): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    WITH pruned AS (
      DELETE FROM notification_events e
      WHERE (${workspaceId}::text IS NULL OR e.workspace_id = ${workspaceId}) AND e.at < ${before}
        AND NOT EXISTS (
          SELECT 1 FROM notification_deliveries d
          WHERE d.workspace_id = e.workspace_id AND d.event_id = e.id AND d.status = 'pending')
      RETURNING 1)
    SELECT count(*)::int AS n FROM pruned`.execute(db);
  return rows[0].n;
}
