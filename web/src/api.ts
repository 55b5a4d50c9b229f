/**
 * The HTTP API as the web UI uses it (../shared/API.md, base path /api/v1). Its types are
 * the server's: api-schema.d.ts is generated from the OpenAPI document the server builds
 * from its routes' zod schemas (`npm run gen:api`), and the client is openapi-fetch over
 * those types, so a call the server would not answer that way does not compile. Every
 * failure becomes an ApiError carrying the contract's {error:{code,message,details}}.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './api-schema';

type Schemas = components['schemas'];

export type Permission = Schemas['Permission'];
export type Me = Schemas['Me'];
export type Limits = Schemas['Limits'];
export type Workspace = Schemas['Workspace'];
/** A change of the workspace's retention and mass-delete settings (PATCH /workspace). */
export type WorkspaceSettingsChange = RequestBody<'/api/v1/workspace', 'patch'>;
export type Contact = Schemas['Contact'];
export type ContactStatus = Contact['status'];
export type ArchivedContact = Schemas['ArchivedContact'];
export type Version = Schemas['ContactVersion'];
export type Deal = Schemas['Deal'];
export type RestorableAssociations = Schemas['RestorableAssociations'];
export type User = Schemas['User'];
export type RestoreJob = Schemas['RestoreJob'];
export type RestoreSource = RestoreJob['source'];
export type RestoreRequest = RequestBody<'/api/v1/restore-jobs', 'post'>;
export type RollbackScope = Schemas['RollbackScope'];
/** What a rollback does, by kind of row (contacts, listMemberships, …, skipped). */
export type RollbackCounts = Schemas['RollbackCounts'];
/** What a rollback does to one kind of row: `{add, change, remove}` (contacts: `{revive, revert, remove}`). */
export type RowFigures = RollbackCounts[string];
export type SkippedContact = Schemas['SkippedContact'];
export type RollbackSample = Schemas['RollbackSample'];
export type RollbackPreview = Schemas['RollbackPreview'];
export type Rollback = Schemas['Rollback'];
export type RollbackStatus = Rollback['status'];
export type Snapshot = Schemas['Snapshot'];
export type SnapshotKind = Snapshot['kind'];
export type RecoverablePoints = Schemas['RecoverablePoints'];
export type SnapshotSettings = Schemas['SnapshotSettings'];
export type Backup = Schemas['Backup'];
export type BackupSchedule = Schemas['BackupSchedule'];
export type AuditEntry = Schemas['AuditEntry'];
export type ChainVerdict = Schemas['ChainVerdict'];
/** A contact a bulk delete or archive left as it was, and why (POST /contacts/delete, /contacts/archive). */
export type SkippedRemoval = JsonOf<paths['/api/v1/contacts/delete']['post']['responses'][200]>['skipped'][number];
/** Deletes and archives the mass-delete guard held, and what an admin decided (GET /held-deletes). */
export type HeldDelete = Schemas['HeldDelete'];
/** A deleted list, account, deal, tag, form or automation (GET /deleted-objects). */
export type DeletedObject = Schemas['DeletedObject'];
export type ObjectType = DeletedObject['type'];
/** What POST /deleted-objects/restore restored and skipped, with why. */
export type ObjectRestore = Schemas['ObjectRestore'];
export type IntegrationToken = Schemas['IntegrationToken'];
/** Every code the server answers an error with. */
export type ErrorCode = Schemas['Error']['error']['code'];

/** Something of the workspace known by id and name: a list, an account, a tag. */
export type Named = Pick<Schemas['List'], 'id' | 'name'>;

type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : never;
type RequestBody<P extends keyof paths, M extends 'post' | 'put' | 'patch'> = paths[P][M] extends { requestBody?: infer B } ? JsonOf<NonNullable<B>> : never;
type Answer<P extends keyof paths> = paths[P] extends { get: { responses: { 200: infer R } } } ? JsonOf<R> : never;
type GetParameters<P extends keyof paths> = paths[P] extends { get: { parameters: infer Q } } ? Q : never;

/** The routes whose GET answers a collection (`{data, nextCursor}`). */
export type CollectionPath = { [P in keyof paths]: Answer<P> extends { data: unknown[]; nextCursor: string | null } ? P : never }[keyof paths];
/** One item of a collection. */
export type ItemOf<P extends CollectionPath> = Answer<P> extends { data: (infer T)[] } ? T : never;
/** A collection's query parameters, but for its paging. */
export type FilterOf<P extends CollectionPath> = Omit<NonNullable<GetParameters<P> extends { query?: infer Q } ? Q : never>, 'limit' | 'cursor'>;
/** A collection's path parameters (`{id}`), if it has any. */
export type PathParamsOf<P extends CollectionPath> = GetParameters<P> extends { path: infer T } ? T : never;

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** The API client of one signed-in token. */
export type ApiClient = Client<paths>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network',
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * A client that sends the token, for the calls of a signed-in user; `onUnauthenticated`
 * hears of any 401 (the token was revoked or has expired).
 */
