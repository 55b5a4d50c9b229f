import type { AppContext } from '../context.js';
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { invalidRequest } from '../http/errors.js';
import { decodeCursor, encodeCursor, type Page } from '../http/pagination.js';
import { getRetention } from '../workspaces/service.js';
import {
  countPendingChangeSets,
  selectActivity,
  selectCauseNames,
  selectCauses,
  selectTransactions,
  workspacesWithPendingCounts,
  type ChangeFilter,
  type Counts,
} from './queries.js';

export { nameThisChangeSet } from './queries.js';

/**
 * The transactions a cause wrote (its change sets), oldest first, with when: an undo of
 * the cause reverts exactly these.
 */
export async function causeTransactions(db: Db, workspaceId: string, filter: ChangeFilter & { txid?: string }): Promise<{ txid: string; at: Date }[]> {
  return selectTransactions(db, workspaceId, filter);
}

/** A user's or a token's changes with no gap this long between them are one burst: one cause in the list. */
export const burstGapMinutes = 10;

/** Change sets counted per transaction. */
const countBatch = 200;

/**
 * Counts what the workspace's change sets not yet counted did (all workspaces' when
 * null), so that GET /changes sums counts instead of reading history: a read of the
 * changes counts its workspace's first, and the maintenance pass counts up to `budget`
 * change sets each time, the rest at its next pass. Returns how many it counted. The pass
 * skips sets another counter holds; a read waits for them (`waitForOthers`), or it would
 * answer without what that counter was counting. `yieldNow`, asked before each
 * transaction, ends the pass early (a job started on PGlite: maintenance/service.ts).
 */
export async function countChangeSets(
  db: Db,
  workspaceId: string | null,
  budget = Infinity,
  options: { waitForOthers?: boolean; yieldNow?: () => boolean } = {},
): Promise<number> {
  const yieldNow = options.yieldNow ?? (() => false);
  let counted = 0;
  for (const ws of await workspacesWithPendingCounts(db, workspaceId)) {
    while (counted < budget) {
      if (yieldNow()) return counted;
      const n = await withTransaction(db, (tx) => countPendingChangeSets(tx, ws, Math.min(countBatch, budget - counted), options.waitForOthers));
      counted += n;
      if (n < countBatch) break;
    }
    if (counted >= budget) break;
  }
  return counted;
}

/** Change sets a maintenance pass counts at most: the rest wait for the next pass (or a read). */
export const countedPerPass = 2000;

/** The API's names for the tables a change set counts. */
const countsNames: Record<string, string> = {
  contacts: 'contacts',
  lists: 'lists',
  list_memberships: 'listMemberships',
  accounts: 'accounts',
  account_contacts: 'accountLinks',
  deals: 'deals',
  deal_contacts: 'dealContacts',
  tags: 'tags',
  contact_tags: 'contactTags',
  forms: 'forms',
  automations: 'automations',
  enrollments: 'enrollments',
  messages: 'messages',
  users: 'users',
  roles: 'roles',
  api_tokens: 'tokens',
  workspaces: 'workspace',
};

/**
 * Counts as the API shows them: by record kind, then by what happened. Contacts always
 * show created, updated, deleted and archived (restored, merged and purged when any).
 */
export function presentCounts(counts: Counts): Record<string, Record<string, number>> {
  const shown: Record<string, Record<string, number>> = { contacts: { created: 0, updated: 0, deleted: 0, archived: 0 } };
  for (const [table, changes] of Object.entries(counts)) {
    const name = countsNames[table] ?? table;
    shown[name] = { ...(shown[name] ?? {}), ...changes };
  }
  return shown;
}

export type CauseKindFilter = 'user' | 'integration' | 'import' | 'automation' | 'form' | 'merge' | 'restore' | 'rollback' | 'undo' | 'system' | 'sql';

