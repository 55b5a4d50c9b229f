import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A request a webhook receiver got: its headers and the exact body bytes, as text. */
export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A real HTTP server on 127.0.0.1 that records every POST it gets. `answer` decides the
 * status of each (by its 0-based arrival), 200 by default; `hold` keeps requests
 * unanswered (for timeouts) until close.
 */
export interface WebhookReceiver {
  url: string;
  received: ReceivedRequest[];
  answer: (index: number) => number;
  hold: boolean;
  /** Resolves once `count` requests have arrived in all. */
  until(count: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function aWebhookReceiver(): Promise<WebhookReceiver> {
  const waiting: { count: number; resolve: (r: ReceivedRequest[]) => void }[] = [];
  const held: (() => void)[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    answer: () => 200,
    hold: false,
    until(count) {
      if (receiver.received.length >= count) return Promise.resolve(receiver.received);
      return new Promise((resolve) => waiting.push({ count, resolve }));
    },
    close: async () => {
      for (const release of held) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const index = receiver.received.length;
      receiver.received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      for (const w of waiting.filter((w) => receiver.received.length >= w.count)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(receiver.received);
      }
      if (receiver.hold) {
        held.push(() => response.destroy());
        return;
      }
      response.statusCode = receiver.answer(index);
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/retrace`;
  return receiver;
}

/** A message the SMTP server accepted: its envelope recipients and the raw message. */
export interface ReceivedMail {
  to: string[];
  raw: string;
  /** A header of the raw message, unfolded, or undefined. */
  header(name: string): string | undefined;
}

/** A real SMTP server (the smtp-server package) on 127.0.0.1, recording what it accepts. */
export interface MailServer {
  url: string;
  received: ReceivedMail[];
  /** An SMTP reply code to refuse messages with (e.g. 451, 550), or null to accept them. */
  refuseWith: number | null;
  /** Resolves once `count` messages (of those `where` picks) have arrived in all. */
  until(count: number, where?: (mail: ReceivedMail) => boolean): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export async function aMailServer(): Promise<MailServer> {
  const waiting: { count: number; where: (mail: ReceivedMail) => boolean; resolve: (r: ReceivedMail[]) => void }[] = [];
  const arrived = (w: (typeof waiting)[number]) => mail.received.filter(w.where).length >= w.count;
  const mail: MailServer = {
    url: '',
    received: [],
    refuseWith: null,
    until(count, where = () => true) {
      return new Promise((resolve) => {
        const w = { count, where, resolve };
        if (arrived(w)) resolve(mail.received);
        else waiting.push(w);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (mail.refuseWith !== null) {
          callback(Object.assign(new Error('refused by the test server'), { responseCode: mail.refuseWith }));
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const headerBlock = raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
        mail.received.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          header: (name) => headerBlock.split(/\r?\n/).find((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.slice(name.length + 1).trim(),
        });
        for (const w of waiting.filter(arrived)) {
          waiting.splice(waiting.indexOf(w), 1);
          w.resolve(mail.received);
        }
        callback();
      });
    },
  });
  // A client that goes away mid-session (a server killed by the crash harness) is no fault of this server's.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  mail.url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  return mail;
}