export function apiClient(token: string, onUnauthenticated: () => void = () => undefined): ApiClient {
  const client = createClient<paths>({ headers: { authorization: `Bearer ${token}` }, querySerializer: (query) => queryString(query as Query) });
  client.use({
    onResponse: ({ response }) => {
      if (response.status === 401) onUnauthenticated();
    },
  });
  return client;
}

interface Outcome<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * The answer of a call, or the ApiError of its error body (status 0, `network`, when the
 * server could not be reached):
 * `const contact = await answer(api.GET('/api/v1/contacts/{id}', { params: { path: { id } } }))`.
 */
export async function answer<T>(call: Promise<Outcome<T>>): Promise<T> {
  let outcome: Outcome<T>;
  try {
    outcome = await call;
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Check that Retrace is running, then try again.');
  }
  const { data, error, response } = outcome;
  if (response.ok) return data as T;
  const body = (error as { error?: { code?: ErrorCode; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
  throw new ApiError(response.status, body?.code ?? 'internal', body?.message ?? `The server answered ${response.status}`, body?.details ?? {});
}

/** Query parameters; empty and undefined values are left out. */
export type Query = Record<string, string | number | undefined>;

export function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * One page of a collection. openapi-fetch types each path's call on its own; a call on
 * any collection path is typed here once, by the path's item, filter and path parameters.
 */
export function getPage<P extends CollectionPath>(
  api: ApiClient,
  path: P,
  params: { path?: PathParamsOf<P>; query: FilterOf<P> & { limit?: number; cursor?: string } },
): Promise<Page<ItemOf<P>>> {
  const get = api.GET as unknown as (path: P, init: { params: typeof params }) => Promise<Outcome<Page<ItemOf<P>>>>;
  return answer(get(path, { params }));
}

/**
 * Every item of a collection, its pages followed to the end `pageSize` at a time (the most
 * a page holds, GET /limits): for the lookups that need them all (names of lists, tags,
 * deals; a contact's lists). Answers one page holding everything.
 */
export async function allPages<P extends CollectionPath>(
  api: ApiClient,
  pageSize: number,
  path: P,
  params: { path?: PathParamsOf<P>; query?: FilterOf<P> } = {},
): Promise<Page<ItemOf<P>>> {
  const data: ItemOf<P>[] = [];
  for (let cursor: string | undefined; ; ) {
    const page = await getPage(api, path, { path: params.path, query: { ...(params.query as FilterOf<P>), limit: pageSize, cursor } });
    data.push(...page.data);
    if (page.nextCursor === null) return { data, nextCursor: null };
    cursor = page.nextCursor;
  }
}

/** What to tell a person about a failed call: the server's message, made plain where the code says more. */
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : 'Something went wrong.';
  switch (error.code) {
    case 'unauthenticated':
      return 'This API token is not valid (or no longer is). Sign in again with a current token.';
    case 'forbidden':
      return typeof error.details.permission === 'string'
        ? `You are not allowed to do this: it needs the permission “${error.details.permission}”. Ask an admin.`
        : `You are not allowed to do this. ${error.message}`;
    case 'not_found':
      return `Not found: ${error.message}. It may have been purged or erased.`;
    case 'restore_job_running':
      return 'A restore is already running in this workspace; only one can run at a time. Its progress is shown below.';
    case 'too_many_contacts':
      return typeof error.details.max === 'number'
        ? `At most ${error.details.max} contacts can be picked at a time. Use “Restore all matching” for more.`
        : `${error.message}. Use “Restore all matching” for more.`;
    case 'mass_delete_held':
      return typeof error.details.deletedInWindow === 'number' && typeof error.details.limit === 'number'
        ? `Held, not done: ${error.details.deletedInWindow} contacts were already deleted or archived by you in the last ${error.details.windowMinutes ?? 'few'} minutes, over the limit of ${error.details.limit}. An admin must release this (Held deletes) before it happens.`
        : error.message;
    case 'invalid_request': {
      const issues = (error.details.issues as { path?: unknown[]; message?: string }[] | undefined) ?? [];
      const first = issues[0];
      return first ? `${error.message}: ${(first.path ?? []).join('.') || 'input'} — ${first.message ?? ''}`.trim() : error.message;
    }
    default:
      return error.message;
  }
}
