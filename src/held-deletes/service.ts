import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { AppError, forbidden, invalidState, notFound } from '../http/errors.js';
import { decodeCursor, toPage, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { notify } from '../notifications/service.js';
import { applyRemoval, countLiveContacts, lockRemovable, stillRemovedBy, type Removal, type Skipped } from '../contacts/service.js';
import { restoreContactsNow } from '../recycle-bin/service.js';
import type { Permission } from '../users/permissions.js';
import { getMassDeleteSettings, minPercentLimit, type MassDeleteSettings } from '../workspaces/service.js';
import {
  appendHeldRequest,
  contactsRemovedSince,
  forgetTally,
  insertHeld,
  insertTally,
  lockActor,
  lockHeld,
  markDecided,
  pruneTally,
  removedSince,
  selectHeld,
  selectHeldPage,
  selectHeldRequests,
  selectPendingHeldId,
  type HeldOutcome,
  type HeldRow,
  type HeldStatus,
  type LimitBy,
} from './queries.js';

export type { HeldStatus } from './queries.js';

/**
 * Who decides on held requests: the admins, as notifications tells them (the permission
 * that manages users, held by the built-in admin role). Undoing also restores contacts,
 * so it needs contacts.restore as well.
 */
export const heldDeletePermission: Permission = 'users.manage';
export const undoPermission: Permission = 'contacts.restore';

/** The guard's limit for one actor: maxContacts, or maxPercent of the workspace's contacts where that is smaller and at least 100. */
export interface RemovalLimit {
  contacts: number;
  by: LimitBy;
}

/**
 * The limit that applies in a workspace of `liveContacts` (active and archived): the
 * percentage of them when that is at least minPercentLimit contacts and below maxContacts,
 * else maxContacts.
 */
export function removalLimit(settings: MassDeleteSettings, liveContacts: number): RemovalLimit {
  const byPercent = Math.floor((liveContacts * settings.maxPercent) / 100);
  return byPercent >= minPercentLimit && byPercent < settings.maxContacts
    ? { contacts: byPercent, by: 'maxPercent' }
    : { contacts: settings.maxContacts, by: 'maxContacts' };
}

/**
 * How many live contacts removalLimit needs to know of at most: with more, the percentage
 * is at least maxContacts and cannot be the limit.
 */
export const liveContactsNeeded = (settings: MassDeleteSettings) => Math.ceil((settings.maxContacts * 100) / settings.maxPercent);

export type Verdict = 'apply' | 'hold' | 'confirmation_required';

/**
 * What the guard does with a request that would remove `removing` contacts, the actor
 * having removed `inWindow` within the window (../shared/API.md, "mass deletes are held"):
 * - one request over maxContacts needs `confirm` (checked first: it changes nothing);
 * - while the actor has a request held, every further one is held with it;
 * - a request is held when it would take the actor over its limit: the 1,001st removal
 *   of 1,000 allowed is held, with the whole request it came in;
 * - a confirmed request over maxContacts is applied whole (and counts), unless the actor
 *   has already reached its limit: confirming is for one large request, not a way past
 *   the window.
 */
export function judgeRemoval(input: { removing: number; inWindow: number; limit: number; maxContacts: number; confirmed: boolean; held: boolean }): Verdict {
  const large = input.removing > input.maxContacts;
  if (large && !input.confirmed) return 'confirmation_required';
  if (input.held) return 'hold';
  const wouldBe = input.inWindow + (large ? 1 : input.removing);
  return wouldBe > input.limit ? 'hold' : 'apply';
}

/** The start of the window that counts at `at` (exclusive). */
const windowStart = (settings: MassDeleteSettings, at: Date) => new Date(at.getTime() - settings.windowMinutes * 60_000);

/** How long tally rows are kept at least: raising the window within a day still counts what came before. */
const tallyKeptMs = 86_400_000;

export interface RemovalResult {
  done: string[];
  skipped: Skipped[];
}

interface HeldFigures {
  heldId: string;
  deletedInWindow: number;
  limit: number;
  limitBy: LimitBy;
  windowMinutes: number;
}

const massDeleteHeld = (figures: HeldFigures) =>
  new AppError(
    409,
    'mass_delete_held',
    `Held, not applied: ${figures.deletedInWindow} contacts were deleted or archived by this user or token in the last ${figures.windowMinutes} minutes, and the limit is ${figures.limit}. An admin can release or reject it.`,
    { ...figures },
  );

const confirmationRequired = (wouldRemove: number, limit: number) =>
  new AppError(409, 'confirmation_required', `This request would remove ${wouldRemove} contacts at once, more than ${limit}: send it again with "confirm": true`, {
    wouldRemove,
    limit,
  });

/**
 * Deletes or archives contacts as `DELETE /contacts/:id`, `POST /contacts/delete`,
 * `POST /contacts/:id/archive` and `POST /contacts/archive` do, behind the mass-delete
 * guard: the change's actor (a user, or an integration token's id) is counted within the
 * workspace's window, and a request past its limit is stored as held (409
 * `mass_delete_held`, admins told) instead of applied. One actor's requests take turns
 * (an advisory lock), so two at once cannot both pass the limit. A change with no actor
 * (the system's) is not guarded.
 *
 * @example
 * const { done, skipped } = await removeContacts(db, change, 'delete', ids, { confirm: body.confirm });
 */
export async function removeContacts(db: Db, change: ChangeContext, removal: Removal, ids: string[], options: { confirm?: boolean } = {}): Promise<RemovalResult> {
  const unique = [...new Set(ids)];
  const ws = change.workspaceId;
  const actorId = change.actorId;
  const outcome = await inTransaction(db, change, async (tx): Promise<RemovalResult | { held: HeldFigures }> => {
    if (actorId !== null) await lockActor(tx, ws, actorId);
    const { eligible, skipped } = await lockRemovable(tx, ws, removal, unique);
    if (actorId === null || eligible.length === 0) {
      await applyRemoval(tx, change, removal, eligible);
      return { done: eligible, skipped };
    }
    const settings = await getMassDeleteSettings(tx, ws);
    const since = windowStart(settings, change.at);
    const pendingId = await selectPendingHeldId(tx, ws, actorId);
    const window = await removedSince(tx, ws, actorId, since);
    const inWindow = window.removed;
    // maxPercent is of the workspace's active and archived contacts when the actor's
    // window began: counted once then (up to what can matter), not at every request of
    // a mass delete under way. Where it applies it is at least 100 contacts, so a
    // request that stays under that, with nothing held, needs no count at all.
    const mayNeedPercent = pendingId !== undefined || inWindow + eligible.length > minPercentLimit;
    const base = window.base ?? (mayNeedPercent ? await countLiveContacts(tx, ws, liveContactsNeeded(settings)) : null);
    const limit = removalLimit(settings, base ?? 0);
    const verdict = judgeRemoval({
      removing: eligible.length,
      inWindow,
      limit: limit.contacts,
      maxContacts: settings.maxContacts,
      confirmed: options.confirm === true,
      held: pendingId !== undefined,
    });
    if (verdict === 'confirmation_required') throw confirmationRequired(eligible.length, settings.maxContacts);
    if (verdict === 'hold') {
      const figures = { deletedInWindow: inWindow, limit: limit.contacts, limitBy: limit.by, windowMinutes: settings.windowMinutes };
      const heldId = await holdRequest(tx, change, actorId, { pendingId, removal, ids: unique, removable: eligible.length, windowFrom: since, ...figures });
      return { held: { heldId, ...figures } };
    }
    await applyRemoval(tx, change, removal, eligible);
    await insertTally(tx, ws, { actorId, tokenId: change.tokenId ?? null, removal, at: change.at, contactIds: eligible, base });
    await pruneTally(tx, ws, new Date(change.at.getTime() - Math.max(tallyKeptMs, settings.windowMinutes * 60_000)));
    return { done: eligible, skipped };
  });
  // Committed: the held request is stored and admins are told; the caller hears 409.
  if ('held' in outcome) throw massDeleteHeld(outcome.held);
  return outcome;
}

interface HoldInput extends Omit<HeldFigures, 'heldId'> {
  pendingId: string | undefined;
  removal: Removal;
  ids: string[];
  removable: number;
  windowFrom: Date;
}

/**
 * Stores the request as held: a new held request (admins told once, `mass_delete.held`),
 * or, while the actor has one pending, a further request of it. Audit `mass_delete.held`.
 */
async function holdRequest(tx: Tx, change: ChangeContext, actorId: string, input: HoldInput): Promise<string> {
  const ws = change.workspaceId;
  const tokenId = change.tokenId ?? null;
  const heldId =
    input.pendingId ??
    (await insertHeld(tx, ws, {
      actorId,
      tokenId,
      heldAt: change.at,
      removedInWindow: input.deletedInWindow,
      limit: input.limit,
      limitBy: input.limitBy,
      windowMinutes: input.windowMinutes,
      windowFrom: input.windowFrom,
    }));
  await appendHeldRequest(tx, ws, heldId, { removal: input.removal, contactIds: input.ids, removable: input.removable, requestedAt: change.at });
  if (input.pendingId === undefined) {
    await notify(tx, change, 'mass_delete.held', {
      heldId,
      actorId,
      tokenId,
      removal: input.removal,
      contacts: input.removable,
      deletedInWindow: input.deletedInWindow,
      limit: input.limit,
      limitBy: input.limitBy,
      windowMinutes: input.windowMinutes,
      heldAt: change.at.toISOString(),
    });
  }
  await recordAudit(tx, change, {
    action: 'mass_delete.held',
    targetType: 'held_delete',
    targetId: heldId,
    details: { removal: input.removal, contacts: input.removable, deletedInWindow: input.deletedInWindow, limit: input.limit, joined: input.pendingId !== undefined },
  });
  return heldId;
}

// ---------------------------------------------------------------- reading held requests

/** A held request as the API answers it (docs/API-additions.md, "Mass deletes are held"). */
export interface HeldDelete {
  id: string;
  status: HeldStatus;
  actorId: string;
  tokenId: string | null;
  heldAt: string;
  deletedInWindow: number;
  limit: number;
  limitBy: LimitBy;
  windowMinutes: number;
  /** The window counted when it was held started after this; a rejection with undo restores what the actor removed since. */
  windowFrom: string;
  requests: number;
  contacts: { delete: number; archive: number };
  decidedBy: string | null;
  decidedAt: string | null;
  undo: boolean | null;
  outcome: HeldOutcome | null;
}

const presentHeld = (row: HeldRow): HeldDelete => ({
  id: row.id,
  status: row.status,
  actorId: row.actor_id,
  tokenId: row.token_id,
  heldAt: row.held_at.toISOString(),
  deletedInWindow: row.removed_in_window,
  limit: row.limit_contacts,
  limitBy: row.limit_by,
  windowMinutes: row.window_minutes,
  windowFrom: row.window_from.toISOString(),
  requests: row.requests,
  contacts: { delete: row.to_delete, archive: row.to_archive },
  decidedBy: row.decided_by,
  decidedAt: row.decided_at?.toISOString() ?? null,
  undo: row.undo,
  outcome: row.outcome,
});

/** Held requests, newest first, of one status or all. */
export async function listHeldDeletes(db: Db, workspaceId: string, query: PageRequest & { status?: HeldStatus }): Promise<Page<HeldDelete>> {
  const rows = await selectHeldPage(db, workspaceId, query.status, decodeCursor(query.cursor, ['timestamp', 'text']), query.limit + 1);
  return toPage(rows, query.limit, (r) => [r.page_time, r.id], presentHeld);
}

export async function getHeldDelete(db: Db | Tx, workspaceId: string, heldId: string): Promise<HeldDelete> {
  const row = await selectHeld(db, workspaceId, heldId);
  if (!row) throw notFound('Held request');
  return presentHeld(row);
}

// ---------------------------------------------------------------- deciding

/**
 * The change a release runs as: the held actor's (and token's), as its request would have
 * run, so deleted_by, history and the change set name them; the releasing admin is in the
 * audit entry `mass_delete.released`. Its cause follows from them (causeOf): the
 * integration when the actor is the token, else the user.
 */
const asHeldActor = (held: HeldDelete, at: Date, workspaceId: string): ChangeContext => ({
  workspaceId,
  actorId: held.actorId,
  tokenId: held.tokenId,
  origin: 'user',
  at,
});

/** Takes the actor's turn and the held request's row; 409 invalid_state unless it is pending. */
async function lockPending(tx: Tx, workspaceId: string, held: HeldDelete): Promise<void> {
  await lockActor(tx, workspaceId, held.actorId);
  const status = await lockHeld(tx, workspaceId, held.id);
  if (status !== 'pending') throw invalidState(`The held request is already ${status}`, { status });
}

/**
 * Runs a held request: each of its requests in the order it came, as the held actor would
 * have (what changed meanwhile is skipped as a request would skip it). The actor's window
 * starts again from the release. Audit `mass_delete.released` by the admin.
 */
export async function releaseHeldDelete(db: Db, change: ChangeContext, heldId: string): Promise<HeldDelete> {
  const ws = change.workspaceId;
  const held = await getHeldDelete(db, ws, heldId);
  const actorChange = asHeldActor(held, change.at, ws);
  return inTransaction(db, actorChange, async (tx) => {
    await lockPending(tx, ws, held);
    const outcome = { deleted: 0, archived: 0, skipped: 0 };
    // One request at a time, as they came: a later one may remove what an earlier one
    // archived. Each is a few set-based statements over its ids.
    for (const request of await selectHeldRequests(tx, ws, heldId)) {
      const { eligible, skipped } = await lockRemovable(tx, ws, request.removal, request.contact_ids);
      await applyRemoval(tx, actorChange, request.removal, eligible, { heldId });
      outcome[request.removal === 'delete' ? 'deleted' : 'archived'] += eligible.length;
      outcome.skipped += skipped.length;
    }
    await forgetTally(tx, ws, held.actorId);
    await markDecided(tx, ws, heldId, { status: 'released', by: change.actorId, at: change.at, undo: null, outcome });
    await recordAudit(tx, change, {
      action: 'mass_delete.released',
      targetType: 'held_delete',
      targetId: heldId,
      details: { actorId: held.actorId, tokenId: held.tokenId, ...outcome },
    });
    return getHeldDelete(tx, ws, heldId);
  });
}

/**
 * Rejects a held request: none of it runs. With `undo`, what the actor deleted or archived
 * in the window that held it comes back (those still as it left them), through the
 * recycle bin's restore, archived ones whatever their freeze: they were archived minutes
 * ago by the mistake being undone. Audit `mass_delete.rejected`; the restores are
 * `contact.restored` with origin `restore`. Undo needs contacts.restore too.
 */
export async function rejectHeldDelete(
  db: Db,
  change: ChangeContext,
  heldId: string,
  input: { undo?: boolean; permissions: ReadonlySet<Permission> },
): Promise<HeldDelete> {
  const ws = change.workspaceId;
  const undo = input.undo === true;
  if (undo && !input.permissions.has(undoPermission)) throw forbidden(undoPermission);
  const held = await getHeldDelete(db, ws, heldId);
  const restoreChange: ChangeContext = { ...change, origin: 'restore', cause: { kind: 'restore', id: heldId } };
  return inTransaction(db, undo ? restoreChange : change, async (tx) => {
    await lockPending(tx, ws, held);
    let outcome: HeldOutcome | null = null;
    if (undo) {
      const windowFrom = new Date(held.windowFrom);
      const removed = await contactsRemovedSince(tx, ws, held.actorId, windowFrom);
      const away = await stillRemovedBy(tx, ws, removed, held.actorId, windowFrom);
      const fromBin = await restoreContactsNow(tx, restoreChange, 'deleted', away.deleted, { ignoreFreeze: false });
      const fromArchive = await restoreContactsNow(tx, restoreChange, 'archived', away.archived, { ignoreFreeze: true });
      // Skipped: those the restore could not bring back (an email taken since, say).
      // Contacts already back, or removed since by someone else, are not the actor's to undo.
      outcome = { restored: fromBin.restored.length + fromArchive.restored.length, skipped: fromBin.skipped.length + fromArchive.skipped.length };
    }
    await markDecided(tx, ws, heldId, { status: 'rejected', by: change.actorId, at: change.at, undo, outcome });
    await recordAudit(tx, change, {
      action: 'mass_delete.rejected',
      targetType: 'held_delete',
      targetId: heldId,
      details: { actorId: held.actorId, tokenId: held.tokenId, undo, ...(outcome ?? {}) },
    });
    return getHeldDelete(tx, ws, heldId);
  });
}
