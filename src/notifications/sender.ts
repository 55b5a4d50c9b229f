import { createHmac, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import nodemailer, { type Transporter } from 'nodemailer';
import type { AppContext } from '../context.js';
import { withTransaction } from '../db/database.js';
import { emailSubject, type NotificationData } from './events.js';
import { claimDueDeliveries, recordAttempt, selectWorkspacesWithDueDeliveries, type AttemptRecord, type ClaimedDelivery } from './queries.js';

/** How long a webhook receiver has to answer (headers) before the attempt counts as failed. */
export const webhookTimeoutMs = 10_000;

/** Attempts per delivery before it is given up as failed. */
export const maxAttempts = 10;

/**
 * Seconds from a failed attempt to the next: a minute, doubling each time (1, 2, 4, …
 * 256 minutes), at most six hours. Ten attempts span about eight and a half hours.
 */
export const retryDelaySeconds = (attempt: number): number => Math.min(60 * 2 ** (attempt - 1), 6 * 3600);

/**
 * How long a claimed delivery is a sender's own: longer than an attempt takes (the
 * webhook timeout; SMTP's timeouts below), short enough that a delivery whose sender was
 * killed mid-send goes out again within a minute of a restart, under the same id. An
 * attempt slower than this may be sent twice, which at least once allows.
 */
export const claimLeaseMs = 60_000;

/** Deliveries claimed, and sent concurrently, at a time. */
const claimBatch = 20;

export interface SendOptions {
  /** The webhook timeout (tests shorten it). */
  timeoutMs?: number;
}

/** What one attempt came to, before it is logged. */
export interface SendResult {
  durationMs: number;
  statusCode: number | null;
  /** Why it failed; null when delivered. */
  error: string | null;
  /** A failure no retry can mend (no mail server configured, a 5xx SMTP reply). */
  permanent: boolean;
}

/**
 * Sends every delivery due now, of one workspace or of all, to completion: claims a
 * batch, sends it, logs each attempt, and again until nothing is due (a failed attempt
 * is due again only after its backoff, so a pass ends). Returns the attempts made.
 *
 * Delivery is at least once, with a stable id: a delivery is claimed (and committed)
 * before it is sent and recorded after, so a sender that dies between the two leaves it
 * to be sent again, under the same `x-retrace-delivery` id, once its claim lease is over;
 * one recorded as delivered is never sent again.
 */
export async function deliverDueNotifications(ctx: AppContext, workspaceId: string | null, options: SendOptions = {}): Promise<number> {
  const workspaces = workspaceId !== null ? [workspaceId] : await selectWorkspacesWithDueDeliveries(ctx.db, ctx.clock.now());
  let attempted = 0;
  for (const ws of workspaces) {
    for (;;) {
      const now = ctx.clock.now();
      const claimed = await claimDueDeliveries(ctx.db, ws, now, new Date(now.getTime() + claimLeaseMs), randomUUID(), claimBatch);
      if (claimed.length === 0) break;
      await Promise.all(claimed.map((delivery) => attemptDelivery(ctx, delivery, options)));
      attempted += claimed.length;
    }
  }
  return attempted;
}

/**
 * One attempt: sends, then logs it in its own short transaction. Logged one by one as
 * each send ends, not as a batch: the sooner an attempt is recorded, the narrower the
 * window in which a crash would have it sent again.
 */
async function attemptDelivery(ctx: AppContext, delivery: ClaimedDelivery, options: SendOptions): Promise<void> {
  const at = ctx.clock.now();
  const result = await sendDelivery(ctx, delivery, options);
  const outcome: AttemptRecord['outcome'] = result.error === null ? 'delivered' : result.permanent || delivery.attempt >= maxAttempts ? 'failed' : 'retrying';
  const nextAttemptAt = outcome === 'retrying' ? new Date(ctx.clock.now().getTime() + retryDelaySeconds(delivery.attempt) * 1000) : null;
  const record: AttemptRecord = { at, durationMs: result.durationMs, statusCode: result.statusCode, error: result.error, outcome, nextAttemptAt };
  try {
    await withTransaction(ctx.db, (tx) => recordAttempt(tx, delivery, record));
  } catch (error) {
    // Unrecorded, the delivery is due again when its lease ends: sent again, same id.
    ctx.log.error({ err: error, deliveryId: delivery.id }, 'notification delivery was attempted but could not be recorded');
  }
}

/** Sends a claimed delivery once, by webhook or email; never throws (a failure is a result). */
export async function sendDelivery(ctx: AppContext, delivery: ClaimedDelivery, options: SendOptions = {}): Promise<SendResult> {
  return delivery.channel === 'webhook' ? postWebhook(delivery, options.timeoutMs ?? webhookTimeoutMs) : sendEmail(ctx, delivery);
}

/** The `x-retrace-signature` of a body: HMAC-SHA256 with the webhook's secret, in hex. */
export const signatureOf = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

async function postWebhook(delivery: ClaimedDelivery, timeoutMs: number): Promise<SendResult> {
  if (delivery.url === null || delivery.secret === null) return { durationMs: 0, statusCode: null, error: 'the webhook was deleted', permanent: true };
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const response = await fetch(delivery.url, {
      method: 'POST',
      body: delivery.body,
      // A redirect is the receiver's answer, not a place to send a signed body to.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Retrace-Webhooks/1',
        'x-retrace-event': delivery.event,
        'x-retrace-delivery': delivery.id,
        'x-retrace-signature': signatureOf(delivery.secret, delivery.body),
      },
    });
    // What it answered beyond its status is not read.
    await response.body?.cancel();
    const durationMs = elapsed();
    if (response.status >= 200 && response.status < 300) return { durationMs, statusCode: response.status, error: null, permanent: false };
    const redirect = response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : '';
    return { durationMs, statusCode: response.status, error: `the receiver answered ${response.status}${redirect}`, permanent: false };
  } catch (error) {
    const durationMs = elapsed();
    if (error instanceof Error && error.name === 'TimeoutError') return { durationMs, statusCode: null, error: `no answer within ${timeoutMs} ms`, permanent: false };
    return { durationMs, statusCode: null, error: networkError(error), permanent: false };
  }
}

