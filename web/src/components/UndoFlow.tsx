import { useEffect, useId, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { answer } from '../api';
import type { OnConflict, UndoCause, UndoConflict } from '../activity';
import { formatDateTime, plural } from '../format';
import { useContactLabels, useUserNames } from '../lookups';
import { fieldLabel, formatValue, isFinishedRollback, skipReasonText } from '../rollback';
import { useSession } from '../session';
import { useEscape } from './Dialog';
import { ErrorNotice } from './Notice';
import { RollbackCountsTable, RollbackSampleList } from './RollbackFigures';
import { SkippedContactsTable } from './SkippedContacts';

/** The conflicts an undo meets: what the cause wrote, what is there now, who changed it since and when. */
export function ConflictsTable({ conflicts, total, labels }: { conflicts: UndoConflict[]; total: number; labels: Map<string, string> }) {
  const person = useUserNames();
  if (conflicts.length === 0) return <p className="muted small">No conflicts: nobody changed these records since.</p>;
  return (
    <>
      <p className="small">
        {plural(total, 'conflict')}: {total > conflicts.length ? `the first ${conflicts.length} are listed` : 'someone changed these since'}.
      </p>
      <table className="table compact" aria-label="Conflicts">
        <thead>
          <tr>
            <th>Contact</th>
            <th>Field</th>
            <th>The cause wrote</th>
            <th>Now (later value)</th>
            <th>Changed by</th>
            <th>When</th>
          </tr>
        </thead>
        <tbody>
          {conflicts.map((c, i) => (
            <tr key={`${c.contactId}-${c.field}-${i}`} data-testid="conflict">
              <td>{c.contactId ? (labels.get(c.contactId) ?? c.contactId.slice(0, 8)) : (c.record?.kind ?? '—')}</td>
              <td>{c.field === '*' ? 'The whole record' : fieldLabel(c.field)}</td>
              <td>{formatValue(c.field, c.causeValue)}</td>
              <td>{formatValue(c.field, c.laterValue)}</td>
              <td>{person(c.laterBy)}</td>
              <td className="date">{formatDateTime(c.laterAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

const statusWords: Record<string, string> = {
  awaiting_approval: 'Waiting for a second admin to approve',
  queued: 'Queued',
  running: 'Undoing…',
  succeeded: 'Undone',
  failed: 'The undo failed',
};

/**
 * Undo one cause: its preview (what comes back, what is set back, what goes to the
 * recycle bin, the conflicts and a sample), the choice between keeping later changes by
 * others and undoing anyway, then the run, followed until it ends (GET /undos/:id).
 * The Activity and Imports pages open it the same way.
 */
export function UndoFlow({ cause, title, onClose }: { cause: UndoCause; title: string; onClose: () => void }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const titleId = useId();
  const [onConflict, setOnConflict] = useState<OnConflict>('keep_later');
  const [undoId, setUndoId] = useState<string | null>(null);

  const preview = useQuery({
    queryKey: ['undo-preview', cause, onConflict],
    queryFn: () => answer(api.POST('/api/v1/undos/preview', { body: { cause, onConflict } })),
    enabled: undoId === null,
    staleTime: Infinity,
  });
  const run = useMutation({
    mutationFn: () => answer(api.POST('/api/v1/undos', { body: { cause, onConflict } })),
    onSuccess: (undo) => setUndoId(undo.id),
  });
  const undo = useQuery({
    queryKey: ['undo', undoId],
    queryFn: () => answer(api.GET('/api/v1/undos/{id}', { params: { path: { id: undoId ?? '' } } })),
    enabled: undoId !== null,
    refetchInterval: (query) => (isFinishedRollback(query.state.data?.status) ? false : 500),
  });
  const finished = isFinishedRollback(undo.data?.status);
  useEffect(() => {
    // What came back shows everywhere: refetch all but this undo.
    if (finished) void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== 'undo' && q.queryKey[0] !== 'undo-preview' });
  }, [finished, queryClient]);

  const shown = undo.data ?? preview.data;
  const conflicts = shown?.conflicts ?? [];
  const labels = useContactLabels([...new Set([...conflicts.flatMap((c) => (c.contactId ? [c.contactId] : [])), ...(preview.data?.sample ?? []).map((s) => s.contactId)])].slice(0, 60));
  const busy = run.isPending || (undoId !== null && !finished);

  useEscape(busy, onClose);

  const progress = undo.data?.progress;
  const percent = progress ? (progress.contactsTotal === 0 ? (finished ? 100 : 0) : Math.round((progress.contactsDone / progress.contactsTotal) * 100)) : 0;

  return (
    <div className="backdrop">
      <div className="dialog wide-dialog" role="dialog" aria-modal="true" aria-labelledby={titleId} data-testid="undo-flow">
        <header className="dialog-header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon-button" aria-label="Close" onClick={onClose} disabled={busy}>
            ×
          </button>
        </header>
        <div className="dialog-body stack">
          {undoId === null ? (
            <>
              <p className="muted small">
                Undo reverts exactly what this cause did, field by field, and nothing else. Contacts it created go to the recycle bin; contacts it deleted come back with
                their lists, accounts, deals and tags. It sends nothing and runs no automation, and it can itself be undone.
              </p>
              <ErrorNotice error={preview.error ?? run.error} />
              {preview.isFetching && !preview.data && <p className="muted">Working out what the undo does…</p>}
              {preview.data && (
                <>
                  <RollbackCountsTable counts={preview.data.counts} full={false} undo />
                  <fieldset className="conflict-choice">
                    <legend>When someone changed a record since</legend>
                    <label className="checkbox-line tight">
                      <input type="radio" name="onConflict" checked={onConflict === 'keep_later'} onChange={() => setOnConflict('keep_later')} />
                      <span>
                        <strong>Keep later changes</strong> <span className="muted">— their work stays; the conflict is listed</span>
                      </span>
                    </label>
                    <label className="checkbox-line tight">
                      <input type="radio" name="onConflict" checked={onConflict === 'undo_anyway'} onChange={() => setOnConflict('undo_anyway')} />
                      <span>
                        <strong>Undo anyway</strong> <span className="muted">— the cause's changes are reverted over theirs</span>
                      </span>
                    </label>
                  </fieldset>
                  <ConflictsTable conflicts={preview.data.conflicts} total={preview.data.conflictCount} labels={labels} />
                  <SkippedContactsTable skipped={preview.data.skipped} labels={labels} reasons={skipReasonText} />
                  {preview.data.sample.length > 0 && (
                    <details>
                      <summary>A sample of what changes ({plural(preview.data.sample.length, 'contact')})</summary>
                      <RollbackSampleList sample={preview.data.sample} labels={labels} />
                    </details>
                  )}
                </>
              )}
            </>
          ) : (
            <div className={`job ${undo.data?.status ?? 'queued'}`} data-testid="undo-job">
              <ErrorNotice error={undo.error} />
              <p className="undo-status" data-testid="undo-status">{statusWords[undo.data?.status ?? 'queued'] ?? undo.data?.status}</p>
              <div className="progress" role="progressbar" aria-label="Undo progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
                <div className="progress-bar" style={{ width: `${percent}%` }} />
              </div>
              {progress && (
                <p className="muted small">
                  {progress.contactsDone} of {plural(progress.contactsTotal, 'contact')} done{undo.data?.finishedAt && ` · finished ${formatDateTime(undo.data.finishedAt)}`}
                  {!finished && ' · you can close this; the undo carries on.'}
                </p>
              )}
              {undo.data?.error && <p className="error-text">{undo.data.error}</p>}
              {undo.data?.counts && finished && <RollbackCountsTable counts={undo.data.counts} full={false} undo />}
              {finished && undo.data && <ConflictsTable conflicts={undo.data.conflicts} total={undo.data.conflictCount} labels={labels} />}
            </div>
          )}
        </div>
        <footer className="dialog-footer">
          {undoId === null ? (
            <>
              <button type="button" className="button secondary" onClick={onClose} disabled={run.isPending}>
                Cancel
              </button>
              <button type="button" className="button warning" onClick={() => run.mutate()} disabled={!preview.data || preview.isFetching || run.isPending}>
                {run.isPending ? 'Starting…' : onConflict === 'keep_later' ? 'Undo, keeping later changes' : 'Undo anyway'}
              </button>
            </>
          ) : (
            <button type="button" className="button secondary" onClick={onClose}>
              {finished ? 'Done' : 'Close'}
            </button>
          )}
        </footer>
      </div>
    </div>
  );
}
