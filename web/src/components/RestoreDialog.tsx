import { useState } from 'react';
import { useMutation } from '@tanstack/react-query';
import { answer, ApiError, type RestoreJob, type RestoreRequest, type RestoreSource } from '../api';
import { freezeText, plural } from '../format';
import { useWorkspace } from '../lookups';
import { useSession } from '../session';
import { Dialog } from './Dialog';
import { ErrorNotice } from './Notice';

/** What the admin is about to restore: picked contacts, or every contact matching the filter. */
export interface RestoreIntent {
  source: RestoreSource;
  request: Omit<RestoreRequest, 'confirmOverage' | 'resumeAutomations'>;
  /** How many contacts, and their names when picked (for the dialog). */
  count: number | null;
  names: string[];
  /** Archived contacts still in their freeze (archiveFreezeDays), which the job will skip. */
  frozen?: number;
}

interface Overage {
  active: number;
  limit: number;
  wouldBe: number;
}

/**
 * Seed 002's confirmation: how many, what comes back and what does not; then, if the
 * server answers contact_limit_exceeded, seed 004's overage warning and a second
 * confirmation that re-posts with confirmOverage.
 */
export function RestoreDialog({ intent, onCancel, onStarted, onAlreadyRunning }: {
  intent: RestoreIntent;
  onCancel: () => void;
  onStarted: (job: RestoreJob) => void;
  onAlreadyRunning: (jobId: string) => void;
}) {
  const { api } = useSession();
  const retention = useWorkspace()?.retention;
  const [resumeAutomations, setResumeAutomations] = useState(false);
  const [overage, setOverage] = useState<Overage | null>(null);
  const start = useMutation({
    mutationFn: (confirmOverage: boolean) =>
      answer(
        api.POST('/api/v1/restore-jobs', {
          body: { ...intent.request, ...(confirmOverage ? { confirmOverage: true } : {}), ...(resumeAutomations ? { resumeAutomations: true } : {}) },
        }),
      ),
    onSuccess: onStarted,
    onError: (error) => {
      if (error instanceof ApiError && error.code === 'contact_limit_exceeded') setOverage(error.details as unknown as Overage);
      if (error instanceof ApiError && error.code === 'restore_job_running' && typeof error.details.jobId === 'string') onAlreadyRunning(error.details.jobId);
    },
  });
  const howMany = intent.count === null ? 'all matching contacts' : plural(intent.count, 'contact');
  const from = intent.source === 'deleted' ? 'the recycle bin' : 'the archive';

  if (overage) {
    return (
      <Dialog
        title="This goes over your active contact limit"
        tone="warning"
        confirmLabel="Confirm overage and restore"
        busy={start.isPending}
        onConfirm={() => start.mutate(true)}
        onCancel={onCancel}
      >
        <p data-testid="overage">
          The workspace has <strong>{overage.active.toLocaleString('en-US')}</strong> active contacts and a limit of{' '}
          <strong>{overage.limit.toLocaleString('en-US')}</strong>. After this restore it would have <strong>{overage.wouldBe.toLocaleString('en-US')}</strong>,{' '}
          {(overage.wouldBe - overage.limit).toLocaleString('en-US')} over the limit. Restored contacts count toward the limit at once, and the overage may be billed.
        </p>
        <ErrorNotice error={start.error instanceof ApiError && start.error.code === 'contact_limit_exceeded' ? null : start.error} />
      </Dialog>
    );
  }

  return (
    <Dialog title={`Restore ${howMany}?`} confirmLabel={`Restore ${howMany}`} busy={start.isPending} onConfirm={() => start.mutate(false)} onCancel={onCancel}>
      <p data-testid="restore-count">
        {intent.request.all ? <><strong>All {howMany}</strong> matching the current search and dates</> : <strong>{howMany}</strong>} will come back from {from} as active contacts
        {intent.names.length > 0 && (
          <>
            : {intent.names.slice(0, 5).join(', ')}
            {intent.names.length > 5 && ` and ${plural(intent.names.length - 5, 'other')}`}
          </>
        )}
        .
      </p>
      {intent.frozen ? (
        <p className="muted">
          {plural(intent.frozen, 'contact')} of these {intent.frozen === 1 ? 'was' : 'were'} archived less than {freezeText(retention)} ago and will be skipped as frozen.
        </p>
      ) : null}
      <h3>What comes back</h3>
      <table className="restored-data">
        <tbody>
          <tr>
            <th>Lists</th>
            <td>Each list membership with its status (subscribed, unsubscribed, bounced, unconfirmed), unless the list was deleted.</td>
          </tr>
          <tr>
            <th>Accounts</th>
            <td>Each account association with its job title, unless the account was deleted.</td>
          </tr>
          <tr>
            <th>Deals</th>
            <td>
              Membership of deals that still exist, never as the primary contact. A deal whose only contact this was was deleted with it and does not come back.
            </td>
          </tr>
          <tr>
            <th>Tags</th>
            <td>All tags, unless the tag was deleted.</td>
          </tr>
          <tr>
            <th>Created date</th>
            <td>The contact’s original created date.</td>
          </tr>
        </tbody>
      </table>
      <h3>What does not</h3>
      <ul className="does-not">
        <li>
          <strong>No automation runs and nothing is sent</strong>: restoring triggers no automation, email or campaign.
        </li>
        <li>Merged and purged contacts, and contacts whose email another contact now has, are skipped; the result lists each with the reason.</li>
        {intent.source === 'archived' && <li>Restored contacts count toward your active contact limit at once.</li>}
      </ul>
      <label className="checkbox-line">
        <input type="checkbox" checked={resumeAutomations} onChange={(event) => setResumeAutomations(event.target.checked)} />
        Instead, resume their paused automations where they stopped (no message already sent is sent again)
      </label>
      <p className="muted small">The restore runs in the background: you can leave this page and come back to its progress.</p>
      <ErrorNotice error={start.error} />
    </Dialog>
  );
}
