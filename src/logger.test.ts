import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { SMTPServer } from 'smtp-server';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { routeModules } from './app.js';
import { inTransaction, type Tx } from './db/database.js';
import { buildServer, type RouteModule } from './http/server.js';
import { insertJob, runPendingJobs, type JobHandler } from './jobs/service.js';
import { createLogger, loggableError, wantsPrettyLogs } from './logger.js';
import { SmtpSender, useSender } from './messages/sender.js';
import { call, capturedLog, operatorToken, testApp, type TestApp } from './test-support/harness.js';

/** Every line the server's log wrote. */
const { log, written, lines } = capturedLog();

/**
 * Routes that fail as a bug would, with a contact's email and name in hand: a 500 from a
 * query that carries the email as a parameter, wrapped in an error that names it; a
 * database refusal (400) that quotes the name it refused.
 */
const failingRoutes: RouteModule = (app, ctx) => {
  app.post('/api/v1/test/failure', async (request) => {
    const { email } = request.body as { email: string };
    try {
      await sql`SELECT * FROM no_such_table WHERE email = ${email}`.execute(ctx.db);
    } catch (error) {
      throw new Error(`looking up ${email} failed`, { cause: error });
    }
  });
  app.get('/api/v1/test/refusal', async (request) => {
    const { name } = request.query as { name: string };
    await sql`SELECT ${name}::uuid`.execute(ctx.db);
  });
};

/** A job kind whose batch fails on a query that carries a contact's email. */
const failingHandler: JobHandler = {
  kind: 'failing_probe',
  origin: 'system',
  async step(tx: Tx) {
    await sql`SELECT * FROM no_such_table WHERE email = ${'ada@example.com'}`.execute(tx);
    return { progress: {}, done: true };
  },
};

let app: TestApp;
let server: FastifyInstance;
let smtp: SMTPServer;
/** Recipients of each message the SMTP server accepted. */
const delivered: string[][] = [];

