import { useEffect, useState } from 'react';
import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { answer, getPage, type Contact, type ContactStatus, type Rollback, type RollbackPreview, type RollbackScope } from '../api';
import { Dialog } from '../components/Dialog';
import { ErrorNotice, Notice } from '../components/Notice';
import { EmptyRow, Pager, usePagedQuery } from '../components/Pager';
import { PointPicker } from '../components/PointPicker';
import { ActivityChart } from '../components/ActivityChart';
import { bucketFor } from '../activity';
import { RollbackCountsTable, RollbackSampleList } from '../components/RollbackFigures';
import { SkippedContactsTable } from '../components/SkippedContacts';
import { RollbackPanel } from '../components/RollbackPanel';
import { SearchBox, useDebounced } from '../components/Search';
import { contactName, formatDateTime, plural } from '../format';
import { useContactLabels, useUserNames } from '../lookups';
import { contactsSummary, describeRollbackError, describeScope, formatPoint, isFinishedRollback, nearestPoints, skipReasonText, statusText } from '../rollback';
import { useSession } from '../session';
import { Link } from '../router';

type ScopeType = RollbackScope['type'];

/** The pages of the rollback list, read again after a rollback is requested, approved or undone. */
const invalidateRollbacks = (queryClient: QueryClient) => queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] === 'page' && q.queryKey[1] === '/api/v1/rollbacks' });

/** A failed rollback call in plain words; for a point no longer recoverable, the nearest points as buttons. */
function RollbackError({ error, onPick, onDismiss }: { error: unknown; onPick?: (at: string) => void; onDismiss?: () => void }) {
  if (!error) return null;
  const nearest = nearestPoints(error);
  return (
    <Notice tone="error" onDismiss={onDismiss}>
      <span data-testid="rollback-error">{describeRollbackError(error)}</span>
      {onPick && nearest.length > 0 && (
        <span className="nearest">
          {nearest.map((t) => (
            <button key={t} type="button" className="button secondary small" onClick={() => onPick(t)}>
              Use {formatPoint(t)}
            </button>
          ))}
        </span>
      )}
    </Notice>
  );
}

/** Search contacts by name or email (any status) and pick those to roll back. */
function ContactScopePicker({ picked, onChange }: { picked: Map<string, Contact>; onChange: (next: Map<string, Contact>) => void }) {
  const { api } = useSession();
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState<ContactStatus>('active');
  const q = useDebounced(search.trim());
  const found = useQuery({
    queryKey: ['page', '/api/v1/contacts', { q, status }, 10],
    queryFn: () => getPage(api, '/api/v1/contacts', { query: { q, status, limit: 10 } }),
    enabled: q.length > 0,
  });
  const toggle = (contact: Contact) => {
    const next = new Map(picked);
    if (next.has(contact.id)) next.delete(contact.id);
    else next.set(contact.id, contact);
    onChange(next);
  };
  return (
    <div className="scope-picker">
      <div className="toolbar">
        <SearchBox value={search} onChange={setSearch} placeholder="Search contacts by name or email" />
        <label className="date-field">
          Status
          <select value={status} onChange={(event) => setStatus(event.target.value as ContactStatus)} aria-label="Contact status">
            <option value="active">Active</option>
            <option value="deleted">Deleted</option>
            <option value="archived">Archived</option>
          </select>
        </label>
      </div>
      <ErrorNotice error={found.error} />
      {q && found.data && (
        <ul className="plain search-results" aria-label="Matching contacts">
          {found.data.data.map((contact) => (
            <li key={contact.id}>
              <label className="checkbox-line tight">
                <input type="checkbox" checked={picked.has(contact.id)} onChange={() => toggle(contact)} aria-label={`Pick ${contact.email}`} />
                <span>
                  {contactName(contact)} <span className="muted">{contact.email}</span>
                </span>
              </label>
            </li>
          ))}
          {found.data.data.length === 0 && <li className="muted">No {status} contact matches “{q}”.</li>}
        </ul>
      )}
      <div className="picked" data-testid="picked-contacts">
        {picked.size === 0 ? (
          <span className="muted small">No contact picked yet.</span>
        ) : (
          [...picked.values()].map((contact) => (
            <span key={contact.id} className="pill">
              {contactName(contact)}
              <button type="button" className="pill-remove" aria-label={`Remove ${contact.email}`} onClick={() => toggle(contact)}>
                ×
              </button>
            </span>
          ))
        )}
      </div>
    </div>
  );
}

