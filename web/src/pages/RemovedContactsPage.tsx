import { useState } from 'react';
import { answer, type ArchivedContact, type Contact, type RestoreSource, type Workspace } from '../api';
import { ErrorNotice, Notice } from '../components/Notice';
import { EmptyRow, Pager, usePagedQuery } from '../components/Pager';
import { RestoreDialog, type RestoreIntent } from '../components/RestoreDialog';
import { RestoreJobPanel } from '../components/RestoreJobPanel';
import { SearchBox, useDebounced } from '../components/Search';
import { contactName, dayBoundary, daysText, formatDate, formatDateTime, freezeText, plural } from '../format';
import { useUserNames, useWorkspace } from '../lookups';
import { Link } from '../router';
import { useRestoreJob } from '../restoreJob';
import { useSession } from '../session';

type Removed = Contact & Partial<Pick<ArchivedContact, 'restorableFrom' | 'restorableUntil'>>;

interface Filter {
  q: string;
  from: string;
  to: string;
}

const sourceText: Record<RestoreSource, { title: string; intro: (retention: Workspace['retention'], maxPicked: number) => string; path: '/api/v1/deleted-contacts' | '/api/v1/archived-contacts'; dateLabel: string }> = {
  deleted: {
    title: 'Restore contacts',
    intro: (retention, maxPicked) =>
      `Contacts deleted in the last ${daysText(retention.deletedDays)}, newest deletion first. Pick up to ${maxPicked}, or restore all that match your search.`,
    path: '/api/v1/deleted-contacts',
    dateLabel: 'Deleted',
  },
  archived: {
    title: 'Archived contacts',
    intro: (retention) =>
      `Archived contacts can be restored once they have been archived for ${daysText(retention.archiveFreezeDays)}, and until ${daysText(retention.archiveDays)} after archiving.`,
    path: '/api/v1/archived-contacts',
    dateLabel: 'Archived',
  },
};

export const DeletedContactsPage = () => <RemovedContactsPage source="deleted" />;
export const ArchivedContactsPage = () => <RemovedContactsPage source="archived" />;

/** A frozen archived contact cannot be restored yet (seed 004: archiveFreezeDays after archiving). */
const isFrozen = (contact: Removed, now: number) => contact.restorableFrom !== undefined && Date.parse(contact.restorableFrom) > now;

/**
 * Deleted or archived contacts, with who removed them and when; search by name or email
 * and by date; pick up to the server's limit or restore all matching; confirm; follow the job.
 */
