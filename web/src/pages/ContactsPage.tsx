import { useState } from 'react';
import { ErrorNotice, Notice } from '../components/Notice';
import { EmptyRow, Pager, usePagedQuery } from '../components/Pager';
import { RemoveButtons, RemoveDialog, removalSummary, type Removal } from '../components/RemoveDialog';
import { SearchBox, useDebounced } from '../components/Search';
import { contactName, formatDate, plural } from '../format';
import { useNames, useWorkspace } from '../lookups';
import { Link } from '../router';
import { useSession } from '../session';

/** The contacts overview: search, pages, and (for who may) delete or archive a selection. */
export function ContactsPage() {
  const { can } = useSession();
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim());
  const contacts = usePagedQuery('/api/v1/contacts', { q });
  const tagNames = useNames('tags');
  const usage = useWorkspace();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [removal, setRemoval] = useState<Removal | null>(null);
  const [news, setNews] = useState<string | null>(null);
  const mayRemove = can('contacts.delete') || can('contacts.archive');
  const rows = contacts.rows;
  const allShownSelected = rows.length > 0 && rows.every((c) => selected.has(c.id));

  const toggle = (id: string) =>
    setSelected((current) => {
      const next = new Set(current);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const toggleShown = () =>
    setSelected((current) => {
      const next = new Set(current);
      for (const c of rows) {
        if (allShownSelected) next.delete(c.id);
        else next.add(c.id);
      }
      return next;
    });

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Contacts</h1>
          <p className="muted" data-testid="usage">
            {usage
              ? `${plural(usage.usage.active, 'active contact')}${usage.activeContactLimit === null ? '' : ` of ${usage.activeContactLimit.toLocaleString('en-US')} allowed`} · ${usage.usage.archived.toLocaleString('en-US')} archived · ${usage.usage.deleted.toLocaleString('en-US')} in the recycle bin`
              : 'Active contacts, newest first.'}
          </p>
        </div>
        <div className="page-actions">
          <Link to="/restore/deleted" className="button secondary">
            Restore contacts
          </Link>
          <Link to="/restore/archived" className="button secondary">
            Archived contacts
          </Link>
        </div>
      </header>
      {news && (
        <Notice tone="success" onDismiss={() => setNews(null)}>
          {news}
        </Notice>
      )}
      <div className="toolbar">
        <SearchBox value={search} onChange={setSearch} placeholder="Search by name or email" />
        {mayRemove && selected.size > 0 && (
          <div className="selection-actions">
            <span className="selection-count">{plural(selected.size, 'contact')} selected</span>
            <RemoveButtons onRemove={setRemoval} />
          </div>
        )}
      </div>
      <ErrorNotice error={contacts.error} />
      <div className="card">
        <table className="table">
          <thead>
            <tr>
              {mayRemove && (
                <th className="check">
                  <input type="checkbox" aria-label="Select all shown" checked={allShownSelected} onChange={toggleShown} />
                </th>
              )}
              <th>Name</th>
              <th>Email</th>
              <th>Phone</th>
              <th>Tags</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((contact) => (
              <tr key={contact.id} className={selected.has(contact.id) ? 'selected' : undefined}>
                {mayRemove && (
                  <td className="check">
                    <input type="checkbox" aria-label={`Select ${contact.email}`} checked={selected.has(contact.id)} onChange={() => toggle(contact.id)} />
                  </td>
                )}
                <td>
                  <Link to={`/contacts/${encodeURIComponent(contact.id)}`} className="strong-link">
                    {contactName(contact)}
                  </Link>
                </td>
                <td>{contact.email}</td>
                <td>{contact.phone ?? ''}</td>
                <td>
                  {contact.tags.map((tag) => (
                    <span key={tag} className="pill">
                      {tagNames.get(tag) ?? 'tag'}
                    </span>
                  ))}
                </td>
                <td className="date">{formatDate(contact.createdAt)}</td>
              </tr>
            ))}
            {contacts.empty && <EmptyRow columns={6}>{q ? `No active contact matches “${q}”.` : 'No contacts yet.'}</EmptyRow>}
          </tbody>
        </table>
        <Pager {...contacts.pager} />
      </div>
      {removal && (
        <RemoveDialog
          removal={removal}
          ids={[...selected]}
          label={plural(selected.size, 'contact')}
          onCancel={() => setRemoval(null)}
          onDone={(result) => {
            setRemoval(null);
            setSelected(new Set());
            setNews(removalSummary(result));
          }}
        />
      )}
    </section>
  );
}
