import { useState, type ReactNode } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { answer, type Backup, type BackupSchedule } from '../api';
import { backupContacts, backupOutcome, useBackupSnapshots, useCreateBackup } from '../backups';
import { Dialog } from '../components/Dialog';
import { ErrorNotice, Notice } from '../components/Notice';
import { EmptyRow, Pager, usePagedQuery } from '../components/Pager';
import { formatBytes, snapshotKindText } from '../format';
import { formatPoint } from '../rollback';
import { useSession } from '../session';

type News = { tone: 'success' | 'warning'; text: string };

/**
 * Backups (docs/API-additions.md, "Backups"): the workspace as of a snapshot, exported to
 * the backup store for disaster recovery. Every route needs snapshots.manage, reading too
 * (a backup holds the whole workspace), so the page is shown only to those who hold it.
 */
export function BackupsPage() {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const backups = usePagedQuery('/api/v1/backups', {});
  const snapshots = useBackupSnapshots(backups.rows.map((b) => b.snapshotId));
  const [news, setNews] = useState<News | null>(null);
  const [deleting, setDeleting] = useState<Backup | null>(null);
  const refresh = () => queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] === 'page' && q.queryKey[1] === '/api/v1/backups' });

  const create = useCreateBackup((backup) => setNews({ tone: backup.status === 'failed' ? 'warning' : 'success', text: backupOutcome(backup) }));
  const verify = useMutation({
    mutationFn: (id: string) => answer(api.POST('/api/v1/backups/{id}/verify', { params: { path: { id } } })),
    onSuccess: async (backup) => {
      setNews(
        backup.status === 'verified'
          ? { tone: 'success', text: `The backup of ${formatPoint(backup.takenAt)} is intact: verified again at ${formatPoint(backup.verifiedAt ?? backup.createdAt)}.` }
          : { tone: 'warning', text: `The backup of ${formatPoint(backup.takenAt)} failed verification: ${backup.error ?? 'no reason given'}.` },
      );
      await refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => answer(api.DELETE('/api/v1/backups/{id}', { params: { path: { id } } })),
    onSuccess: async () => {
      setNews({ tone: 'success', text: deleting ? `Deleted the backup of ${formatPoint(deleting.takenAt)}.` : 'Deleted the backup.' });
      setDeleting(null);
      await refresh();
    },
  });

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Backups</h1>
          <p className="muted">
            A backup is the workspace as of a snapshot, copied out to the backup store; it can be restored into an empty database with <code>retrace backup restore</code>,
            without the people erased or purged since.
          </p>
        </div>
        <div className="page-actions">
          <button type="button" className="button primary" disabled={create.isPending} onClick={() => create.mutate(null)}>
            {create.isPending ? 'Backing up…' : 'Back up now'}
          </button>
        </div>
      </header>
      {create.isPending && (
        <Notice tone="info">Taking a snapshot, writing the workspace as of it to the backup store, then reading the file back to verify it. The larger the workspace, the longer this takes.</Notice>
      )}
      {news && (
        <Notice tone={news.tone} onDismiss={() => setNews(null)}>
          {news.text}
        </Notice>
      )}
      <ErrorNotice error={create.error} onDismiss={create.reset} />
      <ErrorNotice error={verify.error} onDismiss={verify.reset} />
      <ErrorNotice error={backups.error} />

      <BackupScheduleCard onSaved={(text) => setNews({ tone: 'success', text })} />

      <div className="card">
        <table className="table backups" aria-label="Backups">
          <thead>
            <tr>
              <th>Taken</th>
              <th>Snapshot</th>
              <th>Size</th>
              <th title="Every contact in the backup, those in the recycle bin and archived included">Contacts</th>
              <th>Status</th>
              <th className="actions" aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {backups.rows.map((b) => {
              const snapshot = snapshots.get(b.snapshotId);
              const verifying = verify.isPending && verify.variables === b.id;
              return (
                <tr key={b.id} data-testid="backup-row">
                  <td className="date" title={b.fileName}>
                    {formatPoint(b.takenAt)}
                  </td>
                  <td>
                    {snapshot === undefined ? (
                      <span className="muted">…</span>
                    ) : snapshot === null ? (
                      <span className="muted">No longer retained</span>
                    ) : (
                      <>
                        <span className={`badge kind-${snapshot.kind}`}>{snapshotKindText[snapshot.kind]}</span>
                        {snapshot.label && <div className="muted small">{snapshot.label}</div>}
                      </>
                    )}
                  </td>
                  <td className="nowrap" title={`SHA-256 ${b.sha256}`}>
                    {formatBytes(b.byteSize)}
                  </td>
                  <td>{backupContacts(b).toLocaleString('en-US')}</td>
                  <td data-testid="backup-status">
                    <BackupStatus backup={b} />
                  </td>
                  <td className="actions nowrap">
                    <button type="button" className="button secondary small" disabled={verify.isPending} onClick={() => verify.mutate(b.id)} aria-label={`Verify the backup of ${formatPoint(b.takenAt)} again`}>
                      {verifying ? 'Verifying…' : 'Verify again'}
                    </button>{' '}
                    <button type="button" className="button ghost small" onClick={() => setDeleting(b)} aria-label={`Delete the backup of ${formatPoint(b.takenAt)}`}>
                      Delete
                    </button>
                  </td>
                </tr>
              );
            })}
            {backups.empty && <EmptyRow columns={6}>No backup yet.</EmptyRow>}
          </tbody>
        </table>
        <Pager {...backups.pager} />
      </div>

      {deleting && (
        <Dialog
          title="Delete this backup?"
          confirmLabel="Delete backup"
          tone="danger"
          busy={remove.isPending}
          onConfirm={() => remove.mutate(deleting.id)}
          onCancel={() => {
            setDeleting(null);
            remove.reset();
          }}
        >
          <p>
            The backup of <strong>{formatPoint(deleting.takenAt)}</strong> leaves the backup store, and it can no longer be restored. The snapshot it was made from, other
            backups and the workspace itself are not touched.
          </p>
          <ErrorNotice error={remove.error} />
        </Dialog>
      )}
    </section>
  );
}

