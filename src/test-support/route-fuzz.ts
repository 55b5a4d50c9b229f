import fc from 'fast-check';
import { sql } from 'kysely';
import type { ZodType } from 'zod';
import type { AppContext } from '../context.js';
import type { Db } from '../db/database.js';
import { errorBody, errorCodes } from '../http/errors.js';
import { aContact, aWorkspace, routeTable, type TestApp, type TestWorkspace } from './harness.js';

/** An API route to fuzz: its method, URL pattern and input schemas. */
export interface FuzzedRoute {
  method: string;
  url: string;
  params?: ZodType;
  query?: ZodType;
  body?: ZodType;
}

/**
 * Routes left out, and why: POST /maintenance/run sends the webhook deliveries that
 * fuzzed requests queued, to whatever URL they named, and no test sends traffic off this
 * machine; it takes no input to fuzz (a body with fields is a 400, tested in
 * http.test.ts).
 */
const notFuzzed = new Set(['POST /api/v1/maintenance/run']);

export async function fuzzedRoutes(ctx: AppContext): Promise<FuzzedRoute[]> {
  return (await routeTable(ctx))
    .filter((route) => route.url.startsWith('/api/v1/') && route.method !== 'HEAD')
    .map((route) => {
      const schema = (route.schema ?? {}) as { params?: ZodType; querystring?: ZodType; body?: ZodType };
      return { method: String(route.method), url: route.url, params: schema.params, query: schema.querystring, body: schema.body };
    })
    .filter((route) => !notFuzzed.has(`${route.method} ${route.url}`));
}

/** What a fuzzed request may name: real ids of the workspace and values of the right form. */
export interface Pools {
  ids: string[];
  strings: string[];
}

/**
 * A workspace with one of everything a route can name (contacts of every status, a list,
 * an account, a deal, a tag, a form, an automation, a snapshot, a webhook that points at
 * a closed port of this machine), and the pools of values requests draw from.
 */
