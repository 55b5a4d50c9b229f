import { useEffect, useSyncExternalStore } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { answer, type RestoreJob } from './api';
import { useSession } from './session';

const storageKey = (workspaceId: string) => `retrace.restoreJob.${workspaceId}`;
const changeEvent = 'retrace:restore-job';

export const isFinished = (job: RestoreJob | undefined): boolean => job?.status === 'succeeded' || job?.status === 'failed';

/** The followed job id, shared by every component (and tab) through localStorage. */
function useFollowedJobId(workspaceId: string): [string | null, (id: string | null) => void] {
  const key = storageKey(workspaceId);
  const id = useSyncExternalStore(
    (onChange) => {
      window.addEventListener('storage', onChange);
      window.addEventListener(changeEvent, onChange);
      return () => {
        window.removeEventListener('storage', onChange);
        window.removeEventListener(changeEvent, onChange);
      };
    },
    () => window.localStorage.getItem(key),
  );
  const set = (next: string | null) => {
    if (next === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, next);
    window.dispatchEvent(new Event(changeEvent));
  };
  return [id, set];
}

/**
 * The restore job this browser follows. Restores run in the background (seed 002: "you
 * can leave the page"), so the job id is remembered; coming back with none remembered,
 * a job still queued or running in the workspace (GET /restore-jobs) is picked up.
 */
export function useRestoreJob() {
  const { me, api } = useSession();
  const [jobId, setJobId] = useFollowedJobId(me.workspace.id);
  const queryClient = useQueryClient();

  const latest = useQuery({
    queryKey: ['restore-jobs', 'latest'],
    queryFn: () => answer(api.GET('/api/v1/restore-jobs', { params: { query: { limit: 1 } } })),
    enabled: jobId === null,
  });
  const newest = latest.data?.data[0];
  useEffect(() => {
    if (jobId === null && newest && !isFinished(newest)) setJobId(newest.id);
  });

  const job = useQuery({
    queryKey: ['restore-job', jobId],
    queryFn: () => answer(api.GET('/api/v1/restore-jobs/{id}', { params: { path: { id: jobId ?? '' } } })),
    enabled: jobId !== null,
    refetchInterval: (query) => (isFinished(query.state.data) ? false : 500),
  });
  const finished = isFinished(job.data);
  useEffect(() => {
    // Restored contacts are back in every list of contacts; the bins have fewer.
    if (finished) void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== 'restore-job' });
  }, [finished, queryClient]);

  return {
    job: job.data,
    error: job.error,
    follow: (id: string) => setJobId(id),
    dismiss: () => {
      // The last "latest" answer may still show this job running: forget it, lest it be followed again.
      queryClient.removeQueries({ queryKey: ['restore-jobs', 'latest'] });
      setJobId(null);
    },
    running: jobId !== null && !finished,
  };
}