type ExportKind = BackupSchedule['export'];

const exportChoices: { value: ExportKind; label: string }[] = [
  { value: 'off', label: 'Off: only backups made here or by the CLI' },
  { value: 'hourly', label: 'Every hourly snapshot' },
  { value: 'weekly', label: 'Every weekly snapshot (Saturdays)' },
  { value: 'monthly', label: 'Every monthly snapshot (month ends)' },
];

const keepChoices: { value: number | null; label: string }[] = [
  { value: null, label: 'All of them, until deleted here' },
  { value: 7, label: 'The newest 7' },
  { value: 30, label: 'The newest 30' },
  { value: 90, label: 'The newest 90' },
];

/** The choices, with the current number kept among them when it was set another way (the API takes any from 1 to GET /limits' backupsKept). */
function withCurrent(choices: { value: number | null; label: string }[], keep: number | null): { value: number | null; label: string }[] {
  return choices.some((choice) => choice.value === keep) ? choices : [...choices, { value: keep, label: `The newest ${keep}` }];
}

/** Scheduled backups: the kind of scheduled snapshot the maintenance pass exports on its own, and how many it keeps. */
function BackupScheduleCard({ onSaved }: { onSaved: (text: string) => void }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const schedule = useQuery({ queryKey: ['backup-schedule'], queryFn: () => answer(api.GET('/api/v1/backups/schedule')) });
  const save = useMutation({
    mutationFn: (next: BackupSchedule) => answer(api.PUT('/api/v1/backups/schedule', { body: next })),
    onSuccess: async (saved) => {
      queryClient.setQueryData(['backup-schedule'], saved);
      onSaved(
        saved.export === 'off'
          ? 'Scheduled backups are off: backups are made only when asked.'
          : `From the next maintenance pass on, the newest ${saved.export} snapshot is exported to the backup store on its own, and verified; ${
              saved.keep === null ? 'every one is kept until deleted here' : `only the newest ${saved.keep} so made are kept`
            }.`,
      );
    },
  });
  const current = schedule.data;
  return (
    <div className="card">
      <label className="field">
        <span>Back up on its own</span>
        <select
          aria-label="Back up on its own"
          value={current?.export ?? 'off'}
          disabled={!current || save.isPending}
          onChange={(event) => current && save.mutate({ ...current, export: event.target.value as ExportKind })}
        >
          {exportChoices.map((choice) => (
            <option key={choice.value} value={choice.value}>
              {choice.label}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Scheduled backups kept</span>
        <select
          aria-label="Scheduled backups kept"
          value={String(current?.keep ?? 'all')}
          disabled={!current || save.isPending}
          onChange={(event) => current && save.mutate({ ...current, keep: event.target.value === 'all' ? null : Number(event.target.value) })}
        >
          {withCurrent(keepChoices, current?.keep ?? null).map((choice) => (
            <option key={String(choice.value ?? 'all')} value={String(choice.value ?? 'all')}>
              {choice.label}
            </option>
          ))}
        </select>
      </label>
      <p className="muted small">
        Each new snapshot of that kind goes to the backup store and is verified. Beyond the number kept, the oldest scheduled backups are deleted; backups made
        here or by the CLI stay until deleted here.
      </p>
      <ErrorNotice error={schedule.error ?? save.error} onDismiss={save.reset} />
    </div>
  );
}

/** Verified with when, failed with why, or not verified yet (its verification did not finish). */
function BackupStatus({ backup }: { backup: Backup }): ReactNode {
  if (backup.status === 'verified') {
    return (
      <>
        <span className="badge backup-verified">Verified</span>
        {backup.verifiedAt && <div className="muted small">{formatPoint(backup.verifiedAt)}</div>}
      </>
    );
  }
  if (backup.status === 'failed') {
    return (
      <>
        <span className="badge backup-failed">Failed</span>
        <div className="error-text small">{backup.error ?? 'No reason given'}</div>
      </>
    );
  }
  return <span className="badge backup-exported">Not verified yet</span>;
}
