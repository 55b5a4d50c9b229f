import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { answer, type HeldDelete } from '../api';
import { Dialog } from '../components/Dialog';
import { ErrorNotice, Notice } from '../components/Notice';
import { EmptyRow, Pager, usePagedQuery } from '../components/Pager';
import { formatDateTime, plural } from '../format';
import { heldContents, heldOutcome, heldReason } from '../heldDeletes';
import { useUserNames, useWorkspace } from '../lookups';
import { useSession } from '../session';

type Decision = 'release' | 'reject' | 'undo';
type StatusFilter = HeldDelete['status'] | 'all';

const statusText: Record<HeldDelete['status'], string> = { pending: 'Held', released: 'Released', rejected: 'Rejected' };

/**
 * Held deletes (issue 18, point 3): what the mass-delete guard stopped, a user's or an
 * integration token's deletes and archives past the workspace's limit. An admin releases
 * them (they run as that user or token would have), or rejects them, with or without
 * undoing what it removed in the window.
 */
export function HeldDeletesPage() {
  const { api, can } = useSession();
  const queryClient = useQueryClient();
  const person = useUserNames();
  const retention = useWorkspace()?.retention;
  const [status, setStatus] = useState<StatusFilter>('pending');
  const held = usePagedQuery('/api/v1/held-deletes', status === 'all' ? {} : { status });
  const [deciding, setDeciding] = useState<{ held: HeldDelete; decision: Decision } | null>(null);
  const [news, setNews] = useState<string | null>(null);
  const mayUndo = can('contacts.restore');

  const decide = useMutation({
    mutationFn: ({ held, decision }: { held: HeldDelete; decision: Decision }) => {
      const path = { params: { path: { id: held.id } } };
      return decision === 'release'
        ? answer(api.POST('/api/v1/held-deletes/{id}/release', path))
        : answer(api.POST('/api/v1/held-deletes/{id}/reject', { ...path, body: { undo: decision === 'undo' } }));
    },
    onSuccess: async (decided) => {
      setNews(`${person(decided.actorId)}: ${heldOutcome(decided)}`);
      setDeciding(null);
      // Contacts, the recycle bin, the banner: all may have changed.
      await queryClient.invalidateQueries();
    },
  });
  const cancel = () => {
    setDeciding(null);
    decide.reset();
  };

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Held deletes</h1>
          <p className="muted">
            When one user or API token deletes or archives more contacts within a few minutes than the workspace allows, its further deletes and archives are held here
            instead of done, and admins are told. Release them if they were meant, or reject them, and undo what it already removed.
          </p>
        </div>
        <label className="page-actions">
          Show{' '}
          <select value={status} onChange={(event) => setStatus(event.target.value as StatusFilter)} aria-label="Show held deletes">
            <option value="pending">Waiting for a decision</option>
            <option value="all">All</option>
            <option value="released">Released</option>
            <option value="rejected">Rejected</option>
          </select>
        </label>
      </header>
      {news && (
        <Notice tone="success" onDismiss={() => setNews(null)}>
          {news}
        </Notice>
      )}
      <ErrorNotice error={held.error} />

      <div className="card">
        <table className="table" aria-label="Held deletes">
          <thead>
            <tr>
              <th>Held</th>
              <th>By</th>
              <th>Waiting</th>
              <th>Why</th>
              <th>Status</th>
              <th className="actions" aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {held.rows.map((h) => (
              <tr key={h.id} data-testid="held-row">
                <td className="date">{formatDateTime(h.heldAt)}</td>
                <td>
                  {person(h.actorId)}
                  {/* every request names its token; an integration's token is its own actor */}
                  {h.tokenId !== null && h.tokenId === h.actorId && <div className="muted">an integration's API token</div>}
                </td>
                <td>{heldContents(h)}</td>
                <td>{heldReason(h)}</td>
                <td>
                  <span className={`badge status-${h.status}`}>{statusText[h.status]}</span>
                  {h.decidedBy && (
                    <div className="muted">
                      {heldOutcome(h)} By {person(h.decidedBy)}, {formatDateTime(h.decidedAt)}.
                    </div>
                  )}
                </td>
                <td className="actions nowrap">
                  {h.status === 'pending' && (
                    <>
                      <button type="button" className="button secondary small" onClick={() => setDeciding({ held: h, decision: 'release' })}>
                        Release
                      </button>{' '}
                      <button type="button" className="button secondary small" onClick={() => setDeciding({ held: h, decision: 'reject' })}>
                        Reject
                      </button>{' '}
                      {mayUndo && (
                        <button type="button" className="button danger small" onClick={() => setDeciding({ held: h, decision: 'undo' })}>
                          Reject and undo
                        </button>
                      )}
                    </>
                  )}
                </td>
              </tr>
            ))}
            {held.empty && <EmptyRow columns={6}>{status === 'pending' ? 'Nothing is held: no one has gone over the mass-delete limit.' : 'No held deletes.'}</EmptyRow>}
          </tbody>
        </table>
        <Pager {...held.pager} />
      </div>

      {deciding && (
        <DecisionDialog
          held={deciding.held}
          decision={deciding.decision}
          who={person(deciding.held.actorId)}
          deletedDays={retention?.deletedDays}
          busy={decide.isPending}
          error={decide.error}
          onConfirm={() => decide.mutate(deciding)}
          onCancel={cancel}
        />
      )}
    </section>
  );
}

function DecisionDialog({ held, decision, who, deletedDays, busy, error, onConfirm, onCancel }: {
  held: HeldDelete;
  decision: Decision;
  who: string;
  deletedDays: number | undefined;
  busy: boolean;
  error: unknown;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const common = { busy, onConfirm, onCancel };
  if (decision === 'release') {
    return (
      <Dialog title="Release these deletes?" confirmLabel="Release" tone="warning" {...common}>
        <p>
          The held requests run now, as {who} asked them: {heldContents(held)}, those still as they were. Deleted contacts can be restored from Restore contacts
          {deletedDays === undefined ? '' : ` for ${plural(deletedDays, 'day')}`}.
        </p>
        <p className="muted">{who}’s count starts again from now: another {held.limit.toLocaleString('en-US')} within the window are held again.</p>
        <ErrorNotice error={error} />
      </Dialog>
    );
  }
  if (decision === 'reject') {
    return (
      <Dialog title="Reject these deletes?" confirmLabel="Reject" {...common}>
        <p>Nothing of it runs. What {who} deleted or archived before it was held stays as it is; reject and undo to bring that back.</p>
        <ErrorNotice error={error} />
      </Dialog>
    );
  }
  return (
    <Dialog title="Reject and undo?" confirmLabel="Reject and undo" tone="danger" {...common}>
      <p>
        Nothing of it runs, and what {who} deleted or archived since {formatDateTime(held.windowFrom)} ({plural(held.deletedInWindow, 'contact')} when it was held) comes
        back as active contacts, with their lists, accounts, deals and tags. Archived ones come back too, although they are within their freeze.
      </p>
      <p className="muted">Their automations stay paused, and nothing is sent. Contacts someone else removed since, or whose email is taken, are left as they are.</p>
      <ErrorNotice error={error} />
    </Dialog>
  );
}
