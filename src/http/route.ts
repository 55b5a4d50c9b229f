import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import type { RateLimitOptions } from '@fastify/rate-limit';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z, type ZodType } from 'zod';
import type { ChangeContext } from '../db/database.js';
import type { Permission } from '../users/permissions.js';
import type { AppContext } from '../context.js';
import { resolvePrincipal, type Principal, type UserPrincipal } from './auth.js';
import { AppError, errorBody, forbidden, invalidRequest, unauthenticated } from './errors.js';

/**
 * Who may call a route: a workspace user (optionally with a permission), the operator,
 * the operator or a workspace admin, or anyone.
 */
export type Access =
  | { user: Permission | null }
  | { operator: true }
  | { operatorOr: Permission }
  | { public: true };

interface Call<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  ip: string;
  /** The raw request and reply, for the few routes that stream (uploads, CSV downloads). */
  request: FastifyRequest;
  reply: FastifyReply;
}

interface UserCall<B, Q, P> extends Call<B, Q, P> {
  principal: UserPrincipal;
  /** The change context of this request: its workspace, actor, origin "user" and now. */
  change: ChangeContext;
}

/** The statuses a route answers on success; 204 answers no body (`response: noContent`). */
export type SuccessStatus = 200 | 201 | 202 | 204;

interface RouteSpec<B, Q, P, R, A extends Access> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  access: A;
  body?: ZodType<B>;
  /**
   * A multipart/form-data body that the handler reads itself, part by part
   * (`request.parts()`, @fastify/multipart): the OpenAPI document shows it, and Fastify
   * neither parses nor validates it (its stream is the handler's). With `body` never.
   */
  multipartBody?: ZodType;
  query?: ZodType<Q>;
  params?: ZodType<P>;
  status?: SuccessStatus;
  /**
   * What the route answers with its success status. Responses are written through it:
   * a field it does not name is not sent (tests refuse such a response, see
   * responses.ts), and the OpenAPI document, hence the web UI's types, shows it.
   */
  response: ZodType<R>;
  /** A limit on how often one client may call the route (rate-limits.ts routeRateLimit); none by default. */
  rateLimit?: RateLimitOptions;
  handler: (
    call: A extends { user: Permission | null } ? UserCall<B, Q, P> : Call<B, Q, P> & { principal: Principal | null },
  ) => Promise<NoInfer<R>> | (R extends undefined ? Promise<void> : never);
}

/** The answer of a 204 route: no body. */
export const noContent = z.undefined().describe('No content');

/** Where in the request an input issue is, as `details.issues[].in` names it. */
type InputPart = 'body' | 'query' | 'params';

const partOf = (httpPart: string | undefined): InputPart => (httpPart === 'querystring' ? 'query' : httpPart === 'params' ? 'params' : 'body');

/**
 * Fastify's validation of a route's body, query and params with their zod schemas.
 * fastify-type-provider-zod's own compiler would do, but for two things the contract
 * needs: its issues carry paths as JSON pointers (`/ids/0`), where `details.issues[].path`
 * keeps zod's array with numbers as numbers; and Fastify hands an absent body over as
 * null, which an optional body must take as absent. A refusal is the contract's 400.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<ZodType> = ({ schema, httpPart }) => {
  const where = partOf(httpPart);
  return (data) => {
    const result = schema.safeParse(where === 'body' ? (data ?? undefined) : (data ?? {}));
    if (result.success) return { value: result.data };
    return {
      error: invalidRequest(`The request ${where} is not valid`, {
        issues: result.error.issues.map((issue) => ({ in: where, path: issue.path, message: issue.message })),
      }),
    };
  };
};

/** How deep JSON input may nest: deeper is refused before anything walks it recursively. */
const maxInputDepth = 64;

type InputPath = (string | number)[];

/** A UTF-16 surrogate without its other half: no character, and UTF-8 (so PostgreSQL) cannot hold it. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a string of input cannot be stored as it is sent, or null. PostgreSQL cannot hold
 * a NUL; a lone surrogate would be written as U+FFFD; a leading byte-order mark is taken
 * for whitespace and trimmed away. Each would answer 2xx and keep something else.
 */
function unstorableText(text: string): string | null {
  if (text.includes('\u0000')) return 'NUL character';
  if (loneSurrogate.test(text)) return 'a lone UTF-16 surrogate, which is no character';
  if (text.startsWith('\uFEFF')) return 'a leading byte-order mark (U+FEFF)';
  return null;
}

/**
 * A place in parsed input that would not be stored as it was sent, or null: a string or
 * key that unstorableText refuses, or nesting deeper than maxInputDepth (which would
 * exhaust a stack here, in zod or in PostgreSQL). Walks with its own stack, so no input
 * can overflow it.
 */