beforeAll(async () => {
  app = await testApp({ log });
  server = await buildServer(app.ctx, [...routeModules, failingRoutes]);
  await server.ready();
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address === 'grace@example.com') return callback(Object.assign(new Error(`<${address.address}>: Recipient address rejected`), { responseCode: 550 }));
      return callback();
    },
    onData(stream, session, callback) {
      stream.resume();
      stream.on('end', () => {
        delivered.push(session.envelope.rcptTo.map((r) => r.address));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  useSender(app.ctx, SmtpSender.fromUrl(`smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`));
});

afterAll(async () => {
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await server.close();
});

describe('the server’s log', () => {
  it('has one line per request with its id, route, status and time, and no token, email or name in any line', async () => {
    // What reaches the process's output besides the log (a stray console call) counts too.
    const printed: string[] = [];
    for (const method of ['log', 'error', 'warn', 'info'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void printed.push(args.map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : typeof a === 'string' ? a : JSON.stringify(a))).join(' ')));
    }
    const responses: { method: string; status: number }[] = [];
    const api = async (token: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) => {
      const res = await call(server, token, method, url, body);
      responses.push({ method, status: res.status });
      return res;
    };

    const workspace = await api(operatorToken, 'POST', '/workspaces', { name: 'Logged', adminEmail: 'admin.logged@example.com' });
    const token: string = workspace.body.token;
    const workspaceId: string = workspace.body.workspace.id;
    const automation = await api(token, 'POST', '/automations', { name: 'Welcome', trigger: { type: 'contact.created' }, steps: [{ type: 'send_email', subject: 'Welcome' }] });
    expect(automation.status).toBe(201);
    const ada = (await api(token, 'POST', '/contacts', { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' })).body;
    const grace = (await api(token, 'POST', '/contacts', { email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper' })).body;
    expect((await api(token, 'GET', '/contacts?q=ada@example.com')).body.data).toHaveLength(1);
    expect((await api(token, 'GET', '/contacts?q=Lovelace')).body.data).toHaveLength(1);
    expect((await api(token, 'POST', '/contacts', { email: 'ada@example.com', firstName: 'Ada' })).status).toBe(409);

    // The automation sends its email: Ada's is delivered, Grace's refused by the server.
    expect((await api(token, 'POST', '/maintenance/run')).status).toBe(200);
    expect(delivered).toEqual([['ada@example.com']]);

    // A restore job, run whole.
    await api(token, 'DELETE', `/contacts/${ada.id}`);
    const restore = await api(token, 'POST', '/restore-jobs', { source: 'deleted', contactIds: [ada.id] });
    await app.runJobs(workspaceId);
    expect((await api(token, 'GET', `/restore-jobs/${restore.body.id}`)).body.status).toBe('succeeded');

    // A rollback of Ada's renaming, run whole.
    app.clock.advance(1);
    const at = app.clock.now().toISOString();
    app.clock.advance(1);
    await api(token, 'PATCH', `/contacts/${ada.id}`, { firstName: 'Augusta' });
    const rollback = await api(token, 'POST', '/rollbacks', { at, scope: { type: 'contacts', contactIds: [ada.id] } });
    await app.runJobs(workspaceId);
    expect((await api(token, 'GET', `/rollbacks/${rollback.body.id}`)).body.status).toBe('succeeded');

    // A backup, then an erasure refused while the key store cannot be written (503), then done.
    expect((await api(token, 'POST', '/backups')).status).toBe(201);
    const keyDir = app.ctx.config.backupKeyDir;
    renameSync(keyDir, `${keyDir}.aside`);
    writeFileSync(keyDir, 'not a directory');
    try {
      expect((await api(token, 'POST', `/contacts/${ada.id}/erase`)).status).toBe(503);
    } finally {
      rmSync(keyDir);
      renameSync(`${keyDir}.aside`, keyDir);
    }
    expect(lines.find((line) => line.msg === 'the backup keyring could not be written')).toMatchObject({ level: 50, workspaceId, err: { code: 'EEXIST' } });
    expect((await api(token, 'POST', `/contacts/${grace.id}/erase`)).status).toBe(200);

    // A bug: a 500, a refusal quoting a name, and a job that fails.
    expect((await api(token, 'POST', '/test/failure', { email: 'ada@example.com' })).status).toBe(500);
    expect((await api(token, 'GET', `/test/refusal?name=${encodeURIComponent('Ada Lovelace')}`)).status).toBe(400);
    const change = { workspaceId, actorId: null, origin: 'system' as const, at: app.clock.now() };
    await inTransaction(app.ctx.db, change, (tx) => insertJob(tx, change, { kind: 'failing_probe', status: 'queued', params: { email: 'ada@example.com' } }));
    await runPendingJobs(app.ctx, [failingHandler], { workspaceId });

    vi.restoreAllMocks();
    for (const secret of [token, operatorToken, '@example.com', 'Ada', 'Lovelace', 'Augusta', 'Grace', 'Hopper']) {
      expect(written.filter((line) => line.includes(secret))).toEqual([]);
      expect(printed.filter((line) => line.includes(secret))).toEqual([]);
    }

    const requestLines = lines.filter((line) => line.msg === 'request completed');
    expect(requestLines.map((line) => ({ method: line.method, status: line.status }))).toEqual(responses);
    for (const line of requestLines) {
      expect(line).toEqual({
        level: 30, time: expect.any(Number), pid: process.pid, hostname: expect.any(String), reqId: expect.any(String),
        method: line.method, route: expect.stringMatching(/^\/api\/v1\//), status: line.status, responseTime: expect.any(Number), msg: 'request completed',
      });
    }
    expect(new Set(requestLines.map((line) => line.reqId)).size).toBe(requestLines.length);
    expect(requestLines.filter((line) => line.method === 'GET' && line.route === '/api/v1/contacts')).toHaveLength(2);

    // The failures are there, and say what failed without the values.
    expect(lines.find((line) => line.msg === 'unhandled error')).toMatchObject({
      level: 50, method: 'POST', route: '/api/v1/test/failure',
      err: { type: 'Error', message: 'looking up [email] failed', cause: { code: '42P01', message: 'relation "no_such_table" does not exist' } },
    });
    expect(lines.find((line) => line.msg === 'database refused the input')).toMatchObject({
      level: 40, route: '/api/v1/test/refusal', err: { code: '22P02', message: 'invalid input syntax for type uuid: "…"' },
    });
    expect(lines.find((line) => line.msg === 'job failed')).toMatchObject({ level: 50, workspaceId, kind: 'failing_probe', err: { code: '42P01' } });
    const messages = lines.filter((line) => line.msg === 'message delivered' || line.msg === 'message not delivered');
    expect(messages.map((line) => ({ outcome: line.outcome, responseCode: line.responseCode })).sort((a, b) => a.outcome.localeCompare(b.outcome))).toEqual([
      { outcome: 'delivered' },
      { outcome: 'failed', responseCode: 550 },
    ]);
  });
});

describe('an error in a log line', () => {
  it('shows a database error’s code and names, not its detail, query or parameters', () => {
    const error = Object.assign(new Error('duplicate key value violates unique constraint "contacts_email"'), {
      code: '23505', severity: 'ERROR', constraint: 'contacts_email', table: 'contacts', detail: 'Key (email)=(ada@example.com) already exists.',
      query: 'INSERT INTO contacts (email, first_name) VALUES ($1, $2)', params: ['ada@example.com', 'Ada'], where: 'SQL statement',
    });
    const shown = loggableError(error);
    expect({ ...shown, stack: undefined }).toEqual({
      type: 'Error', message: 'duplicate key value violates unique constraint "contacts_email"', code: '23505', severity: 'ERROR', constraint: 'contacts_email', table: 'contacts', stack: undefined,
    });
    expect(String(shown.stack).split('\n')[0]).toBe('Error: duplicate key value violates unique constraint "contacts_email"');
  });

  it('shows an SMTP error’s command and reply code, not the server’s response', () => {
    const error = Object.assign(new Error("Can't send mail - all recipients were rejected: 550 <grace@example.com>: Recipient address rejected"), {
      code: 'EENVELOPE', command: 'RCPT TO', responseCode: 550, response: '550 <grace@example.com>: Recipient address rejected', rejected: ['grace@example.com'],
    });
    const { stack: _stack, ...shown } = loggableError(error);
    expect(Object.keys(shown).sort()).toEqual(['code', 'command', 'message', 'responseCode', 'type']);
    expect(shown).toMatchObject({ code: 'EENVELOPE', command: 'RCPT TO', responseCode: 550 });
  });
});

describe('an object given to the logger', () => {
  it('has its credentials, emails, names and phone numbers redacted, at the top and one level down', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    const person = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', first_name: 'Ada', last_name: 'Lovelace', phone: '+44 20 7946 0000' };
    log.info({ ...person, token: 'rt_secret', contact: { ...person, id: 'c1' }, jobId: 'j1' }, 'seen');
    const line = JSON.parse(lines[0]);
    const redacted = Object.fromEntries(Object.keys(person).map((key) => [key, '[redacted]']));
    expect(line).toMatchObject({ ...redacted, token: '[redacted]', contact: { ...redacted, id: 'c1' }, jobId: 'j1', msg: 'seen' });
    expect(lines[0]).not.toMatch(/Ada|Lovelace|ada@example\.com|7946|rt_secret/);
  });
});

describe('pretty log lines', () => {
  it('are for a terminal outside production only', () => {
    expect(wantsPrettyLogs({ isTTY: true }, {})).toBe(true);
    expect(wantsPrettyLogs({ isTTY: true }, { NODE_ENV: 'production' })).toBe(false);
    expect(wantsPrettyLogs({}, {})).toBe(false);
  });
});
