import type { RestoreJob } from '../api';
import { formatDateTime, freezeText, plural } from '../format';
import { useWorkspace } from '../lookups';
import { Link } from '../router';
import { ErrorNotice } from './Notice';
import { SkippedContactsTable } from './SkippedContacts';

/** Why the job left a contact out, in words (API.md skip reasons, plus not_found); `freeze` is how long archived contacts stay frozen. */
const skipReasons = (freeze: string): Record<string, string> => ({
  merged: 'It was merged into another contact; merged contacts cannot be restored.',
  purged: 'It was purged for good after its retention period.',
  email_taken: 'Another active or archived contact now has its email.',
  frozen: `It was archived less than ${freeze} ago (still frozen).`,
  not_deleted: 'It is no longer in the recycle bin (restored or erased meanwhile).',
  not_archived: 'It is no longer archived (restored meanwhile, e.g. by a form).',
  not_found: 'No such contact in this workspace.',
});

/** A restore job's progress while it runs, and its result with the skipped contacts. */
export function RestoreJobPanel({ job, error, names, onDismiss }: {
  job: RestoreJob | undefined;
  error: unknown;
  /** Names of contacts seen on this page, to say who was skipped. */
  names: Map<string, string>;
  onDismiss: () => void;
}) {
  const retention = useWorkspace()?.retention;
  if (error) return <ErrorNotice error={error} onDismiss={onDismiss} />;
  if (!job) return null;
  const done = job.restored + job.skipped.length;
  const percent = job.requested === 0 ? 100 : Math.round((done / job.requested) * 100);
  const finished = job.status === 'succeeded' || job.status === 'failed';
  const from = job.source === 'deleted' ? 'the recycle bin' : 'the archive';
  return (
    <div className={`card pad job ${job.status}`} data-testid="restore-job">
      <div className="job-head">
        <h2>
          {job.status === 'queued' && `Restore of ${plural(job.requested, 'contact')} from ${from} is queued`}
          {job.status === 'running' && `Restoring ${plural(job.requested, 'contact')} from ${from}…`}
          {job.status === 'succeeded' && `Restore finished: ${job.restored} of ${plural(job.requested, 'contact')} restored`}
          {job.status === 'failed' && 'The restore failed'}
        </h2>
        {finished && (
          <button type="button" className="button secondary small" onClick={onDismiss}>
            Done
          </button>
        )}
      </div>
      <div className="progress" role="progressbar" aria-label="Restore progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
        <div className="progress-bar" style={{ width: `${percent}%` }} />
      </div>
      <p className="muted small">
        {done} of {job.requested} processed · {job.restored} restored · {job.skipped.length} skipped · started {formatDateTime(job.startedAt ?? job.createdAt)}
        {job.finishedAt && ` · finished ${formatDateTime(job.finishedAt)}`}
        {!finished && ' · you can leave this page; the restore carries on.'}
      </p>
      {job.status === 'failed' && job.error && <p className="error-text">{job.error}. Contacts restored before the failure stay restored.</p>}
      {job.status === 'succeeded' && job.restored > 0 && (
        <p>
          Restored contacts are active again: find them in <Link to="/contacts">Contacts</Link>. No automation ran and nothing was sent.
        </p>
      )}
      {finished && <SkippedContactsTable skipped={job.skipped} labels={names} reasons={skipReasons(freezeText(retention))} />}
    </div>
  );
}
