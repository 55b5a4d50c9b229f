import { useMutation, useQueries, useQueryClient } from '@tanstack/react-query';
import { answer, ApiError, type Backup, type Snapshot } from './api';
import { formatBytes, plural } from './format';
import { formatPoint } from './rollback';
import { useSession } from './session';

/** The contacts a backup holds (every contact row as of its snapshot, recycle bin and archive included). */
export const backupContacts = (backup: Backup): number => backup.rowCounts.contacts ?? 0;

/** What a new or re-verified backup came to, in one sentence. */
export function backupOutcome(backup: Backup): string {
  const what = `the workspace as of ${formatPoint(backup.takenAt)} (${plural(backupContacts(backup), 'contact')}, ${formatBytes(backup.byteSize)})`;
  if (backup.status === 'verified') return `Backed up ${what}, and verified it.`;
  if (backup.status === 'failed') return `Backed up ${what}, but its verification failed: ${backup.error ?? 'no reason given'}.`;
  return `Backed up ${what}; it is not verified yet.`;
}

/** Whether the paged list of backups or of snapshots is behind a change (a new backup may bring a new snapshot). */
const isBackupOrSnapshotPage = (key: readonly unknown[]) => key[0] === 'page' && (key[1] === '/api/v1/backups' || key[1] === '/api/v1/snapshots');

/**
 * POST /backups: of the given snapshot, or (without one) of a manual snapshot taken now.
 * The server writes and verifies the file before it answers, so this takes as long as
 * the workspace is large.
 */
export function useCreateBackup(onCreated: (backup: Backup) => void) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (snapshotId: string | null) => answer(api.POST('/api/v1/backups', snapshotId ? { body: { snapshotId } } : {})),
    onSuccess: async (backup) => {
      onCreated(backup);
      await queryClient.invalidateQueries({ predicate: (q) => isBackupOrSnapshotPage(q.queryKey) });
    },
  });
}

/**
 * The snapshots backups were made from, by id, each one GET /snapshots/:id, cached; null
 * for one no longer retained (deleted or expired: its backups remain).
 */
export function useBackupSnapshots(ids: string[]): Map<string, Snapshot | null> {
  const { api } = useSession();
  const unique = [...new Set(ids)];
  const results = useQueries({
    queries: unique.map((id) => ({
      // Under 'snapshots', so the Snapshots page's refresh after a deletion reaches it.
      queryKey: ['snapshots', 'one', id],
      queryFn: async (): Promise<Snapshot | null> => {
        try {
          return await answer(api.GET('/api/v1/snapshots/{id}', { params: { path: { id } } }));
        } catch (error) {
          if (error instanceof ApiError && error.status === 404) return null;
          throw error;
        }
      },
      staleTime: 60_000,
    })),
  });
  const snapshots = new Map<string, Snapshot | null>();
  results.forEach((result, i) => {
    if (result.data !== undefined) snapshots.set(unique[i], result.data);
  });
  return snapshots;
}
