import nodemailer, { type Transporter } from 'nodemailer';
import type { AppContext } from '../context.js';

/** A message the ledger has claimed, ready for a transport. */
export interface OutgoingMessage {
  id: string;
  workspaceId: string;
  automationId: string;
  stepIndex: number;
  contactId: string;
  to: string;
  subject: string;
}

/**
 * Hands claimed messages to a transport. It is called only after the ledger row that
 * claims the message has committed, so it never decides whether to send: only how.
 */
export interface Sender {
  readonly name: string;
  send(message: OutgoingMessage): Promise<void>;
}

/**
 * The default: the ledger row is the record of the message, and nothing is sent
 * (deliverMessages logs its id and outcome, never its recipient).
 */
export const ledgerOnlySender: Sender = {
  name: 'ledger',
  async send() {},
};

/** Sends through an SMTP (or any nodemailer) transport. */
export class SmtpSender implements Sender {
  readonly name = 'smtp';

  constructor(
    private readonly transport: Transporter,
    private readonly from = 'Retrace <no-reply@retrace.invalid>',
  ) {}

  static fromUrl(smtpUrl: string): SmtpSender {
    return new SmtpSender(nodemailer.createTransport(smtpUrl));
  }

  async send(message: OutgoingMessage): Promise<void> {
    await this.transport.sendMail({
      from: this.from,
      to: message.to,
      subject: message.subject,
      text: message.subject,
      headers: { 'X-Retrace-Message-Id': message.id },
    });
  }
}

const chosen = new WeakMap<AppContext, Sender>();

/** The sender of a running server: SMTP when SMTP_URL is set, else the ledger-only one. */
export function senderFor(ctx: AppContext): Sender {
  let sender = chosen.get(ctx);
  if (!sender) {
    sender = ctx.config.smtpUrl ? SmtpSender.fromUrl(ctx.config.smtpUrl) : ledgerOnlySender;
    chosen.set(ctx, sender);
  }
  return sender;
}

/** Replaces a context's sender (tests observe what is handed to the transport). */
export function useSender(ctx: AppContext, sender: Sender): void {
  chosen.set(ctx, sender);
}