/** fetch's "fetch failed" says nothing; its cause (ECONNREFUSED, a DNS failure, …) does. */
function networkError(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as unknown) : undefined;
  if (cause instanceof Error && cause.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

const mailFrom = 'Retrace <no-reply@retrace.invalid>';

const transports = new WeakMap<AppContext, Transporter | null>();

/** The SMTP transport of SMTP_URL for this server, or null without one. */
function mailTransportFor(ctx: AppContext): Transporter | null {
  if (!transports.has(ctx)) {
    const url = ctx.config.smtpUrl;
    transports.set(ctx, url ? nodemailer.createTransport({ url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 }) : null);
  }
  return transports.get(ctx) ?? null;
}

async function sendEmail(ctx: AppContext, delivery: ClaimedDelivery): Promise<SendResult> {
  const transport = mailTransportFor(ctx);
  if (transport === null) return { durationMs: 0, statusCode: null, error: 'not sent: SMTP_URL is not set, so there is no mail server to send through', permanent: true };
  // The table's check makes an email delivery carry its address; this only narrows the type.
  if (delivery.email === null) return { durationMs: 0, statusCode: null, error: 'the email has no address', permanent: true };
  const started = performance.now();
  const payload = JSON.parse(delivery.body) as EventPayload;
  try {
    const info = (await transport.sendMail({
      from: mailFrom,
      to: delivery.email,
      subject: `[Retrace] ${emailSubject(delivery.event, payload.data)}`,
      text: emailText(delivery, payload),
      // The same on every attempt, so a mail system can tell a repeat.
      messageId: `<${delivery.id}@retrace.invalid>`,
      headers: { 'X-Retrace-Event': delivery.event, 'X-Retrace-Delivery': delivery.id },
    })) as { response?: string };
    return { durationMs: Math.round(performance.now() - started), statusCode: smtpCode(info.response), error: null, permanent: false };
  } catch (error) {
    const code = (error as { responseCode?: number }).responseCode ?? null;
    // SMTP's 5xx replies are permanent by the protocol's own rule; 4xx and no answer are worth a retry.
    return { durationMs: Math.round(performance.now() - started), statusCode: code, error: error instanceof Error ? error.message : String(error), permanent: code !== null && code >= 500 };
  }
}

const smtpCode = (response: string | undefined): number | null => {
  const code = Number(/^\d{3}/.exec(response ?? '')?.[0]);
  return Number.isInteger(code) && code > 0 ? code : null;
};

/** What every delivery of an event carries: the body a webhook is posted. */
interface EventPayload {
  event: string;
  at: string;
  workspaceId: string;
  data: NotificationData;
}

function emailText(delivery: ClaimedDelivery, { workspaceId, at, data }: EventPayload): string {
  return [
    `${emailSubject(delivery.event, data)}.`,
    '',
    `Event: ${delivery.event}`,
    `Workspace: ${workspaceId}`,
    `At: ${at}`,
    '',
    JSON.stringify(data, null, 2),
    '',
    `You are told as an admin of this workspace (your role can manage users). Delivery ${delivery.id}.`,
    '',
  ].join('\n');
}
