import { useState, type FormEvent, type ReactNode } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { answer, type Snapshot, type SnapshotSettings } from '../api';
import { Dialog } from '../components/Dialog';
import { ErrorNotice, Notice } from '../components/Notice';
import { EmptyRow, Pager, usePagedQuery } from '../components/Pager';
import { backupOutcome, useCreateBackup } from '../backups';
import { formatDate, snapshotKindText } from '../format';
import { useUserNames } from '../lookups';
import { formatPoint } from '../rollback';
import { Link } from '../router';
import { useSession } from '../session';

/**
 * Snapshots (seed 003's schedule, self-serve): retained points in time a rollback can go
 * back to once they are older than the recent window. Take one by hand before a risky
 * import; delete one; change how long each kind is kept.
 */
export function SnapshotsPage() {
  const { api, can, limits } = useSession();
  const queryClient = useQueryClient();
  const person = useUserNames();
  const mayManage = can('snapshots.manage');
  const mayRollBack = can('rollbacks.request');
  const snapshots = usePagedQuery('/api/v1/snapshots', {});
  const [label, setLabel] = useState('');
  const [news, setNews] = useState<ReactNode>(null);
  const [deleting, setDeleting] = useState<Snapshot | null>(null);
  const refresh = () => queryClient.invalidateQueries({ predicate: (q) => (q.queryKey[0] === 'page' && q.queryKey[1] === '/api/v1/snapshots') || q.queryKey[0] === 'snapshots' });

  const take = useMutation({
    mutationFn: () => answer(api.POST('/api/v1/snapshots', { body: label.trim() ? { label: label.trim() } : {} })),
    onSuccess: async (snapshot) => {
      setLabel('');
      setNews(`Snapshot taken at ${formatPoint(snapshot.takenAt)}${snapshot.label ? ` (“${snapshot.label}”)` : ''}. It is kept until ${formatDate(snapshot.expiresAt)} unless deleted.`);
      await refresh();
    },
  });
  const backUp = useCreateBackup((backup) =>
    setNews(
      <>
        {backupOutcome(backup)} <Link to="/backups">See it in Backups</Link>.
      </>,
    ),
  );
  const remove = useMutation({
    mutationFn: (id: string) => answer(api.DELETE('/api/v1/snapshots/{id}', { params: { path: { id } } })),
    onSuccess: async () => {
      setNews(deleting ? `Deleted the snapshot of ${formatPoint(deleting.takenAt)}.` : 'Deleted the snapshot.');
      setDeleting(null);
      await refresh();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    take.mutate();
  };

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Snapshots</h1>
          <p className="muted">
            Points in time kept for rollback beyond the recent window: hourly, Saturdays and month ends by the schedule below, and any you take. A snapshot copies nothing; it
            keeps the history needed to go back to that exact moment.
          </p>
        </div>
        {mayManage && (
          <form className="page-actions take-snapshot" onSubmit={submit}>
            <input value={label} onChange={(event) => setLabel(event.target.value)} placeholder="Label (optional)" aria-label="Snapshot label" maxLength={limits.snapshotLabelLength} />
            <button type="submit" className="button primary" disabled={take.isPending}>
              {take.isPending ? 'Taking…' : 'Take snapshot'}
            </button>
          </form>
        )}
      </header>
      {news && (
        <Notice tone="success" onDismiss={() => setNews(null)}>
          {news}
        </Notice>
      )}
      <ErrorNotice error={take.error} onDismiss={take.reset} />
      <ErrorNotice error={backUp.error} onDismiss={backUp.reset} />
      <ErrorNotice error={snapshots.error} />

      <div className="card">
        <table className="table" aria-label="Snapshots">
          <thead>
            <tr>
              <th>Taken</th>
              <th>Kind</th>
              <th>Label</th>
              <th>Kept until</th>
              <th>Taken by</th>
              {(mayRollBack || mayManage) && <th className="actions" aria-label="Actions" />}
            </tr>
          </thead>
          <tbody>
            {snapshots.rows.map((s) => (
              <tr key={s.id} data-testid="snapshot-row">
                <td className="date">{formatPoint(s.takenAt)}</td>
                <td>
                  <span className={`badge kind-${s.kind}`}>{snapshotKindText[s.kind]}</span>
                </td>
                <td>{s.label ?? <span className="muted">—</span>}</td>
                <td className="date">{formatDate(s.expiresAt)}</td>
                <td>{s.createdBy ? person(s.createdBy) : <span className="muted">Schedule</span>}</td>
                {(mayRollBack || mayManage) && (
                  <td className="actions nowrap">
                    {mayRollBack && (
                      <Link to={`/rollback?at=${encodeURIComponent(s.takenAt)}`} className="button secondary small">
                        Roll back to this
                      </Link>
                    )}{' '}
                    {mayManage && (
                      <button
                        type="button"
                        className="button secondary small"
                        disabled={backUp.isPending}
                        onClick={() => backUp.mutate(s.id)}
                        aria-label={`Back up the snapshot of ${formatPoint(s.takenAt)}`}
                      >
                        {backUp.isPending && backUp.variables === s.id ? 'Backing up…' : 'Back up'}
                      </button>
                    )}{' '}
                    {mayManage && (
                      <button type="button" className="button ghost small" onClick={() => setDeleting(s)} aria-label={`Delete the snapshot of ${formatPoint(s.takenAt)}`}>
                        Delete
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
            {snapshots.empty && <EmptyRow columns={mayRollBack || mayManage ? 6 : 5}>No snapshot is retained yet.</EmptyRow>}
          </tbody>
        </table>
        <Pager {...snapshots.pager} />
      </div>

      <ScheduleSettings />

      {deleting && (
        <Dialog
          title="Delete this snapshot?"
          confirmLabel="Delete snapshot"
          tone="danger"
          busy={remove.isPending}
          onConfirm={() => remove.mutate(deleting.id)}
          onCancel={() => {
            setDeleting(null);
            remove.reset();
          }}
        >
          <p>
            The {deleting.kind} snapshot of <strong>{formatPoint(deleting.takenAt)}</strong>
            {deleting.label ? ` (“${deleting.label}”)` : ''} will be gone. Once it is older than the recent window, that moment can then no longer be rolled back to, and the
            history only it kept may be compacted. Contacts and their data are not touched.
          </p>
          {deleting.kind !== 'manual' && <p className="muted">The schedule does not take it again.</p>}
          <ErrorNotice error={remove.error} />
        </Dialog>
      )}
    </section>
  );
}

/** The snapshot schedule (GET/PATCH /snapshots/settings): each kind on or off and how long it is kept. */
function ScheduleSettings() {
  const { api, can, limits } = useSession();
  const queryClient = useQueryClient();
  const mayManage = can('snapshots.manage');
  const settings = useQuery({ queryKey: ['snapshots', 'settings'], queryFn: () => answer(api.GET('/api/v1/snapshots/settings')) });
  const [draft, setDraft] = useState<SnapshotSettings | null>(null);
  const [saved, setSaved] = useState(false);
  const shown = draft ?? settings.data;
  const save = useMutation({
    mutationFn: (next: SnapshotSettings) => answer(api.PATCH('/api/v1/snapshots/settings', { body: next })),
    onSuccess: async (next) => {
      queryClient.setQueryData(['snapshots', 'settings'], next);
      setDraft(null);
      setSaved(true);
      await queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] === 'page' && q.queryKey[1] === '/api/v1/snapshots' });
    },
  });
  const edit = (next: SnapshotSettings) => {
    setSaved(false);
    setDraft(next);
  };
  if (!shown) return <ErrorNotice error={settings.error} />;
  const rows: { kind: keyof SnapshotSettings; label: string; when: string; unit: 'hours' | 'days' }[] = [
    { kind: 'hourly', label: 'Hourly', when: 'every full hour', unit: 'hours' },
    { kind: 'weekly', label: 'Weekly', when: 'Saturdays at 00:00 UTC', unit: 'days' },
    { kind: 'monthly', label: 'Monthly', when: 'month ends (00:00 UTC on the 1st)', unit: 'days' },
  ];
  const keepOf = (kind: keyof SnapshotSettings): number => {
    const section = shown[kind];
    return 'keepHours' in section ? section.keepHours : section.keepDays;
  };
  const withKeep = (kind: keyof SnapshotSettings, value: number): SnapshotSettings =>
    kind === 'hourly' ? { ...shown, hourly: { ...shown.hourly, keepHours: value } } : { ...shown, [kind]: { ...shown[kind], keepDays: value } };

  return (
    <form
      className="card pad settings"
      aria-label="Snapshot schedule"
      onSubmit={(event) => {
        event.preventDefault();
        if (draft) save.mutate(draft);
      }}
    >
      <h2>Schedule</h2>
      <table className="table compact">
        <thead>
          <tr>
            <th>Snapshot</th>
            <th>Taken</th>
            <th>On</th>
            <th>Kept for</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ kind, label, when, unit }) => (
            <tr key={kind}>
              <td>{label}</td>
              <td className="muted">{when}</td>
              <td>
                <input
                  type="checkbox"
                  aria-label={`${label} snapshots on`}
                  checked={shown[kind].enabled}
                  disabled={!mayManage}
                  onChange={(event) => edit({ ...shown, [kind]: { ...shown[kind], enabled: event.target.checked } })}
                />
              </td>
              <td>
                <input
                  type="number"
                  className="number"
                  aria-label={`Keep ${label.toLowerCase()} snapshots for (${unit})`}
                  min={1}
                  max={unit === 'hours' ? limits.snapshotKeepHours : limits.snapshotKeepDays}
                  value={keepOf(kind)}
                  disabled={!mayManage}
                  onChange={(event) => edit(withKeep(kind, Math.trunc(Number(event.target.value))))}
                />{' '}
                {unit}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small">A new keep also moves when that kind’s existing snapshots expire; turning a kind off takes no new ones and lets the existing ones expire.</p>
      {mayManage && (
        <div className="page-actions">
          <button type="submit" className="button primary" disabled={!draft || save.isPending}>
            {save.isPending ? 'Saving…' : 'Save schedule'}
          </button>
          {draft && (
            <button type="button" className="button ghost" onClick={() => setDraft(null)}>
              Discard changes
            </button>
          )}
          {saved && !draft && <span className="muted small" role="status">Schedule saved.</span>}
        </div>
      )}
      <ErrorNotice error={save.error} onDismiss={save.reset} />
    </form>
  );
}