export async function fuzzWorkspace(app: TestApp): Promise<{ ws: TestWorkspace; pools: Pools }> {
  const ws = await aWorkspace(app, { activeContactLimit: 50 });
  const contacts = [];
  for (let i = 0; i < 6; i += 1) contacts.push((await aContact(ws, { email: `fuzz${i}@example.com` })).id);
  await ws.api('POST', `/contacts/${contacts[4]}/archive`);
  await ws.api('DELETE', `/contacts/${contacts[5]}`);
  const made = await Promise.all([
    ws.api('POST', '/lists', { name: 'Fuzz list' }),
    ws.api('POST', '/accounts', { name: 'Fuzz account' }),
    ws.api('POST', '/tags', { name: 'fuzz' }),
    ws.api('POST', '/deals', { title: 'Fuzz deal', contactIds: [contacts[0], contacts[1]] }),
    ws.api('POST', '/snapshots', { label: 'fuzz' }),
    ws.api('POST', '/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['restore_job.finished'] }),
  ]);
  const [list] = made;
  const form = await ws.api('POST', '/forms', { name: 'Fuzz form', listId: list.body.id });
  const automation = await ws.api('POST', '/automations', { name: 'Fuzz', trigger: { type: 'contact.created' }, steps: [{ type: 'wait', seconds: 60 }] });
  const ids = [...contacts, ...[...made, form, automation].map((res) => String(res.body.id)), ws.id, ws.adminId];
  const now = app.clock.now();
  const strings = [
    'fuzz0@example.com',
    'new@example.com',
    now.toISOString(),
    new Date(now.getTime() - 3_600_000).toISOString(),
    '1970-01-01T00:00:00Z',
    'admin',
    'member',
    'contacts.read',
    'subscribed',
    'active',
    'deleted',
    'archived',
    'workspace',
    'contacts',
    'weekly',
    'http://127.0.0.1:9/hook',
    'Ada',
  ];
  return { ws, pools: { ids, strings } };
}

/** Strings no route should choke on. */
const hostileStrings = [
  '',
  ' ',
  'x'.repeat(20_000),
  'a\u0000b',
  '\ud800',
  'a\udfffb',
  '\ufeffbom',
  'mid\ufeffdle',
  '😀',
  'e\u0301',
  '\u202eevil',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  '1e309',
  'NaN',
  '__proto__',
  'constructor',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '%00',
  '../../etc/passwd',
  '99999-01-01T00:00:00Z',
  '2026-02-30T00:00:00Z',
  '-infinity',
  'not-an-email@',
  'A@B.C',
];

const hostileNumbers = [0, -0, -1, 1, 0.5, -0.5, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 2 ** 63, 1e308, -1e308, 1e-320, Number.MAX_SAFE_INTEGER + 2];

/** Any JSON value, of any type or shape, hostile ones weighted in. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...hostileStrings),
  fc.constantFrom(...hostileNumbers),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Cursors: of the right form, garbled, or of JSON that is no position. */
const cursors = fc.oneof(
  fc.constantFrom('abc', '!!!', '%', 'W10', 'bnVsbA'),
  fc.jsonValue({ maxDepth: 2 }).map((key) => Buffer.from(JSON.stringify(key) ?? 'null').toString('base64url')),
  fc.tuple(fc.constantFrom('2026-01-01T00:00:00.000000Z', '99999-01-01T00:00:00Z', '2026-02-30T00:00:00Z', 12), fc.string({ maxLength: 8 })).map((key) =>
    Buffer.from(JSON.stringify(key)).toString('base64url'),
  ),
);

interface ZodCheck {
  check: string;
  value?: number;
  minimum?: number;
  maximum?: number;
}

interface ZodDef {
  type: string;
  format?: string;
  checks?: { _zod: { def: ZodCheck } }[];
  shape?: Record<string, ZodType>;
  element?: ZodType;
  innerType?: ZodType;
  options?: ZodType[];
  entries?: Record<string, string | number>;
  values?: unknown[];
  in?: ZodType;
  out?: ZodType;
  getter?: () => ZodType;
}

const defOf = (schema: ZodType): ZodDef => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;

const checkOf = (def: ZodDef, name: string) => def.checks?.map((check) => check._zod.def).find((check) => check.check === name);

/** Strings of the form a format names, from the pools where it has them. */
function formattedString(def: ZodDef, pools: Pools): fc.Arbitrary<string> {
  const ofPool = (pattern: RegExp) => pools.strings.filter((value) => pattern.test(value));
  switch (def.format) {
    case 'email':
      return fc.oneof({ arbitrary: fc.constantFrom(...ofPool(/@/)), weight: 3 }, { arbitrary: fc.emailAddress({ size: 'xsmall' }).filter((email) => email.length < 60), weight: 1 });
    case 'datetime':
      return fc.constantFrom(...ofPool(/^\d{4}-\d\d-\d\dT/));
    case 'url':
      return fc.constantFrom('http://127.0.0.1:9/hook', 'https://127.0.0.1:9/', 'ftp://127.0.0.1/', 'http://user:pw@127.0.0.1:9/');
    default: {
      const longest = checkOf(def, 'max_length')?.maximum ?? 200;
      const shortest = checkOf(def, 'min_length')?.minimum ?? 0;
      return fc
        .oneof(
          { arbitrary: fc.constantFrom(...pools.ids), weight: 3 },
          { arbitrary: fc.constantFrom(...pools.strings), weight: 2 },
          { arbitrary: fc.string({ minLength: shortest, maxLength: Math.min(longest, shortest + 12) }), weight: 1 },
        )
        .filter((value) => value.length >= shortest && value.length <= longest);
    }
  }
}

/** Numbers within the schema's bounds, mostly small. */
function boundedNumber(def: ZodDef): fc.Arbitrary<number> {
  const low = checkOf(def, 'greater_than')?.value ?? -2;
  const high = checkOf(def, 'less_than')?.value ?? 600;
  const min = Math.max(Math.ceil(low), -1_000_000);
  return fc.integer({ min, max: Math.max(min, Math.min(Math.floor(high), min + 600)) });
}

/**
 * Values for a zod schema, of its shape, from the pools (so requests reach the service,
 * not only the validator). With `hostileRate` > 0, a value at any level is replaced, that
 * often, by a hostile value of any type; objects then sometimes carry an unknown field.
 */
function valueOf(schema: ZodType, pools: Pools, hostileRate: number, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 6) return hostileValue;
  const def = defOf(schema);
  const inner = (next: ZodType) => valueOf(next, pools, hostileRate, depth + 1);
  const shaped = ((): fc.Arbitrary<unknown> => {
    switch (def.type) {
      case 'object': {
        const shape = Object.entries(def.shape ?? {});
        // A page's cursor is one of a few forms, not any string; usually none.
        const fieldOf = (key: string, field: ZodType) => (key === 'cursor' ? fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: cursors, weight: 1 }) : inner(field));
        const optional = (field: ZodType) => ['optional', 'default', 'prefault'].includes(defOf(field).type);
        // Of its shape: the fields it needs are there. Hostile: any of them may be missing.
        const requiredKeys = hostileRate === 0 ? shape.filter(([, field]) => !optional(field)).map(([key]) => key) : [];
        const fields = fc.record(Object.fromEntries(shape.map(([key, field]) => [key, fieldOf(key, field)])), { requiredKeys });
        if (hostileRate === 0) return fields;
        return fc.oneof({ arbitrary: fields, weight: 5 }, { arbitrary: fc.tuple(fields, fc.string({ maxLength: 6 }), hostileValue).map(([value, key, extra]) => ({ ...value, [`x${key}`]: extra })), weight: 1 });
      }
      case 'array': {
        const minLength = hostileRate === 0 ? (checkOf(def, 'min_length')?.minimum ?? 0) : 0;
        return fc.array(def.element ? inner(def.element) : hostileValue, { minLength, maxLength: Math.max(minLength, 4) });
      }
      case 'string':
        return formattedString(def, pools);
      case 'number':
      case 'int':
      case 'bigint':
        return hostileRate === 0 ? boundedNumber(def) : fc.oneof(boundedNumber(def), fc.constantFrom(...hostileNumbers));
      case 'boolean':
        return fc.boolean();
      case 'enum':
        return fc.constantFrom(...Object.values(def.entries ?? { none: 'none' }));
      case 'literal':
        return fc.constantFrom(...(def.values ?? [null]));
      case 'optional':
      case 'default':
      case 'prefault':
      case 'nonoptional':
      case 'readonly':
      case 'catch':
        return def.innerType ? fc.oneof({ arbitrary: inner(def.innerType), weight: 2 }, { arbitrary: fc.constant(undefined), weight: 1 }) : hostileValue;
      case 'nullable':
        return def.innerType ? fc.oneof({ arbitrary: inner(def.innerType), weight: 3 }, { arbitrary: fc.constant(null), weight: 1 }) : hostileValue;
      case 'union':
        return def.options && def.options.length > 0 ? fc.oneof(...def.options.map(inner)) : hostileValue;
      case 'record':
        return fc.dictionary(fc.oneof(fc.constantFrom(...pools.strings), fc.string({ maxLength: 8 })), hostileRate === 0 ? fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean()) : hostileValue, { maxKeys: 3 });
      case 'pipe': {
        const side = def.in && defOf(def.in).type !== 'transform' ? def.in : def.out;
        return side ? inner(side) : hostileValue;
      }
      case 'lazy':
        return def.getter ? inner(def.getter()) : hostileValue;
      default:
        return hostileValue;
    }
  })();
  if (hostileRate === 0) return shaped;
  return fc.oneof({ arbitrary: shaped, weight: Math.round((1 - hostileRate) * 100) }, { arbitrary: hostileValue, weight: Math.round(hostileRate * 100) });
}