/** What the confirmation says the rollback will do, before it is requested. */
function ConfirmRollback({ at, scope, preview, onCancel, onRequested, onPick }: {
  at: string;
  onPick: (at: string) => void;
  scope: RollbackScope;
  preview: RollbackPreview;
  onCancel: () => void;
  onRequested: (rollback: Rollback) => void;
}) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const [resumeAutomations, setResumeAutomations] = useState(false);
  const request = useMutation({
    mutationFn: () => answer(api.POST('/api/v1/rollbacks', { body: { at, scope, ...(resumeAutomations ? { resumeAutomations: true } : {}) } })),
    onSuccess: async (rollback) => {
      await invalidateRollbacks(queryClient);
      onRequested(rollback);
    },
  });
  const full = scope.type === 'workspace';
  const c = preview.counts.contacts;
  return (
    <Dialog
      title={full ? `Request a full rollback to ${formatPoint(at)}?` : `Roll back ${describeScope(scope)} to ${formatPoint(at)}?`}
      confirmLabel={full ? 'Request full rollback' : `Roll back ${describeScope(scope)}`}
      tone="warning"
      busy={request.isPending}
      onConfirm={() => request.mutate()}
      onCancel={onCancel}
    >
      <p data-testid="confirm-summary">
        {full ? 'Every contact, list, account, deal and tag in the workspace' : `The ${plural(scope.contactIds.length, 'picked contact')}, with their list memberships, account links, deal memberships and tags,`}{' '}
        will go back to how they were at <strong>{formatPoint(at)}</strong>: {c.revive} brought back, {c.revert} set back, {c.remove} moved to the
        recycle bin, {preview.counts.skipped.contacts} skipped (as the preview showed; it is worked out again when the rollback runs).
      </p>
      <ul className="does-not">
        <li>Contacts created after the point go to the recycle bin, where they can be restored; nothing is destroyed.{full && ' Lists, accounts, deals and tags created after it are marked deleted.'}</li>
        <li>Changes made after the point to these {full ? 'records' : 'contacts'} are overridden, whoever made them.</li>
        <li>It can be undone afterwards: an undo puts back exactly what the rollback changed.</li>
        {full ? (
          <li>
            <strong>A second admin must approve it</strong> before anything changes; you cannot approve your own request.
          </li>
        ) : (
          <li>It starts at once and runs in the background.</li>
        )}
      </ul>
      <label className="checkbox-line">
        <input type="checkbox" checked={resumeAutomations} onChange={(event) => setResumeAutomations(event.target.checked)} />
        Resume paused automations of brought-back contacts where they stopped (no message already sent is sent again)
      </label>
      <p className="muted small">{resumeAutomations ? 'Automations may send messages to these contacts.' : 'Nothing is sent to contacts and no automation runs.'}</p>
      <RollbackError error={request.error} onPick={onPick} />
    </Dialog>
  );
}

/**
 * Point-in-time rollback (seeds 000 and 003: what other CRMs do by hand from last night's
 * backup, here self-serve, exact to the second and reversible): pick a recoverable point
 * and a scope, preview, roll back; follow it; approve or undo earlier ones.
 */
/**
 * The window's activity above the point picker (GET /changes/activity), so a person sees
 * where the accident was before picking the point. Its range is the window when the
 * page loaded, in minutes, hours or days as its length asks.
 */
function RollbackActivity({ from, to }: { from: string; to: string }) {
  const [range] = useState(() => ({ from, to, bucket: bucketFor(from, to) }));
  return (
    <div className="rollback-activity">
      <p className="muted small">Changes in the window: created (green), updated (blue), deleted (red). <Link to="/activity">Activity</Link> names who made them, and can undo one cause alone.</p>
      <ActivityChart range={range} height={120} />
    </div>
  );
}

