/**
 * The HTTP API as the web UI uses it (../shared/API.md, base path /api/v1). Every
 * failure becomes an ApiError carrying the contract's {error:{code,message,details}}.
 */

export type Permission =
  | 'contacts.read'
  | 'contacts.write'
  | 'contacts.delete'
  | 'contacts.archive'
  | 'contacts.restore'
  | 'contacts.merge'
  | 'contacts.erase'
  | 'rollbacks.request'
  | 'rollbacks.approve'
  | 'snapshots.manage'
  | 'automations.manage'
  | 'users.manage'
  | 'audit.read';

export interface Me {
  user: { id: string; email: string; name: string | null };
  role: { id: string; name: string };
  permissions: Permission[];
  workspace: { id: string; name: string };
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

type GetPage = <T>(method: 'GET', path: string) => Promise<T>;

/**
 * Every item of a collection, its pages followed to the end 500 at a time (the most a
 * page holds): for the lookups that need them all (names of lists, tags, deals; a
 * contact's lists). Answers one page holding everything.
 */
export async function allPages<T>(call: GetPage, path: string): Promise<Page<T>> {
  const data: T[] = [];
  for (let cursor: string | null = null; ; ) {
    const separator = path.includes('?') ? '&' : '?';
    const page: Page<T> = await call<Page<T>>('GET', `${path}${separator}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    data.push(...page.data);
    if (page.nextCursor === null) return { data, nextCursor: null };
    cursor = page.nextCursor;
  }
}

export type ContactStatus = 'active' | 'archived' | 'deleted' | 'merged';

export interface Contact {
  id: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  fields: Record<string, unknown>;
  tags: string[];
  createdAt: string;
  updatedAt: string;
  status: ContactStatus;
  deletedAt?: string;
  deletedBy?: string | null;
  archivedAt?: string;
  archivedBy?: string | null;
  mergedInto?: string;
}

export interface ArchivedContact extends Contact {
  restorableFrom: string;
  restorableUntil: string;
}

export interface Version {
  version: number;
  at: string;
  op: 'insert' | 'update' | 'delete';
  entity: string;
  /** The ids naming the record beside the contact, e.g. `{listId}`; `{}` for the contact. */
  ref: Record<string, string>;
  actorId: string | null;
  origin: string;
  changes: Record<string, { from: unknown; to: unknown }>;
}

export interface Named {
  id: string;
  name: string;
}

export interface Deal {
  id: string;
  title: string;
  value: number | null;
  stage: string | null;
  contactIds: string[];
  primaryContactId: string | null;
  deletedAt?: string;
}

/** What a restore brings back with a deleted or archived contact (GET /contacts/:id/restorable-associations). */
export interface RestorableAssociations {
  lists: { listId: string; status: string }[];
  accounts: { accountId: string; jobTitle: string | null }[];
  deals: Deal[];
  tags: string[];
}

export interface User {
  id: string;
  email: string;
  name: string | null;
  role: string;
}

export type RestoreSource = 'deleted' | 'archived';

export interface RestoreJob {
  id: string;
  source: RestoreSource;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  requested: number;
  restored: number;
  skipped: { contactId: string; reason: string; takenBy?: string }[];
  createdBy: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error?: string;
}

export interface RestoreRequest {
  source: RestoreSource;
  contactIds?: string[];
  all?: boolean;
  filter?: { q?: string; from?: string; to?: string };
  confirmOverage?: boolean;
  resumeAutomations?: boolean;
}

export type RollbackScope = { type: 'workspace' } | { type: 'contacts'; contactIds: string[] };

/** What a rollback does to one kind of row; contacts are counted as revived, reverted and removed. */
export interface RowFigures {
  add: number;
  change: number;
  remove: number;
}

export interface RollbackCounts {
  contacts: { revive: number; revert: number; remove: number };
  listMemberships: RowFigures;
  accountLinks: RowFigures;
  dealContacts: RowFigures;
  contactTags: RowFigures;
  /** Full (workspace) rollbacks write these back; a partial one mends deals its contacts leave (new primary: change; deleted: remove). */
  lists?: RowFigures;
  accounts?: RowFigures;
  deals?: RowFigures;
  tags?: RowFigures;
  skipped: { contacts: number };
}

export interface SkippedContact {
  contactId: string;
  reason: 'merged' | 'email_taken' | string;
  takenBy?: string;
}

export interface RollbackSample {
  contactId: string;
  /** Who it is: its email and name now, or at the point when it is gone now. */
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  change: 'revive' | 'revert' | 'remove';
  /** Field by field: the value now and the value the rollback writes back. */
  differences: { field: string; now: unknown; then: unknown }[];
  /** The latest change after the point, which the rollback overrides. */
  lastChange: { at: string; actorId: string | null; origin: string } | null;
  skipped?: SkippedContact;
}

export interface RollbackPreview {
  at: string;
  scope: RollbackScope;
  counts: RollbackCounts;
  sample: RollbackSample[];
  skipped: SkippedContact[];
}

export type RollbackStatus = 'awaiting_approval' | 'queued' | 'running' | 'succeeded' | 'failed';

export interface Rollback {
  id: string;
  at: string;
  scope: RollbackScope;
  status: RollbackStatus;
  /** Where the job is: plan, parents, release, contacts, done. */
  phase: 'plan' | 'parents' | 'release' | 'contacts' | 'done';
  resumeAutomations: boolean;
  undoOf: string | null;
  /** The undo that reversed this rollback, if any. */
  undoneBy: string | null;
  counts: RollbackCounts | null;
  skipped: SkippedContact[];
  progress: { contactsDone: number; contactsTotal: number };
  error: string | null;
  requestedBy: string | null;
  approvedBy: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export type SnapshotKind = 'hourly' | 'weekly' | 'monthly' | 'manual';

export interface Snapshot {
  id: string;
  takenAt: string;
  kind: SnapshotKind;
  label: string | null;
  expiresAt: string | null;
  createdBy: string | null;
  createdAt: string;
}

/** Every recoverable point: any instant from `from` to `to` (now), and each snapshot's exact takenAt. */
export interface RecoverablePoints {
  from: string;
  to: string;
  snapshots: { id: string; takenAt: string; kind: SnapshotKind }[];
}

export interface SnapshotSettings {
  hourly: { enabled: boolean; keepHours: number };
  weekly: { enabled: boolean; keepDays: number };
  monthly: { enabled: boolean; keepDays: number };
}

export type BackupStatus = 'exported' | 'verified' | 'failed';

/** An exported backup (docs/API-additions.md, "Backups"): the workspace as of a snapshot, in the backup store. */
export interface Backup {
  id: string;
  snapshotId: string;
  takenAt: string;
  fileName: string;
  byteSize: number;
  sha256: string;
  /** Rows per table in the file, every table named (zeros included). */
  rowCounts: Record<string, number>;
  status: BackupStatus;
  verifiedAt: string | null;
  /** Why the last verification failed; null otherwise. */
  error: string | null;
  createdBy: string | null;
  createdAt: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  actorId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  details: Record<string, unknown>;
  hash: string;
  prevHash: string | null;
}

export type ChainVerdict = { ok: true; entries: number } | { ok: false; brokenAt: string; entries: number };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Query parameters; empty and undefined values are left out. */
export type Query = Record<string, string | number | undefined>;

export function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Calls the API with the signed-in token; resolves to the JSON body, or throws ApiError. */
export async function request<T>(token: string, method: Method, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Check that Retrace is running, then try again.');
  }
  const text = await response.text();
  const json: unknown = text ? safeJson(text) : null;
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? 'internal', error?.message ?? `The server answered ${response.status}`, error?.details ?? {});
  }
  return json as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
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
      return `At most ${String(error.details.max ?? 100)} contacts can be picked at a time. Use “Restore all matching” for more.`;
    case 'invalid_request': {
      const issues = (error.details.issues as { path?: unknown[]; message?: string }[] | undefined) ?? [];
      const first = issues[0];
      return first ? `${error.message}: ${(first.path ?? []).join('.') || 'input'} — ${first.message ?? ''}`.trim() : error.message;
    }
    default:
      return error.message;
  }
}