function RemovedContactsPage({ source }: { source: RestoreSource }) {
  const text = sourceText[source];
  const { api, can, limits } = useSession();
  const maxPicked = limits.pickedContacts;
  const person = useUserNames();
  const workspace = useWorkspace();
  const mayRestore = can('contacts.restore');
  const [search, setSearch] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const filter: Filter = { q: useDebounced(search.trim()), from, to };
  const range = { from: dayBoundary(from, false), to: dayBoundary(to, true) };
  const deletedFilter = { q: filter.q, deletedFrom: range.from, deletedTo: range.to };
  const archivedFilter = { q: filter.q, archivedFrom: range.from, archivedTo: range.to };
  const removed = usePagedQuery(text.path, source === 'deleted' ? deletedFilter : archivedFilter);
  const [selected, setSelected] = useState<Map<string, Removed>>(new Map());
  const [refusal, setRefusal] = useState<string | null>(null);
  const [intent, setIntent] = useState<RestoreIntent | null>(null);
  const [counting, setCounting] = useState<unknown>(null);
  const [seen] = useState(() => new Map<string, string>());
  const restoreJob = useRestoreJob();
  const now = Date.now();
  const rows: Removed[] = removed.rows;
  for (const contact of rows) seen.set(contact.id, `${contactName(contact)} (${contact.email})`);
  const selectable = rows.filter((c) => !isFrozen(c, now));
  const allShownSelected = selectable.length > 0 && selectable.every((c) => selected.has(c.id));
  const busy = restoreJob.running;

  const refuse = () => setRefusal(`You can select up to ${maxPicked} contacts at a time. To restore more, use “Restore all matching”.`);
  const toggle = (contact: Removed) => {
    const next = new Map(selected);
    if (next.has(contact.id)) {
      next.delete(contact.id);
      setRefusal(null);
    } else if (next.size >= maxPicked) {
      return refuse();
    } else {
      next.set(contact.id, contact);
    }
    setSelected(next);
  };
  const toggleShown = () => {
    const next = new Map(selected);
    if (allShownSelected) {
      for (const c of selectable) next.delete(c.id);
      setRefusal(null);
    } else {
      for (const c of selectable) {
        if (next.has(c.id)) continue;
        if (next.size >= maxPicked) {
          refuse();
          break;
        }
        next.set(c.id, c);
      }
    }
    setSelected(next);
  };

  const restorePicked = (contacts: Removed[]) =>
    setIntent({ source, request: { source, contactIds: contacts.map((c) => c.id) }, count: contacts.length, names: contacts.map(contactName) });

  /** Counts every contact matching the filter, and the frozen ones among them, before asking to confirm. */
  const restoreAllMatching = async () => {
    setCounting(true);
    try {
      const { total: count, frozen = 0 } = await answer(
        source === 'deleted'
          ? api.GET('/api/v1/deleted-contacts/count', { params: { query: deletedFilter } })
          : api.GET('/api/v1/archived-contacts/count', { params: { query: archivedFilter } }),
      );
      const request = { source, all: true, filter: { q: filter.q || undefined, ...range } };
      setIntent({ source, request, count, names: [], frozen });
      setCounting(null);
    } catch (error) {
      setCounting(error);
    }
  };

  const freeze = freezeText(workspace?.retention);
  const retentionDays = source === 'deleted' ? workspace?.retention.deletedDays : workspace?.retention.archiveDays;
  const colSpan = (mayRestore ? 2 : 0) + (source === 'deleted' ? 4 : 5);

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>{text.title}</h1>
          {workspace && <p className="muted">{text.intro(workspace.retention, maxPicked)}</p>}
        </div>
        <div className="page-actions">
          <Link to={source === 'deleted' ? '/restore/archived' : '/restore/deleted'} className="button secondary">
            {source === 'deleted' ? 'Archived contacts' : 'Deleted contacts'}
          </Link>
        </div>
      </header>

      <RestoreJobPanel job={restoreJob.job} error={restoreJob.error} names={seen} onDismiss={restoreJob.dismiss} />

      {!mayRestore && (
        <Notice tone="info">
          Only users whose role has the permission “contacts.restore” (admins, by default) can restore contacts. You can see what was {source} and by whom.
        </Notice>
      )}

      <div className="toolbar filters">
        <SearchBox value={search} onChange={setSearch} placeholder="Search by name or email" />
        <label className="date-field">
          {text.dateLabel} from
          <input type="date" value={from} onChange={(event) => setFrom(event.target.value)} aria-label={`${text.dateLabel} from`} />
        </label>
        <label className="date-field">
          to
          <input type="date" value={to} onChange={(event) => setTo(event.target.value)} aria-label={`${text.dateLabel} to`} />
        </label>
        {(search || from || to) && (
          <button type="button" className="button ghost small" onClick={() => { setSearch(''); setFrom(''); setTo(''); }}>
            Clear filters
          </button>
        )}
      </div>

      {mayRestore && (
        <div className="selection-bar">
          <span className="selection-count" data-testid="selection-count">
            {selected.size} of {maxPicked} selected
          </span>
          {selected.size > 0 && (
            <button type="button" className="button ghost small" onClick={() => { setSelected(new Map()); setRefusal(null); }}>
              Clear selection
            </button>
          )}
          <span className="spacer" />
          {busy && <span className="muted small">One restore at a time: wait for the current one to finish.</span>}
          <button type="button" className="button secondary" disabled={busy || rows.length === 0 || counting === true} onClick={() => void restoreAllMatching()}>
            {counting === true ? 'Counting…' : 'Restore all matching'}
          </button>
          <button type="button" className="button primary" disabled={busy || selected.size === 0} onClick={() => restorePicked([...selected.values()])}>
            Restore {selected.size > 0 ? plural(selected.size, 'contact') : 'selected'}
          </button>
        </div>
      )}
      {refusal && (
        <Notice tone="warning" onDismiss={() => setRefusal(null)}>
          {refusal}
        </Notice>
      )}
      {counting instanceof Error && <ErrorNotice error={counting} onDismiss={() => setCounting(null)} />}
      <ErrorNotice error={removed.error} />

      <div className="card">
        <table className="table">
          <thead>
            <tr>
              {mayRestore && (
                <th className="check">
                  <input type="checkbox" aria-label="Select all shown" checked={allShownSelected} onChange={toggleShown} disabled={selectable.length === 0} />
                </th>
              )}
              <th>Name</th>
              <th>Email</th>
              <th>{text.dateLabel}</th>
              {source === 'deleted' ? (
                <th>Purged on</th>
              ) : (
                <>
                  <th>Restorable from</th>
                  <th>Restorable until</th>
                </>
              )}
              {mayRestore && <th className="actions" aria-label="Actions" />}
            </tr>
          </thead>
          <tbody>
            {rows.map((contact) => {
              const frozen = isFrozen(contact, now);
              const at = source === 'deleted' ? contact.deletedAt : contact.archivedAt;
              const by = source === 'deleted' ? contact.deletedBy : contact.archivedBy;
              return (
                <tr key={contact.id} className={selected.has(contact.id) ? 'selected' : frozen ? 'frozen' : undefined}>
                  {mayRestore && (
                    <td className="check">
                      <input
                        type="checkbox"
                        aria-label={`Select ${contact.email}`}
                        checked={selected.has(contact.id)}
                        disabled={frozen}
                        title={frozen ? `Frozen: archived less than ${freeze} ago` : undefined}
                        onChange={() => toggle(contact)}
                      />
                    </td>
                  )}
                  <td>
                    <Link to={`/contacts/${encodeURIComponent(contact.id)}`} className="strong-link">
                      {contactName(contact)}
                    </Link>
                  </td>
                  <td>{contact.email}</td>
                  <td>
                    <div className="date">{formatDateTime(at)}</div>
                    <div className="muted small" data-testid="removed-by">
                      by {person(by)}
                    </div>
                  </td>
                  {source === 'deleted' ? (
                    <td className="date">{at && retentionDays !== undefined ? formatDate(new Date(Date.parse(at) + retentionDays * 86_400_000).toISOString()) : '—'}</td>
                  ) : (
                    <>
                      <td>
                        {frozen ? (
                          <span className="badge frozen" title={`Archived less than ${freeze} ago: it cannot be restored yet`}>
                            Frozen until {formatDate(contact.restorableFrom)}
                          </span>
                        ) : (
                          formatDate(contact.restorableFrom)
                        )}
                      </td>
                      <td className="date">{formatDate(contact.restorableUntil)}</td>
                    </>
                  )}
                  {mayRestore && (
                    <td className="actions">
                      <button type="button" className="button secondary small" disabled={frozen || busy} onClick={() => restorePicked([contact])}>
                        Restore
                      </button>
                    </td>
                  )}
                </tr>
              );
            })}
            {removed.empty && <EmptyRow columns={colSpan}>{filter.q || from || to ? `No ${source} contact matches these filters.` : `No ${source} contacts.`}</EmptyRow>}
          </tbody>
        </table>
        <Pager {...removed.pager} />
      </div>

      {intent && (
        <RestoreDialog
          intent={intent}
          onCancel={() => setIntent(null)}
          onStarted={(job) => {
            setIntent(null);
            setSelected(new Map());
            setRefusal(null);
            restoreJob.follow(job.id);
          }}
          onAlreadyRunning={(jobId) => {
            setIntent(null);
            setRefusal('Another restore is already running in this workspace, and only one can run at a time. Its progress is shown above; start yours when it is done.');
            restoreJob.follow(jobId);
          }}
        />
      )}
    </section>
  );
}
