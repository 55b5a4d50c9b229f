import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import type { AppContext } from '../context.js';
import type { TrustProxy } from '../config.js';
import { AppError, type ErrorCode } from './errors.js';
import { zodValidatorCompiler } from './route.js';
import { responseSerializerCompiler } from './responses.js';
import { swaggerOptions } from './openapi.js';
import { registerSecurityHeaders } from './security.js';
import { registerRateLimits } from './rate-limits.js';

/** A feature's routes: each feature folder exports one of these from routes.ts. */
export type RouteModule = (app: FastifyInstance, ctx: AppContext) => void;

const webDist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/** Bodies larger than this are refused with 400 before they reach a route. */
export const bodyLimitBytes = 1024 * 1024;

/**
 * PostgreSQL errors that mean the request's values were refused, not that the server
 * failed: a value of the wrong form (SQLSTATE class 22) is bad input, and a unique key
 * taken by a concurrent request is a conflict. Bad input never yields a 5xx.
 */
function refusalOf(error: unknown): { status: number; code: ErrorCode; message: string } | null {
  const sqlState = (error as { code?: unknown }).code;
  if (typeof sqlState !== 'string' || !/^[0-9A-Z]{5}$/.test(sqlState)) return null;
  if (sqlState.startsWith('22')) return { status: 400, code: 'invalid_request', message: 'A value in the request cannot be stored' };
  if (sqlState === '23505') return { status: 409, code: 'invalid_state', message: 'This conflicts with a change made at the same time' };
  return null;
}

const isJson = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

const noRoute = (request: { method: string; url: string }) => ({ code: 'not_found' satisfies ErrorCode, message: `No route ${request.method} ${request.url.split('?')[0]}`, details: {} });

const notJsonBody = new AppError(400, 'invalid_request', 'Request bodies are JSON: send them as application/json', {
  issues: [{ in: 'body', path: [], message: 'a body that is not JSON' }],
});

const prototypeKeysRefused = new AppError(400, 'invalid_request', 'Keys named __proto__ or constructor are refused in request bodies', {
  issues: [{ in: 'body', path: [], message: 'a key named __proto__ or constructor' }],
});

const bodyIssue = (message: string) => ({ issues: [{ in: 'body', path: [], message }] });

const notUtf8Body = new AppError(400, 'invalid_request', 'Request bodies are UTF-8: this one has bytes that are not', bodyIssue('bytes that are not UTF-8'));

const leadingBomBody = new AppError(400, 'invalid_request', 'The body starts with a byte-order mark (U+FEFF): send UTF-8 JSON without one', bodyIssue('a leading byte-order mark'));

/** The body's text, or null when its bytes are not UTF-8 (decoding would put U+FFFD in their place). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function utf8Text(body: Buffer): string | null {
  try {
    return strictUtf8.decode(body);
  } catch {
    return null;
  }
}

/**
 * JSON bodies are UTF-8 (RFC 8259): one declared in another charset would be read as
 * something it is not, so it is 415, found as the body is read. No charset, or utf-8,
 * is fine.
 */
function charsetRefusal(contentType: string | undefined): AppError | null {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') return null;
  return new AppError(415, 'invalid_request', `Request bodies are UTF-8 JSON; this one declares charset=${charset}`, bodyIssue(`charset ${charset} is not utf-8`));
}

/** What a request's log line says of it: the route's pattern, never its URL (a query or path can hold an email). */
const requestLine = (request: FastifyRequest, reply: FastifyReply) => ({
  method: request.method,
  route: request.routeOptions.url ?? null,
  status: reply.statusCode,
  responseTime: Math.round(reply.elapsedTime * 100) / 100,
});

/**
 * One line per request, when its response is sent, with Fastify's request id (`reqId`):
 * no "incoming request" line, no headers (the Authorization header), no URL.
 */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}
  override routeNotFound(): void {}
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ ...requestLine(request, reply), err: error }, 'request errored');
    else reply.log.info(requestLine(request, reply), 'request completed');
  }
}

/** TRUST_PROXY in Fastify's option: a number of hops as the function it stands for (Fastify's types take no number). */
const fastifyTrustProxy = (setting: TrustProxy) => (typeof setting === 'number' ? (_address: string, hop: number) => hop < setting : setting);

export interface ServerOptions {
  /** Refuse a response whose schema does not name every field the handler returned (tests; responses.ts). */
  strictResponses?: boolean;
}

