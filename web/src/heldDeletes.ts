import { useQuery } from '@tanstack/react-query';
import { getPage, type HeldDelete } from './api';
import { plural } from './format';
import { useSession } from './session';

/**
 * The held mass deletes waiting for an admin (GET /held-deletes?status=pending), read
 * again every 15 seconds while a page is open: the banner and the Held deletes page
 * share it. Only admins (users.manage) may read them.
 */
export function usePendingHeldDeletes(): { pending: HeldDelete[]; more: boolean } {
  const { api, can } = useSession();
  const query = useQuery({
    queryKey: ['held-deletes', 'pending'],
    queryFn: () => getPage(api, '/api/v1/held-deletes', { query: { status: 'pending', limit: 50 } }),
    enabled: can('users.manage'),
    refetchInterval: 15_000,
  });
  return { pending: query.data?.data ?? [], more: Boolean(query.data?.nextCursor) };
}

/** What a held request would do: "2 contacts to delete and 1 to archive, in 2 requests". */
export function heldContents(held: HeldDelete): string {
  const parts = [
    held.contacts.delete ? `${plural(held.contacts.delete, 'contact')} to delete` : null,
    held.contacts.archive ? `${held.contacts.delete ? held.contacts.archive.toLocaleString('en-US') : plural(held.contacts.archive, 'contact')} to archive` : null,
  ].filter((part): part is string => part !== null);
  return `${parts.join(' and ') || 'no contact left to remove'}, in ${plural(held.requests, 'request')}`;
}

/** Why it was held: "3 contacts deleted or archived within 10 minutes; the limit is 3". */
export function heldReason(held: HeldDelete): string {
  const limit = held.limitBy === 'maxPercent' ? `${held.limit.toLocaleString('en-US')} (a percentage of the workspace’s contacts)` : held.limit.toLocaleString('en-US');
  return `${plural(held.deletedInWindow, 'contact')} deleted or archived within ${plural(held.windowMinutes, 'minute')}; the limit is ${limit}`;
}

/** What came of a decided one. */
export function heldOutcome(held: HeldDelete): string {
  const o = held.outcome;
  if (held.status === 'released') return o ? `Released: ${o.deleted ?? 0} deleted, ${o.archived ?? 0} archived, ${o.skipped} skipped.` : 'Released.';
  if (held.status === 'rejected') return held.undo && o ? `Rejected and undone: ${plural(o.restored ?? 0, 'contact')} restored, ${o.skipped} skipped.` : 'Rejected: nothing of it ran.';
  return 'Waiting for an admin.';
}
