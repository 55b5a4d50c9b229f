import { Fragment, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { allPages, answer } from '../api';
import { ErrorNotice, Notice } from '../components/Notice';
import { RemoveButtons, RemoveDialog, removalSummary, type Removal } from '../components/RemoveDialog';
import { RestoreDialog, type RestoreIntent } from '../components/RestoreDialog';
import { useRestoreJob } from '../restoreJob';
import { contactName, formatDate, formatDateTime } from '../format';
import { useDealTitles, useNames, useUserNames } from '../lookups';
import { Link, navigate } from '../router';
import type { PageProps } from '../routes';
import { useSession } from '../session';
import { timelineOf } from '../timeline';

/** A contact's page: its details, lists, accounts, deals and tags, and its history as a timeline. */
export function ContactPage({ params }: PageProps) {
  const { api, can, limits } = useSession();
  const id = params.id;
  const ofContact = { path: { id } };
  const contact = useQuery({ queryKey: ['contact', id], queryFn: () => answer(api.GET('/api/v1/contacts/{id}', { params: ofContact })) });
  const lists = useQuery({ queryKey: ['contact', id, 'lists'], queryFn: () => allPages(api, limits.pageSize, '/api/v1/contacts/{id}/lists', ofContact) });
  const accounts = useQuery({ queryKey: ['contact', id, 'accounts'], queryFn: () => allPages(api, limits.pageSize, '/api/v1/contacts/{id}/accounts', ofContact) });
  const deals = useQuery({ queryKey: ['contact', id, 'deals'], queryFn: () => allPages(api, limits.pageSize, '/api/v1/contacts/{id}/deals', ofContact) });
  const history = useQuery({ queryKey: ['contact', id, 'history'], queryFn: () => allPages(api, limits.pageSize, '/api/v1/contacts/{id}/history', ofContact) });
  // A deleted or archived contact keeps its associations, set aside: show what comes back.
  const away = contact.data?.status === 'deleted' || contact.data?.status === 'archived';
  const kept = useQuery({
    queryKey: ['contact', id, 'restorable-associations'],
    queryFn: () => answer(api.GET('/api/v1/contacts/{id}/restorable-associations', { params: ofContact })),
    enabled: away,
  });
  const listNames = useNames('lists');
  const accountNames = useNames('accounts');
  const tagNames = useNames('tags');
  const dealTitles = useDealTitles();
  const person = useUserNames();
  const [removal, setRemoval] = useState<Removal | null>(null);
  const [news, setNews] = useState<string | null>(null);
  const [restoring, setRestoring] = useState<RestoreIntent | null>(null);
  const restoreJob = useRestoreJob();

  if (contact.error) {
    return (
      <section className="page">
        <Link to="/contacts" className="back">
          ← Contacts
        </Link>
        <ErrorNotice error={contact.error} />
      </section>
    );
  }
  const c = contact.data;
  if (!c) return <section className="page muted">Loading…</section>;

  const named = (kind: 'list' | 'account' | 'deal', name: string | undefined) => (name ? `${kind} “${name}”` : `a deleted ${kind}`);
  const events = timelineOf(history.data?.data ?? [], {
    list: (listId) => named('list', listNames.get(listId)),
    account: (accountId) => named('account', accountNames.get(accountId)),
    deal: (dealId) => named('deal', dealTitles.get(dealId)),
    tag: (tagId) => {
      const name = tagNames.get(tagId);
      return name ? `“${name}”` : 'a deleted tag';
    },
  });
  const customFields = Object.entries(c.fields ?? {});
  const shownLists = away ? kept.data?.lists : lists.data?.data;
  const shownAccounts = away ? kept.data?.accounts : accounts.data?.data;
  const shownDeals = away ? kept.data?.deals : deals.data?.data;
  const shownTags = away ? kept.data?.tags : c.tags;
  const keptNote = away && <p className="muted small">Kept while it is {c.status}; comes back when it is restored.</p>;

  return (
    <section className="page">
      <Link to="/contacts" className="back">
        ← Contacts
      </Link>
      <header className="page-header">
        <div className="contact-heading">
          <span className="avatar" aria-hidden="true">
            {contactName(c).slice(0, 1).toUpperCase()}
          </span>
          <div>
            <h1>{contactName(c)}</h1>
            <p className="muted">
              {c.email} <span className={`badge status-${c.status}`}>{c.status}</span>
            </p>
          </div>
        </div>
        {c.status === 'deleted' && can('contacts.restore') && (
          <div className="page-actions">
            <button
              type="button"
              className="button primary"
              disabled={restoreJob.running}
              title={restoreJob.running ? 'One restore at a time: wait for the current one to finish' : undefined}
              onClick={() => setRestoring({ source: 'deleted', request: { source: 'deleted', contactIds: [c.id] }, count: 1, names: [contactName(c)] })}
            >
              Restore
            </button>
          </div>
        )}
        {c.status === 'active' && (
          <div className="page-actions">
            <RemoveButtons onRemove={setRemoval} />
          </div>
        )}
      </header>
      {news && (
        <Notice tone="success" onDismiss={() => setNews(null)}>
          {news}
        </Notice>
      )}
      {c.status === 'deleted' && (
        <Notice tone="warning">
          Deleted {formatDateTime(c.deletedAt)} by {person(c.deletedBy)}. It can be restored from <Link to="/restore/deleted">Restore contacts</Link>.
        </Notice>
      )}
      {c.status === 'archived' && (
        <Notice tone="warning">
          Archived {formatDateTime(c.archivedAt)} by {person(c.archivedBy)}. See <Link to="/restore/archived">Archived contacts</Link>.
        </Notice>
      )}
      {c.status === 'merged' && c.mergedInto && (
        <Notice tone="info">
          Merged into <Link to={`/contacts/${encodeURIComponent(c.mergedInto)}`}>another contact</Link>; a merged contact cannot be restored.
        </Notice>
      )}
      <div className="contact-grid">
        <div className="stack">
          <div className="card pad">
            <h2>Details</h2>
            <dl className="details">
              <dt>Email</dt>
              <dd>{c.email}</dd>
              <dt>Phone</dt>
              <dd>{c.phone ?? '—'}</dd>
              <dt>Created</dt>
              <dd>{formatDateTime(c.createdAt)}</dd>
              <dt>Updated</dt>
              <dd>{formatDateTime(c.updatedAt)}</dd>
              {customFields.map(([key, value]) => (
                <Fragment key={key}>
                  <dt>{key}</dt>
                  <dd>{typeof value === 'string' ? value : JSON.stringify(value)}</dd>
                </Fragment>
              ))}
            </dl>
          </div>
          <div className="card pad" aria-label="Lists">
            <h2>Lists</h2>
            {keptNote}
            <ul className="plain" data-testid="contact-lists">
              {(shownLists ?? []).map((m) => (
                <li key={m.listId}>
                  {listNames.get(m.listId) ?? m.listId} <span className={`badge list-${m.status}`}>{m.status}</span>
                </li>
              ))}
              {shownLists?.length === 0 && <li className="muted">On no list</li>}
            </ul>
          </div>
          <div className="card pad">
            <h2>Accounts</h2>
            {keptNote}
            <ul className="plain" data-testid="contact-accounts">
              {(shownAccounts ?? []).map((a) => (
                <li key={a.accountId}>
                  {accountNames.get(a.accountId) ?? a.accountId}
                  {a.jobTitle && <span className="muted"> · {a.jobTitle}</span>}
                </li>
              ))}
              {shownAccounts?.length === 0 && <li className="muted">No account</li>}
            </ul>
          </div>
          <div className="card pad">
            <h2>Deals</h2>
            {keptNote}
            <ul className="plain" data-testid="contact-deals">
              {(shownDeals ?? []).map((d) => (
                <li key={d.id}>
                  {d.title}
                  {d.value !== null && <span className="muted"> · {d.value.toLocaleString('en-US')}</span>}
                  {d.stage && <span className="muted"> · {d.stage}</span>}
                  {d.primaryContactId === c.id && <span className="badge">primary</span>}
                </li>
              ))}
              {shownDeals?.length === 0 && <li className="muted">No deal</li>}
            </ul>
          </div>
          <div className="card pad">
            <h2>Tags</h2>
            {keptNote}
            <div data-testid="contact-tags">
              {(shownTags ?? []).map((tag) => (
                <span key={tag} className="pill">
                  {tagNames.get(tag) ?? tag}
                </span>
              ))}
              {shownTags?.length === 0 && <span className="muted">No tag</span>}
            </div>
          </div>
        </div>
        <div className="card pad">
          <h2>History</h2>
          <ErrorNotice error={history.error} />
          <ol className="timeline" aria-label="History">
            {events.map((event) => (
              <li key={event.key} className="timeline-event">
                <div className="timeline-meta">
                  <strong>{person(event.actorId, event.origin)}</strong>
                  <span className="muted"> · {formatDateTime(event.at)}</span>
                  {event.origin !== 'user' && <span className="badge">{event.origin}</span>}
                </div>
                <ul className="timeline-lines">
                  {event.lines.map((line, i) => (
                    <li key={i}>{line}</li>
                  ))}
                </ul>
              </li>
            ))}
          </ol>
          <p className="muted small">Created {formatDate(c.createdAt)}; every change since is kept.</p>
        </div>
      </div>
      {restoring && (
        <RestoreDialog
          intent={restoring}
          onCancel={() => setRestoring(null)}
          onStarted={(job) => {
            restoreJob.follow(job.id);
            navigate('/restore/deleted');
          }}
          onAlreadyRunning={(jobId) => {
            restoreJob.follow(jobId);
            navigate('/restore/deleted');
          }}
        />
      )}
      {removal && (
        <RemoveDialog
          removal={removal}
          ids={[c.id]}
          label={contactName(c)}
          onCancel={() => setRemoval(null)}
          onDone={(result) => {
            setRemoval(null);
            setNews(removalSummary(result));
          }}
        />
      )}
    </section>
  );
}