export async function buildServer(ctx: AppContext, modules: RouteModule[], options: ServerOptions = {}): Promise<FastifyInstance> {
  // Typed as Fastify's logger, so the instance is the FastifyInstance every route module takes.
  const loggerInstance: FastifyBaseLogger = ctx.log;
  // Any path id that matches nothing is a 404 whatever its form, long ones included
  // (Fastify answers 414 above its default of 100 characters).
  const app = Fastify({
    loggerInstance,
    logController: new OneLinePerRequest(),
    bodyLimit: bodyLimitBytes,
    // Behind a proxy, the client's address is the one it forwards (TRUST_PROXY): what rate limits count.
    trustProxy: fastifyTrustProxy(ctx.config.trustProxy),
    routerOptions: { maxParamLength: 16 * 1024 },
    // A path that cannot even be decoded (`/contacts/%ff`) names nothing either: 404 in
    // the contract's envelope, not Fastify's own 400.
    frameworkErrors: (error, request, reply) => {
      const notFound = error.code === 'FST_ERR_BAD_URL';
      void (reply as unknown as FastifyReply).status(notFound ? 404 : 400).send({
        error: notFound
          ? noRoute(request)
          : { code: 'invalid_request', message: error.message, details: { issues: [{ in: 'params', path: [], message: error.message }] } },
      });
    },
  });

  // Each route's zod schemas validate its input and write its answer (route.ts, responses.ts).
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(responseSerializerCompiler({ strict: options.strictResponses ?? false }));

  // Clients often send `content-type: application/json` on every request: an empty body
  // is then no body (fine for POST /contacts/:id/archive; a route that needs a body says
  // 400 itself), not a parse error. Anything else parses as Fastify does, which refuses
  // __proto__ and constructor keys.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // Bodies are JSON: a text/plain one is refused as it is read, before authentication,
  // like malformed JSON; an empty one (what fetch sends for body '') is no body.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    if (body.toString().trim() === '') return done(null, undefined);
    return done(notJsonBody, undefined);
  });
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const refusal = charsetRefusal(request.headers['content-type']);
    if (refusal) return done(refusal, undefined);
    const text = utf8Text(body as Buffer);
    if (text === null) return done(notUtf8Body, undefined);
    // A leading byte-order mark would be dropped by the parser (and by trim): refused,
    // so what is stored is what was sent.
    if (text.startsWith('\uFEFF')) return done(leadingBomBody, undefined);
    if (text.trim() === '') return done(null, undefined);
    return parseJson(request, text, (error, value) => {
      // Valid JSON refused by the parser's guard against prototype poisoning: say so,
      // rather than that the JSON is not valid.
      if (error && isJson(text)) return done(prototypeKeysRefused, undefined);
      return done(error, value);
    });
  });

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      return reply.status(error.status).send({ error: { code: error.code, message: error.message, details: error.details } });
    }
    const status = (error as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      // Malformed JSON, an empty JSON body, a body over the limit, a wrong content type:
      // all are bad input, and the contract answers bad input with 400 invalid_request.
      return reply.status(400).send({
        error: { code: 'invalid_request', message: error.message, details: { issues: [{ in: 'body', path: [], message: error.message }] } },
      });
    }
    const databaseRefusal = refusalOf(error);
    if (databaseRefusal) {
      // A safety net: input checks should have caught this first. Logged so it gets one.
      request.log.warn({ err: error, route: request.routeOptions.url ?? null }, 'database refused the input');
      return reply.status(databaseRefusal.status).send({ error: { code: databaseRefusal.code, message: databaseRefusal.message, details: {} } });
    }
    request.log.error({ err: error, method: request.method, route: request.routeOptions.url ?? null }, 'unhandled error');
    return reply.status(500).send({ error: { code: 'internal', message: 'Internal server error', details: {} } });
  });

  await registerSecurityHeaders(app);
  await registerRateLimits(app, ctx.clock);
  await app.register(swagger, swaggerOptions);

  for (const register of modules) register(app, ctx);

  app.get('/api/docs', { schema: { hide: true } }, async () => app.swagger());
  app.get('/api/docs/json', { schema: { hide: true } }, async () => app.swagger());

  if (existsSync(webDist)) {
    await app.register(fastifyStatic, { root: webDist, wildcard: false });
  } else {
    // Until the web UI is built: a page that says what is running and where the API is.
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html').send(landingPage));
  }

  app.setNotFoundHandler(async (request, reply) => {
    if (!request.url.startsWith('/api/') && request.method === 'GET' && existsSync(path.join(webDist, 'index.html'))) {
      // The web UI routes on the client: every other page is its index.
      return reply.type('text/html').sendFile('index.html');
    }
    return reply.status(404).send({ error: noRoute(request) });
  });

  return app;
}

// No inline style or script: the Content-Security-Policy (security.ts) allows none.
const landingPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Retrace</title>
</head><body>
<h1>Retrace</h1>
<p>A CRM contact store in which nothing is lost by mistake.</p>
<ul>
<li>API: <code>/api/v1</code> (Bearer token; <code>npm start</code> printed the demo admin's)</li>
<li>OpenAPI document: <a href="/api/docs">/api/docs</a></li>
<li>Health: <a href="/api/v1/health">/api/v1/health</a></li>
</ul>
</body></html>`;
