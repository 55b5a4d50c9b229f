import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { answer } from '../api';
import { ErrorNotice, Notice } from '../components/Notice';
import { EmptyRow, Pager, usePagedQuery } from '../components/Pager';
import { useDebounced } from '../components/Search';
import { dayBoundary, formatDateTime, plural } from '../format';
import { useUserNames } from '../lookups';
import { Link } from '../router';
import { useSession } from '../session';

/** Actions the server writes, suggested by the filter (which takes any action name). */
const knownActions = [
  'contact.created', 'contact.updated', 'contact.deleted', 'contact.archived', 'contact.restored', 'contact.merged', 'contact.erased', 'contact.purged',
  'contact.tagged', 'contact.untagged', 'restore_job.created', 'list.created', 'list.deleted', 'list_membership.set', 'account.created', 'account.deleted',
  'account_contact.set', 'deal.created', 'deal.deleted', 'tag.created', 'tag.deleted', 'user.created', 'role.created', 'workspace.created', 'maintenance.run',
  'automation.created', 'form.created', 'form.submitted', 'rollback.approved', 'rollback.completed', 'snapshot.created',
  // The bin of deleted objects (issue 18): deletes, restores and purges of each kind.
  'list.restored', 'list.purged', 'account.restored', 'account.purged', 'deal.restored', 'deal.purged', 'tag.restored', 'tag.purged',
  'form.deleted', 'form.restored', 'form.purged', 'automation.paused', 'automation.resumed', 'automation.deleted', 'automation.restored', 'automation.purged',
];

/** The audit log with its filters, and whether its hash chain is whole. */
export function AuditLogPage() {
  const { api } = useSession();
  const person = useUserNames();
  const [action, setAction] = useState('');
  const [actorId, setActorId] = useState('');
  const [targetId, setTargetId] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const filter = { action: useDebounced(action.trim()), actorId: useDebounced(actorId.trim()), targetId: useDebounced(targetId.trim()), from: dayBoundary(from, false), to: dayBoundary(to, true) };
  const entries = usePagedQuery('/api/v1/audit-log', filter);
  const verdict = useQuery({ queryKey: ['audit-log', 'verify'], queryFn: () => answer(api.GET('/api/v1/audit-log/verify')) });
  const rows = entries.rows;

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Audit log</h1>
          <p className="muted">Every change, newest first. Each entry holds the hash of the one before it, so a removed or edited entry shows.</p>
        </div>
        <div className="page-actions">
          <button type="button" className="button secondary" onClick={() => void verdict.refetch()} disabled={verdict.isFetching}>
            {verdict.isFetching ? 'Verifying…' : 'Verify again'}
          </button>
        </div>
      </header>
      <ErrorNotice error={verdict.error} />
      {verdict.data?.ok === true && (
        <Notice tone="success">
          <span data-testid="chain">Chain verified: all {plural(verdict.data.entries, 'entry', 'entries')} are intact.</span>
        </Notice>
      )}
      {verdict.data?.ok === false && (
        <Notice tone="error">
          <span data-testid="chain">
            Chain broken at entry {verdict.data.brokenAt} (of {plural(verdict.data.entries, 'entry', 'entries')}): it, or the one before it, was changed or removed outside
            Retrace.
          </span>
        </Notice>
      )}
      <div className="toolbar filters">
        <label className="date-field">
          Action
          <input list="audit-actions" value={action} onChange={(event) => setAction(event.target.value)} placeholder="any action" aria-label="Action" />
          <datalist id="audit-actions">
            {knownActions.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        <label className="date-field">
          Actor id
          <input value={actorId} onChange={(event) => setActorId(event.target.value)} placeholder="user id" aria-label="Actor id" />
        </label>
        <label className="date-field">
          Target id
          <input value={targetId} onChange={(event) => setTargetId(event.target.value)} placeholder="contact, list, job… id" aria-label="Target id" />
        </label>
        <label className="date-field">
          From
          <input type="date" value={from} onChange={(event) => setFrom(event.target.value)} aria-label="From" />
        </label>
        <label className="date-field">
          to
          <input type="date" value={to} onChange={(event) => setTo(event.target.value)} aria-label="To" />
        </label>
      </div>
      <ErrorNotice error={entries.error} />
      <div className="card">
        <table className="table">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Action</th>
              <th>Target</th>
              <th>Details</th>
              <th>Hash</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((entry) => (
              <tr key={entry.id} className={verdict.data?.ok === false && verdict.data.brokenAt === entry.id ? 'broken' : undefined}>
                <td className="nowrap">{formatDateTime(entry.at)}</td>
                <td>
                  {entry.actorId ? (
                    <button type="button" className="link-button" title="Show only this actor" onClick={() => setActorId(entry.actorId ?? '')}>
                      {person(entry.actorId)}
                    </button>
                  ) : (
                    person(null)
                  )}
                </td>
                <td>
                  <code>{entry.action}</code>
                </td>
                <td>
                  {entry.targetType}{' '}
                  {entry.targetId &&
                    (entry.targetType === 'contact' ? (
                      <Link to={`/contacts/${encodeURIComponent(entry.targetId)}`}>{entry.targetId.slice(0, 8)}</Link>
                    ) : (
                      <span className="muted">{entry.targetId.slice(0, 8)}</span>
                    ))}
                </td>
                <td className="details-cell">
                  <code>{Object.keys(entry.details ?? {}).length ? JSON.stringify(entry.details) : ''}</code>
                </td>
                <td>
                  <code className="hash" title={entry.hash}>
                    {entry.hash.slice(0, 10)}
                  </code>
                </td>
              </tr>
            ))}
            {entries.empty && <EmptyRow columns={6}>No entry matches these filters.</EmptyRow>}
          </tbody>
        </table>
        <Pager {...entries.pager} />
      </div>
    </section>
  );
}