export interface ChangesQuery {
  actorId?: string;
  tokenId?: string;
  importId?: string;
  automationId?: string;
  kind?: CauseKindFilter;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

export interface CauseSummary {
  cause: { kind: string; id: string | null; actorId?: string; tokenId?: string; name?: string };
  from: string;
  to: string;
  counts: Record<string, Record<string, number>>;
  changeSets: number;
}

/**
 * The range a read of changes covers: as asked, else the recoverable window (the last
 * `pitrHours`), which is what can still be undone.
 */
async function rangeOf(ctx: AppContext, workspaceId: string, from: Date | undefined, to: Date | undefined): Promise<{ from: Date; to: Date }> {
  const end = to ?? ctx.clock.now();
  const start = from ?? new Date(end.getTime() - (await getRetention(ctx.db, workspaceId)).pitrHours * 3_600_000);
  if (start > end) {
    throw invalidRequest('from must not be after to', { issues: [{ in: 'query', path: ['from'], message: 'after to' }] });
  }
  return { from: start, to: end };
}

function filterOf(query: Omit<ChangesQuery, 'limit' | 'cursor'>, range: { from: Date; to: Date }): ChangeFilter {
  const byCause = query.importId ? { kind: 'import', id: query.importId } : query.automationId ? { kind: 'automation', id: query.automationId } : null;
  if (query.importId && query.automationId) {
    throw invalidRequest('Give importId or automationId, not both', { issues: [{ in: 'query', path: ['automationId'], message: 'with importId' }] });
  }
  if (byCause && query.kind && query.kind !== byCause.kind) {
    throw invalidRequest(`kind ${query.kind} cannot match ${byCause.kind}Id`, { issues: [{ in: 'query', path: ['kind'], message: `not ${byCause.kind}` }] });
  }
  return { ...range, actorId: query.actorId, tokenId: query.tokenId, causeKind: byCause?.kind ?? query.kind, causeId: byCause?.id };
}

/**
 * GET /changes: what each cause did in the range, newest first — an import, a merge or a
 * job as one, a user's or a token's work (or an automation's, a form's) as one for each
 * burst of it.
 */
export async function listChanges(ctx: AppContext, workspaceId: string, query: ChangesQuery): Promise<Page<CauseSummary>> {
  const filter = filterOf(query, await rangeOf(ctx, workspaceId, query.from, query.to));
  await countChangeSets(ctx.db, workspaceId, Infinity, { waitForOthers: true });
  const after = decodeCursor(query.cursor, ['timestamp', 'text', 'text']) as [string, string, string] | undefined;
  const rows = await selectCauses(ctx.db, workspaceId, filter, burstGapMinutes, after, query.limit + 1);
  const kept = rows.slice(0, query.limit);
  const names = await selectCauseNames(ctx.db, workspaceId, kept.map((r) => ({ kind: r.cause_kind, id: r.cause_id })));
  const only = (ids: (string | null)[]) => (ids.length === 1 && ids[0] !== null ? ids[0] : undefined);
  const last = kept.at(-1);
  return {
    data: kept.map((r) => {
      const actorId = only(r.actor_ids);
      const tokenId = only(r.token_ids);
      const name = r.cause_id ? names.get(`${r.cause_kind}:${r.cause_id}`) : undefined;
      return {
        cause: { kind: r.cause_kind, id: r.cause_id, ...(actorId ? { actorId } : {}), ...(tokenId ? { tokenId } : {}), ...(name ? { name } : {}) },
        from: r.first_at.toISOString(),
        to: r.last_at.toISOString(),
        counts: presentCounts(r.counts),
        changeSets: r.change_sets,
      };
    }),
    nextCursor: rows.length > query.limit && last ? encodeCursor([last.last_key, last.cause_kind, last.cause_id ?? '']) : null,
  };
}

export type Bucket = 'minute' | 'hour' | 'day';
const bucketMs: Record<Bucket, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/** More buckets than this in one answer is a 400: ask for wider buckets. */
export const maxBuckets = 10_000;

export interface ActivityBucket {
  at: string;
  created: number;
  updated: number;
  deleted: number;
}

/**
 * GET /changes/activity: every record created, updated and deleted in each bucket of the
 * range, every bucket present (zeros where nothing changed). Archives, purges and
 * merges count as deletions; restores as updates.
 */
export async function changeActivity(
  ctx: AppContext,
  workspaceId: string,
  query: { from?: Date; to?: Date; bucket: Bucket } & Omit<ChangesQuery, 'limit' | 'cursor' | 'from' | 'to'>,
): Promise<{ buckets: ActivityBucket[] }> {
  const range = await rangeOf(ctx, workspaceId, query.from, query.to);
  const size = bucketMs[query.bucket];
  const first = truncate(range.from, query.bucket);
  const count = Math.floor((range.to.getTime() - first.getTime()) / size) + 1;
  if (count > maxBuckets) {
    throw invalidRequest(`That is ${count} buckets of a ${query.bucket}: at most ${maxBuckets}; ask for wider buckets`, {
      issues: [{ in: 'query', path: ['bucket'], message: `more than ${maxBuckets} buckets` }],
    });
  }
  await countChangeSets(ctx.db, workspaceId, Infinity, { waitForOthers: true });
  const rows = await selectActivity(ctx.db, workspaceId, filterOf(query, range), query.bucket);
  const byTime = new Map(rows.map((r) => [r.at.getTime(), r.changes]));
  const buckets: ActivityBucket[] = [];
  for (let at = first.getTime(); at <= range.to.getTime(); at = next(at, query.bucket)) {
    const c = byTime.get(at) ?? {};
    const n = (key: string) => c[key] ?? 0;
    buckets.push({
      at: new Date(at).toISOString(),
      created: n('created'),
      updated: n('updated') + n('restored'),
      deleted: n('deleted') + n('archived') + n('purged') + n('merged'),
    });
  }
  return { buckets };
}

/** The start of the bucket `at` is in, in UTC. */
function truncate(at: Date, bucket: Bucket): Date {
  const t = new Date(at);
  if (bucket === 'day') t.setUTCHours(0, 0, 0, 0);
  else if (bucket === 'hour') t.setUTCMinutes(0, 0, 0);
  else t.setUTCSeconds(0, 0);
  return t;
}

const next = (at: number, bucket: Bucket) => at + bucketMs[bucket];