function unstorable(input: unknown): { path: InputPath; message: string } | null {
  const pending: { value: unknown; path: InputPath }[] = [{ value: input, path: [] }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, path } = next;
    if (typeof value === 'string') {
      const problem = unstorableText(value);
      if (problem) return { path, message: problem };
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (path.length >= maxInputDepth) return { path, message: `nested deeper than ${maxInputDepth} levels` };
    for (const [key, item] of Object.entries(value)) {
      const problem = unstorableText(key);
      if (problem) return { path: [...path, key], message: problem };
      pending.push({ value: item, path: [...path, Array.isArray(value) ? Number(key) : key] });
    }
  }
  return null;
}

/**
 * A query parameter whose percent-encoding is not UTF-8 (`?q=%ff`, or `%ED%A0%80`, a
 * surrogate): the query parser keeps such a value as the raw text, which is not what the
 * client meant. Its name (as sent), or null.
 */
function undecodableQueryParameter(url: string): string | null {
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  for (const pair of query.split('&')) {
    for (const part of pair.split('=')) {
      try {
        decodeURIComponent(part.replace(/\+/g, ' '));
      } catch {
        return pair.split('=')[0];
      }
    }
  }
  return null;
}

/** Input that would not be stored as sent: in a path id it matches nothing (404), elsewhere it is bad input. */
function refuseUnstorable(request: FastifyRequest): void {
  if (unstorable(request.params)) throw new AppError(404, 'not_found', 'Nothing has this id');
  const undecodable = undecodableQueryParameter(request.url);
  if (undecodable !== null) {
    throw invalidRequest('The request query cannot be read: its percent-encoding is not UTF-8', {
      issues: [{ in: 'query', path: [undecodable], message: 'percent-encoding that is not UTF-8' }],
    });
  }
  for (const [where, value] of [['query', request.query], ['body', request.body]] as const) {
    const problem = unstorable(value);
    if (problem) {
      throw invalidRequest(`The request ${where} cannot be stored: ${problem.message}`, {
        issues: [{ in: where, path: problem.path, message: problem.message }],
      });
    }
  }
}

/**
 * A route that takes no body takes none, an empty one or `{}`; fields it would ignore are
 * refused as unknown, as on every route that takes a body.
 */
function refuseBody(body: unknown): void {
  if (body === undefined || body === null || body === '') return;
  if (typeof body === 'object' && !Array.isArray(body)) {
    const fields = Object.keys(body);
    if (fields.length === 0) return;
    throw invalidRequest('This request takes no body', {
      issues: fields.map((field) => ({ in: 'body', path: [field], message: 'Unknown field: this request takes no body' })),
    });
  }
  throw invalidRequest('This request takes no body', { issues: [{ in: 'body', path: [], message: 'this request takes no body' }] });
}

/**
 * A query parameter given empty (`?q=&status=`, as forms and the contract's own notation
 * write an unused filter) is a parameter not given: it takes its default.
 */
function withoutEmptyValues(query: unknown): unknown {
  if (query === null || typeof query !== 'object') return query;
  return Object.fromEntries(Object.entries(query).filter(([, value]) => value !== ''));
}

/**
 * The OpenAPI generator marks every request body required; routes whose body may be left
 * out carry this mark, which markOptionalBodies turns into `required: false`.
 */
const optionalBodyMark = 'x-optional-body';

/** Makes the marked request bodies of an OpenAPI document optional (and drops the mark). */
export function markOptionalBodies<T extends { paths?: Record<string, Record<string, unknown> | undefined> }>(doc: T): T {
  for (const operations of Object.values(doc.paths ?? {})) {
    for (const operation of Object.values(operations ?? {}) as Record<string, unknown>[]) {
      if (typeof operation !== 'object' || operation === null || !(optionalBodyMark in operation)) continue;
      delete operation[optionalBodyMark];
      const body = operation.requestBody as { required?: boolean } | undefined;
      if (body) body.required = false;
    }
  }
  return doc;
}

/**
 * A route's multipart body rides to the OpenAPI transform under this mark, out of
 * Fastify's sight (a `body` there would have Fastify validate the stream).
 */
const multipartBodyMark = 'x-multipart-body';

/**
 * A route schema as the OpenAPI transform gets it, its marked multipart body made the
 * body the document shows, as multipart/form-data: the routes themselves keep no `body`.
 */