export function RollbackPage() {
  const { api, can } = useSession();
  const queryClient = useQueryClient();
  const recoverable = useQuery({
    queryKey: ['snapshots', 'recoverable'],
    queryFn: () => answer(api.GET('/api/v1/snapshots/recoverable')),
    refetchInterval: 60_000,
  });
  const [at, setAt] = useState<string | null>(() => new URLSearchParams(window.location.search).get('at'));
  const [scopeType, setScopeType] = useState<ScopeType>('contacts');
  const [picked, setPicked] = useState<Map<string, Contact>>(new Map());
  const [confirming, setConfirming] = useState(false);
  const [followed, setFollowed] = useState<string | null>(null);
  const scope: RollbackScope | null = scopeType === 'workspace' ? { type: 'workspace' } : picked.size > 0 ? { type: 'contacts', contactIds: [...picked.keys()] } : null;
  const scopeKey = JSON.stringify(scope);

  const preview = useMutation({
    mutationFn: (input: { at: string; scope: RollbackScope }) => answer(api.POST('/api/v1/rollbacks/preview', { body: input })),
  });
  const { reset } = preview;
  // A preview answers for one point and scope: once either changes, it no longer applies.
  useEffect(() => reset(), [at, scopeKey, reset]);
  const current = preview.data;
  const previewLabels = useContactLabels(
    current ? [...new Set([...current.sample.map((s) => s.contactId), ...current.skipped.flatMap((s) => (s.takenBy ? [s.contactId, s.takenBy] : [s.contactId]))])] : [],
  );

  const pick = (next: string) => {
    setAt(next);
    window.history.replaceState(null, '', `/rollback?at=${encodeURIComponent(next)}`);
  };

  const rollback = useQuery({
    queryKey: ['rollback', followed],
    queryFn: () => answer(api.GET('/api/v1/rollbacks/{id}', { params: { path: { id: followed ?? '' } } })),
    enabled: followed !== null,
    // Awaiting approval, it waits on another admin: look less often.
    refetchInterval: (query) => (isFinishedRollback(query.state.data?.status) ? false : query.state.data?.status === 'awaiting_approval' ? 5000 : 500),
  });
  const followedFinished = isFinishedRollback(rollback.data?.status);
  useEffect(() => {
    // Rolled-back contacts read differently everywhere: refetch all but the followed rollback.
    if (followedFinished) void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== 'rollback' });
  }, [followedFinished, queryClient]);

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Rollback</h1>
          <p className="muted">
            Put contacts, or the whole workspace, back as they were at any second of the recent window or at a retained snapshot. Preview first: nothing changes until you
            confirm, and every rollback can be undone.
          </p>
        </div>
      </header>

      <RollbackPanel rollback={rollback.data} error={rollback.error} onDismiss={() => setFollowed(null)} />

      <div className="card pad">
        <h2>1. Point in time</h2>
        <ErrorNotice error={recoverable.error} />
        {recoverable.data && can('audit.read') && <RollbackActivity from={recoverable.data.from} to={recoverable.data.to} />}
        {recoverable.data ? <PointPicker points={recoverable.data} at={at} onPick={pick} /> : !recoverable.error && <p className="muted">Loading recoverable points…</p>}
      </div>

      <div className="card pad">
        <h2>2. What to roll back</h2>
        <div className="scope-choice" role="radiogroup" aria-label="Scope">
          <label className="checkbox-line tight">
            <input type="radio" name="scope" checked={scopeType === 'contacts'} onChange={() => setScopeType('contacts')} />
            <span>
              <strong>Picked contacts</strong> <span className="muted">— runs at once</span>
            </span>
          </label>
          <label className="checkbox-line tight">
            <input type="radio" name="scope" checked={scopeType === 'workspace'} onChange={() => setScopeType('workspace')} />
            <span>
              <strong>The whole workspace</strong> <span className="muted">— contacts, lists, accounts, deals and tags; a second admin must approve it</span>
            </span>
          </label>
        </div>
        {scopeType === 'contacts' && <ContactScopePicker picked={picked} onChange={setPicked} />}
      </div>

      <div className="card pad">
        <div className="job-head">
          <h2>3. Preview and roll back</h2>
          <div className="page-actions">
            <button type="button" className="button secondary" disabled={!at || !scope || preview.isPending} onClick={() => at && scope && preview.mutate({ at, scope })}>
              {preview.isPending ? 'Previewing…' : 'Preview'}
            </button>
            <button type="button" className="button warning" disabled={!current || rollback.data?.status === 'queued' || rollback.data?.status === 'running'} onClick={() => setConfirming(true)}>
              {scopeType === 'workspace' ? 'Request full rollback…' : 'Roll back…'}
            </button>
          </div>
        </div>
        {!at && <p className="muted">Pick a point in time above.</p>}
        {at && !scope && <p className="muted">Pick the contacts to roll back, or choose the whole workspace.</p>}
        <RollbackError error={preview.error} onPick={pick} />
        {current && (
          <div className="preview" data-testid="preview">
            <Notice tone="info">
              <span data-testid="preview-note">
                This is a preview: nothing has changed. It shows what rolling back {current.scope.type === 'workspace' ? 'the whole workspace' : describeScope(current.scope)} to {formatPoint(current.at)} would do now.
                Contacts created after the point would go to the recycle bin (restorable), not be destroyed; nothing is sent to contacts unless you choose to resume
                automations.
              </span>
            </Notice>
            <RollbackCountsTable counts={current.counts} full={current.scope.type === 'workspace'} />
            {current.sample.length > 0 && (
              <>
                <h3>
                  {current.sample.length < current.counts.contacts.revive + current.counts.contacts.revert + current.counts.contacts.remove
                    ? `A sample of ${plural(current.sample.length, 'contact')}`
                    : 'Contacts that change'}
                  : now → after the rollback
                </h3>
                <RollbackSampleList sample={current.sample} labels={previewLabels} />
              </>
            )}
            {current.skipped.length > 0 && (
              <>
                <h3>Left alone</h3>
                <SkippedContactsTable skipped={current.skipped} labels={previewLabels} reasons={skipReasonText} />
              </>
            )}
          </div>
        )}
      </div>

      <RollbackList following={followed !== null} onFollow={setFollowed} onPick={pick} />

      {confirming && at && scope && current && (
        <ConfirmRollback
          at={at}
          scope={scope}
          preview={current}
          onCancel={() => setConfirming(false)}
          onPick={(next) => {
            setConfirming(false);
            pick(next);
          }}
          onRequested={(requested) => {
            setConfirming(false);
            reset();
            setFollowed(requested.id);
          }}
        />
      )}
      {!can('rollbacks.approve') && <p className="muted small">A full rollback is approved by an admin with the permission “rollbacks.approve”.</p>}
    </section>
  );
}