/** Input of the schema's shape half the time; else with hostile values at one level in five. */
const inputOf = (schema: ZodType, pools: Pools) => fc.oneof(valueOf(schema, pools, 0), valueOf(schema, pools, 0.2));

/** A path segment, a query key or value as a client might send it: percent-encoded, or raw when it cannot be. */
function encodePart(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    // A lone surrogate cannot be encoded as UTF-8: sent as the bytes a careless client would.
    return value.replace(/[\ud800-\udfff]/g, '%ED%A0%80').replace(/[^%\w.~-]/g, (ch) => encodeURIComponent(ch));
  }
}

const asQueryValue = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value));

function queryOf(schema: ZodType | undefined, pools: Pools): fc.Arbitrary<string> {
  const fields = schema ? inputOf(schema, pools) : fc.constant({});
  const extra = fc.oneof(
    { arbitrary: fc.constant(''), weight: 12 },
    { arbitrary: cursors.map((cursor) => `cursor=${cursor}`), weight: 2 },
    { arbitrary: fc.constantFrom('q=%ff', 'q=%ED%A0%80', 'q=%EF%BB%BFx', 'limit=1&limit=2', 'q=%00', '__proto__=1', 'status[]=x'), weight: 1 },
  );
  return fc.tuple(fields, extra).map(([value, raw]) => {
    const pairs = typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.entries(value) : [];
    const encoded = pairs
      .filter(([, v]) => v !== undefined)
      .flatMap(([key, v]) => (Array.isArray(v) ? v : [v]).map((item) => `${encodePart(key)}=${encodePart(asQueryValue(item))}`));
    return [...encoded, raw].filter(Boolean).join('&');
  });
}

