import type { Rollback } from '../api';
import { formatDateTime, plural } from '../format';
import { useContactLabels } from '../lookups';
import { describeScope, formatPoint, isFinishedRollback, skipReasonText } from '../rollback';
import { Link } from '../router';
import { ErrorNotice } from './Notice';
import { RollbackCountsTable } from './RollbackFigures';
import { SkippedContactsTable } from './SkippedContacts';

function heading(rollback: Rollback): string {
  const what = rollback.undoOf ? 'Undo' : rollback.scope.type === 'workspace' ? 'Full rollback' : `Rollback of ${plural(rollback.scope.contactIds.length, 'contact')}`;
  const kind = rollback.undoOf ? 'Undo' : rollback.scope.type === 'workspace' ? 'Full rollback' : 'Rollback';
  const to = `to ${formatPoint(rollback.at)}`;
  switch (rollback.status) {
    case 'awaiting_approval':
      return `${what} ${to} is awaiting approval by a second admin`;
    case 'queued':
      return `${what} ${to} is queued`;
    case 'running':
      return `${rollback.undoOf ? 'Undoing' : 'Rolling back'}… ${rollback.progress.contactsDone} of ${plural(rollback.progress.contactsTotal, 'contact')}`;
    case 'succeeded':
      return `${kind} finished: ${plural(rollback.progress.contactsTotal, 'contact')} rolled back ${to}`;
    case 'failed':
      return `${kind} failed`;
  }
}

/** The rollback this page follows: its progress while it runs, then what it changed and skipped. */
export function RollbackPanel({ rollback, error, onDismiss }: { rollback: Rollback | undefined; error: unknown; onDismiss: () => void }) {
  const labels = useContactLabels([...new Set((rollback?.skipped ?? []).flatMap((s) => (s.takenBy ? [s.contactId, s.takenBy] : [s.contactId])))]);
  if (error) return <ErrorNotice error={error} onDismiss={onDismiss} />;
  if (!rollback) return null;
  const { contactsDone, contactsTotal } = rollback.progress;
  const finished = isFinishedRollback(rollback.status);
  const percent = rollback.status === 'succeeded' ? 100 : contactsTotal === 0 ? 0 : Math.round((contactsDone / contactsTotal) * 100);
  return (
    <div className={`card pad job ${rollback.status}`} data-testid="rollback-job">
      <div className="job-head">
        <h2>{heading(rollback)}</h2>
        {(finished || rollback.status === 'awaiting_approval') && (
          <button type="button" className="button secondary small" onClick={onDismiss}>
            Done
          </button>
        )}
      </div>
      {rollback.status === 'awaiting_approval' ? (
        <p>
          Nothing has changed yet. A full rollback runs only once a different admin (with the permission “rollbacks.approve”) approves it in the list below. The point is
          checked again then.
        </p>
      ) : (
        <>
          <div className="progress" role="progressbar" aria-label="Rollback progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
            <div className="progress-bar" style={{ width: `${percent}%` }} />
          </div>
          <p className="muted small">
            {describeScope(rollback.scope)} · {contactsDone} of {plural(contactsTotal, 'contact')} done
            {rollback.startedAt && ` · started ${formatDateTime(rollback.startedAt)}`}
            {rollback.finishedAt && ` · finished ${formatDateTime(rollback.finishedAt)}`}
            {!finished && ' · you can leave this page; the rollback carries on.'}
          </p>
        </>
      )}
      {rollback.status === 'failed' && rollback.error && <p className="error-text">{rollback.error}. What it wrote before the failure stays, and can be undone.</p>}
      {rollback.status === 'succeeded' && (
        <p>
          Done. Contacts created after the point are in the recycle bin (<Link to="/restore/deleted">Restore contacts</Link>).{' '}
          {rollback.resumeAutomations ? 'Paused automations of revived contacts resume where they stopped.' : 'No automation ran and nothing was sent.'} You can undo this
          rollback from the list below.
        </p>
      )}
      {finished && rollback.counts && <RollbackCountsTable counts={rollback.counts} full={rollback.scope.type === 'workspace'} undo={rollback.undoOf !== null} />}
      {finished && <SkippedContactsTable skipped={rollback.skipped} labels={labels} reasons={skipReasonText} />}
    </div>
  );
}