/** Earlier rollbacks, newest first: approve or reject those awaiting approval, undo those that ran. */
function RollbackList({ following, onFollow, onPick }: { following: boolean; onFollow: (id: string) => void; onPick: (at: string) => void }) {
  const { api, can } = useSession();
  const queryClient = useQueryClient();
  const person = useUserNames();
  const [undoing, setUndoing] = useState<Rollback | null>(null);
  const list = usePagedQuery('/api/v1/rollbacks', {}, { pollWhile: (rows) => rows.some((r) => r.status === 'queued' || r.status === 'running') });
  const approve = useMutation({
    mutationFn: (id: string) => answer(api.POST('/api/v1/rollbacks/{id}/approve', { params: { path: { id } } })),
    onSuccess: async (rollback) => {
      await invalidateRollbacks(queryClient);
      onFollow(rollback.id);
    },
  });
  const reject = useMutation({
    mutationFn: (id: string) => answer(api.POST('/api/v1/rollbacks/{id}/reject', { params: { path: { id } } })),
    onSuccess: () => invalidateRollbacks(queryClient),
  });
  const undo = useMutation({
    mutationFn: (id: string) => answer(api.POST('/api/v1/rollbacks/{id}/undo', { params: { path: { id } } })),
    onSuccess: async (rollback) => {
      setUndoing(null);
      await invalidateRollbacks(queryClient);
      onFollow(rollback.id);
    },
  });
  const rows = list.rows;
  const active = rows.find((r) => r.status === 'queued' || r.status === 'running');
  useEffect(() => {
    // Coming back while a rollback runs (it carries on without the page): follow it again.
    if (!following && active) onFollow(active.id);
  }, [following, active, onFollow]);
  const mayApprove = can('rollbacks.approve');

  return (
    <div className="card rollback-list">
      <div className="card-head">
        <h2>Rollbacks</h2>
      </div>
      <div className="card-notices">
        <ErrorNotice error={list.error} />
        <RollbackError error={approve.error} onPick={onPick} onDismiss={approve.reset} />
        <RollbackError error={reject.error} onPick={onPick} onDismiss={reject.reset} />
      </div>
      <table className="table" aria-label="Rollbacks">
        <thead>
          <tr>
            <th>Requested</th>
            <th>Back to</th>
            <th>Scope</th>
            <th>Status</th>
            <th>Approved by</th>
            <th>Result</th>
            <th className="actions" aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id} data-testid="rollback-row">
              <td>
                <div className="date">{formatDateTime(r.createdAt)}</div>
                <div className="muted small">by {person(r.requestedBy)}</div>
              </td>
              <td className="date">{formatPoint(r.at)}</td>
              <td>
                {describeScope(r.scope)}
                {r.undoOf && <div className="muted small">undo of an earlier rollback</div>}
              </td>
              <td>
                <span className={`badge rollback-${r.status}`}>{statusText[r.status]}</span>
                {r.status === 'failed' && r.error && <div className="muted small">{r.error.startsWith('rejected by ') ? 'rejected' : r.error}</div>}
                {r.status === 'running' && (
                  <div className="muted small">
                    {r.progress.contactsDone}/{r.progress.contactsTotal}
                  </div>
                )}
                {r.undoneBy && <div className="muted small">undone</div>}
              </td>
              <td>{r.approvedBy ? person(r.approvedBy) : r.scope.type === 'workspace' ? '—' : <span className="muted small">not needed</span>}</td>
              <td className="small">{r.counts ? contactsSummary(r.counts) : '—'}</td>
              <td className="actions">
                {r.status === 'awaiting_approval' && mayApprove && (
                  <button type="button" className="button primary small" disabled={approve.isPending} onClick={() => approve.mutate(r.id)}>
                    Approve
                  </button>
                )}
                {r.status === 'awaiting_approval' && mayApprove && (
                  <button type="button" className="button secondary small" disabled={reject.isPending} onClick={() => reject.mutate(r.id)}>
                    Reject
                  </button>
                )}
                {r.status === 'succeeded' && !r.undoneBy && (
                  <button type="button" className="button secondary small" onClick={() => setUndoing(r)}>
                    Undo
                  </button>
                )}
              </td>
            </tr>
          ))}
          {list.empty && <EmptyRow columns={7}>No rollback yet.</EmptyRow>}
        </tbody>
      </table>
      <Pager {...list.pager} />
      {undoing && (
        <Dialog
          title={`Undo the rollback to ${formatPoint(undoing.at)}?`}
          confirmLabel={undoing.scope.type === 'workspace' ? 'Request undo' : 'Undo rollback'}
          tone="warning"
          busy={undo.isPending}
          onConfirm={() => undo.mutate(undoing.id)}
          onCancel={() => {
            setUndoing(null);
            undo.reset();
          }}
        >
          <p>
            A new rollback puts every row this one changed ({describeScope(undoing.scope).toLowerCase()}) back exactly as it was just before it ran
            {undoing.startedAt ? ` (${formatPoint(undoing.startedAt)})` : ''}. Changes made since then to those rows are overridden.
          </p>
          {undoing.scope.type === 'workspace' ? (
            <p>Like the full rollback it undoes, it waits for a second admin’s approval.</p>
          ) : (
            <p>It starts at once. No automation runs and nothing is sent.</p>
          )}
          <RollbackError error={undo.error} />
        </Dialog>
      )}
    </div>
  );
}