function pathOf(url: string, schema: ZodType | undefined, pools: Pools): fc.Arbitrary<string> {
  const names = [...url.matchAll(/:(\w+)/g)].map((match) => match[1]);
  if (names.length === 0 || !schema) return fc.constant(url);
  const id = fc.oneof({ arbitrary: fc.constantFrom(...pools.ids), weight: 8 }, { arbitrary: fc.constantFrom(...hostileStrings.filter(Boolean), '%ff', '%', '..'), weight: 1 });
  return fc.tuple(...names.map(() => id)).map((ids) => names.reduce((path, name, i) => path.replace(`:${name}`, /^%|^\.\.$/.test(ids[i]) ? ids[i] : encodePart(ids[i])), url));
}

/** A body as sent: JSON of a generated value, none, or raw bytes of every wrong kind. */
interface SentBody {
  payload?: string | Buffer;
  contentType?: string;
}

const rawBodies: SentBody[] = [
  { payload: '{', contentType: 'application/json' },
  { payload: '[]', contentType: 'application/json' },
  { payload: 'null', contentType: 'application/json' },
  { payload: '"text"', contentType: 'application/json' },
  { payload: '\ufeff{}', contentType: 'application/json' },
  { payload: '{}', contentType: 'application/json; charset=utf-16' },
  { payload: 'hello', contentType: 'text/plain' },
  { payload: '<a/>', contentType: 'application/xml' },
  { payload: '{"__proto__":{"polluted":1}}', contentType: 'application/json' },
  { payload: '{"constructor":{"prototype":{"polluted":1}}}', contentType: 'application/json' },
  { payload: `{"a":${'['.repeat(100)}${']'.repeat(100)}}`, contentType: 'application/json' },
  { payload: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), contentType: 'application/json' },
  { payload: '', contentType: 'application/json' },
];

function bodyOf(schema: ZodType | undefined, pools: Pools): fc.Arbitrary<SentBody> {
  // A route that takes no body mostly gets none, as its clients send it.
  if (!schema) return fc.oneof({ arbitrary: fc.constant({}), weight: 6 }, { arbitrary: fc.constant({ payload: '{}', contentType: 'application/json' }), weight: 1 }, { arbitrary: hostileValue.map((value) => ({ payload: JSON.stringify(value), contentType: 'application/json' })), weight: 1 }, { arbitrary: fc.constantFrom(...rawBodies), weight: 1 });
  const generated = inputOf(schema, pools).map((value): SentBody =>
    value === undefined ? {} : { payload: JSON.stringify(value), contentType: 'application/json' },
  );
  return fc.oneof({ arbitrary: generated, weight: 12 }, { arbitrary: fc.constantFrom(...rawBodies), weight: 2 }, { arbitrary: fc.constant({}), weight: 1 });
}

export interface FuzzRequest {
  method: string;
  url: string;
  body: SentBody;
}

/** Requests for one route: its path with ids real and hostile, a query, a body. */
export function requestsFor(route: FuzzedRoute, pools: Pools): fc.Arbitrary<FuzzRequest> {
  return fc
    .tuple(pathOf(route.url, route.params, pools), queryOf(route.query, pools), route.method === 'GET' ? fc.constant<SentBody>({}) : bodyOf(route.body, pools))
    .map(([path, query, body]) => ({ method: route.method, url: query ? `${path}?${query}` : path, body }));
}

/**
 * What a request could have changed in a workspace, cheaply: its history (every captured
 * table's writes, contacts' included) and audit log by count and highest number, and the
 * rows of the tables history does not capture that requests write.
 */
