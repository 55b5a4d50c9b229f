import { useEffect, useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { Page, RestoreJob } from './api';
import { useSession } from './session';

const storageKey = (workspaceId: string) => `retrace.restoreJob.${workspaceId}`;

export const isFinished = (job: RestoreJob | undefined): boolean => job?.status === 'succeeded' || job?.status === 'failed';

/**
 * The restore job this browser follows. Restores run in the background (seed 002: "you
 * can leave the page"), so the job id is remembered; coming back with none remembered,
 * a job still queued or running in the workspace (GET /restore-jobs) is picked up.
 */
export function useRestoreJob() {
  const { me, call } = useSession();
  const key = storageKey(me.workspace.id);
  const [jobId, setJobId] = useState<string | null>(() => window.localStorage.getItem(key));
  const queryClient = useQueryClient();

  const latest = useQuery({
    queryKey: ['restore-jobs', 'latest'],
    queryFn: () => call<Page<RestoreJob>>('GET', '/restore-jobs?limit=1'),
    enabled: jobId === null,
  });
  useEffect(() => {
    const newest = latest.data?.data[0];
    if (jobId === null && newest && !isFinished(newest)) follow(newest.id);
  }, [latest.data, jobId]);

  const job = useQuery({
    queryKey: ['restore-job', jobId],
    queryFn: () => call<RestoreJob>('GET', `/restore-jobs/${encodeURIComponent(jobId ?? '')}`),
    enabled: jobId !== null,
    refetchInterval: (query) => (isFinished(query.state.data) ? false : 500),
  });
  const finished = isFinished(job.data);
  useEffect(() => {
    // Restored contacts are back in every list of contacts; the bins have fewer.
    if (finished) void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== 'restore-job' });
  }, [finished, queryClient]);

  function follow(id: string) {
    window.localStorage.setItem(key, id);
    setJobId(id);
  }
  function dismiss() {
    window.localStorage.removeItem(key);
    setJobId(null);
  }
  return { job: job.data, error: job.error, follow, dismiss, running: jobId !== null && !finished };
}