export function withMultipartBody<T extends { schema?: object }>(route: T): T {
  if (!route.schema || !(multipartBodyMark in route.schema)) return route;
  const { [multipartBodyMark]: body, ...schema } = route.schema as Record<string, unknown>;
  return { ...route, schema: { ...schema, body, consumes: ['multipart/form-data'] } };
}

/** Path ids are opaque strings; any id that matches nothing is a 404, whatever its form. */
export const idParams = <K extends string>(...names: K[]) =>
  z.object(Object.fromEntries(names.map((n) => [n, z.string()])) as Record<K, z.ZodString>);

/** Who called, as the route's preValidation found them, for its handler. */
const principals = new WeakMap<FastifyRequest, Principal | null>();

/**
 * Registers one route of the contract. In the order the contract's checks come:
 * a missing body (400, before authentication, like a malformed one); authentication
 * and permission (401, 403); input PostgreSQL cannot hold (404 in a path, else 400);
 * a body on a route that takes none; then Fastify validates params, body and query with
 * the route's zod schemas (zodValidatorCompiler) and the handler gets their parsed
 * values. Its answer is written through `response`, and errors through the one error
 * schema. Routes stay thin: everything else is the service's.
 */
export function addRoute<B = undefined, Q = undefined, P = undefined, R = unknown, A extends Access = Access>(
  app: FastifyInstance,
  ctx: AppContext,
  spec: RouteSpec<B, Q, P, R, A>,
): void {
  const bodyRequired = spec.body !== undefined && !spec.body.safeParse(undefined).success;
  const status = spec.status ?? 200;
  app.withTypeProvider<ZodTypeProvider>().route({
    method: spec.method,
    url: `/api/v1${spec.url}`,
    ...(spec.rateLimit ? { config: { rateLimit: spec.rateLimit } } : {}),
    schema: {
      summary: spec.summary,
      tags: [spec.tag],
      ...(spec.body ? { body: spec.body } : {}),
      ...(spec.body?.safeParse(undefined).success ? { [optionalBodyMark]: true } : {}),
      ...(spec.multipartBody ? { [multipartBodyMark]: spec.multipartBody } : {}),
      ...(spec.query ? { querystring: spec.query } : {}),
      ...(spec.params ? { params: spec.params } : {}),
      response: { [status]: spec.response as ZodType, '4xx': errorBody, '5xx': errorBody },
    },
    preValidation: async (request) => {
      // Like a malformed body, a missing one is bad input whoever sends it: found before
      // authentication. What the body holds is checked after it.
      if (bodyRequired && (request.body === undefined || request.body === null)) {
        throw invalidRequest('This request needs a JSON body', { issues: [{ in: 'body', path: [], message: 'a JSON object is required' }] });
      }
      principals.set(request, await authorize(ctx, request, spec.access));
      refuseUnstorable(request);
      request.query = withoutEmptyValues(request.query);
      if (!spec.body) refuseBody(request.body);
    },
    handler: async (request, reply) => {
      const principal = principals.get(request) ?? null;
      const call = {
        body: spec.body ? request.body : undefined,
        query: request.query,
        params: request.params,
        ip: request.ip,
        request,
        reply,
        principal,
      };
      const handlerCall =
        principal?.kind === 'user'
          ? {
              ...call,
              change: changeOfPrincipal(principal, ctx.clock.now()),
            }
          : call;
      const result = await spec.handler(handlerCall as never);
      if (status === 204) return reply.status(204).send();
      return reply.status(status).send(result);
    },
  });
}

/**
 * The change context of a request by a workspace token: its workspace, its actor (the
 * user, or the integration's token), the token it came through, origin "user", now.
 */
export const changeOfPrincipal = (principal: UserPrincipal, at: Date): ChangeContext => ({
  workspaceId: principal.workspaceId,
  actorId: principal.userId,
  tokenId: principal.tokenId,
  origin: 'user',
  at,
});

async function authorize(ctx: AppContext, request: FastifyRequest, access: Access): Promise<Principal | null> {
  if ('public' in access) return null;
  const principal = await resolvePrincipal(ctx.db, ctx.config.adminToken, request.headers.authorization, ctx.clock.now());
  if (!principal) throw unauthenticated();
  if ('operator' in access) {
    if (principal.kind !== 'operator') throw new AppError(403, 'forbidden', 'This route needs the operator token', {});
    return principal;
  }
  if ('operatorOr' in access) {
    if (principal.kind === 'operator' || principal.permissions.has(access.operatorOr)) return principal;
    throw forbidden(access.operatorOr);
  }
  if (principal.kind !== 'user') throw new AppError(403, 'forbidden', 'This route needs a workspace user token', {});
  if (access.user && !principal.permissions.has(access.user)) throw forbidden(access.user);
  return principal;
}