export async function workspaceFingerprint(db: Db, workspaceId: string): Promise<Record<string, string>> {
  const { rows } = await sql<Record<string, string>>`
    SELECT
      (SELECT count(*) || '/' || coalesce(max(version), 0) FROM history_entries WHERE workspace_id = ${workspaceId}) AS history,
      (SELECT count(*) || '/' || coalesce(max(version), 0) FROM contact_history WHERE workspace_id = ${workspaceId}) AS contact_history,
      (SELECT count(*) || '/' || coalesce(max(id), 0) FROM audit_log WHERE workspace_id = ${workspaceId}) AS audit,
      (SELECT count(*)::text FROM jobs WHERE workspace_id = ${workspaceId}) AS jobs,
      (SELECT count(*)::text FROM snapshots WHERE workspace_id = ${workspaceId}) AS snapshots,
      (SELECT count(*)::text FROM backups WHERE workspace_id = ${workspaceId}) AS backups,
      (SELECT count(*)::text FROM notification_events WHERE workspace_id = ${workspaceId}) AS notifications`.execute(db);
  return rows[0];
}

/** What one answer broke, or null: a 5xx, an error not in the contract's shape, a change after a 4xx. */
function brokenRule(status: number, text: string, before: Record<string, string>, after: Record<string, string> | null): string | null {
  if (status >= 500) return `answered ${status}: ${text.slice(0, 300)}`;
  if (status < 400) return null;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `answered ${status} with a body that is not JSON: ${text.slice(0, 200)}`;
  }
  const parsed = errorBody.strict().safeParse(body);
  if (!parsed.success) return `answered ${status} with an error body not of the contract's shape: ${text.slice(0, 300)}`;
  if (!(errorCodes as readonly string[]).includes(parsed.data.error.code)) return `answered the unknown code ${parsed.data.error.code}`;
  if (after && JSON.stringify(after) !== JSON.stringify(before)) return `answered ${status} ${parsed.data.error.code} but changed ${JSON.stringify(before)} to ${JSON.stringify(after)}`;
  return null;
}

export interface FuzzReport {
  requests: number;
  /** Answers per route and status: `POST /api/v1/contacts` → {"201": 3, "400": 7}. */
  statuses: Record<string, Record<string, number>>;
  /** The first request of each route that broke a rule, after fast-check shrank it. */
  failures: { route: string; request: FuzzRequest | null; problem: string }[];
  seconds: number;
}

/**
 * Sends `runsPerRoute` generated requests to every route as the workspace's admin and
 * checks each answer: never a 5xx; every 4xx `{error:{code,message,details}}` with a code
 * of the contract's union (errors.ts) and the workspace's fingerprint unchanged. Fixed
 * seed: a run can be repeated exactly (the route's seed is `seed` plus its index).
 */
export async function fuzzRoutes(app: TestApp, options: { seed: number; runsPerRoute: number; routes?: FuzzedRoute[]; onRoute?: (route: string) => void }): Promise<FuzzReport> {
  const started = Date.now();
  const { ws, pools } = await fuzzWorkspace(app);
  const routes = options.routes ?? (await fuzzedRoutes(app.ctx));
  const report: FuzzReport = { requests: 0, statuses: {}, failures: [], seconds: 0 };
  for (const [index, route] of routes.entries()) {
    const name = `${route.method} ${route.url}`;
    options.onRoute?.(name);
    const counts: Record<string, number> = (report.statuses[name] = {});
    let lastProblem = '';
    const property = fc.asyncProperty(requestsFor(route, pools), async (request) => {
      const before = await workspaceFingerprint(app.ctx.db, ws.id);
      const answer = await app.server.inject({
        method: request.method as 'GET',
        url: request.url,
        // A client address a request (only a label: nothing is sent): rate limits per address do not end the run's reach.
        remoteAddress: `198.18.${Math.floor(report.requests / 250) % 256}.${report.requests % 250}`,
        headers: { authorization: `Bearer ${ws.adminToken}`, ...(request.body.contentType ? { 'content-type': request.body.contentType } : {}) },
        ...(request.body.payload === undefined ? {} : { payload: request.body.payload }),
      });
      report.requests += 1;
      counts[answer.statusCode] = (counts[answer.statusCode] ?? 0) + 1;
      const after = answer.statusCode >= 400 && answer.statusCode < 500 ? await workspaceFingerprint(app.ctx.db, ws.id) : null;
      const problem = brokenRule(answer.statusCode, answer.body, before, after);
      if (problem) {
        lastProblem = problem;
        throw new Error(problem);
      }
    });
    const result = await fc.check(property, { seed: options.seed + index, numRuns: options.runsPerRoute, maxSkipsPerRun: 0 });
    if (result.failed) report.failures.push({ route: name, request: result.counterexample?.[0] ?? null, problem: lastProblem || String(result.errorInstance) });
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}
