import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { answer, type DeletedObject, type ObjectRestore, type ObjectType } from '../api';
import { ErrorNotice, Notice } from '../components/Notice';
import { EmptyRow, Pager, usePagedQuery } from '../components/Pager';
import { SearchBox, useDebounced } from '../components/Search';
import { dayBoundary, daysText, formatDate, formatDateTime, plural } from '../format';
import { useUserNames, useWorkspace } from '../lookups';
import { useSession } from '../session';

const typeText: Record<ObjectType, string> = { list: 'List', account: 'Account', deal: 'Deal', tag: 'Tag', form: 'Form', automation: 'Automation' };
const objectTypes = Object.keys(typeText) as ObjectType[];

/** What comes back with each kind of object (seed 002's rules, as the server applies them). */
const restoredWith: Record<ObjectType, string> = {
  list: 'its memberships and their statuses',
  account: 'its contact links and job titles',
  deal: 'its contacts in order and its primary contact',
  tag: 'the contacts that had it',
  form: 'its list',
  automation: 'its enrollments, paused',
};

const skipText: Record<ObjectRestore['skipped'][number]['reason'], string> = {
  not_found: 'it no longer exists (purged)',
  not_deleted: 'it is not deleted',
  no_active_contact: 'none of its contacts is active, so the deal stays deleted',
};

interface Outcome {
  restored: DeletedObject[];
  skipped: { object: DeletedObject; reason: ObjectRestore['skipped'][number]['reason'] }[];
}

/**
 * Deleted lists, accounts, deals, tags, forms and automations (issue 18, point 1): search
 * them by name, type and date, pick some and restore them with what they held; what was
 * skipped is said, with why.
 */
export function DeletedObjectsPage() {
  const { api, can, limits } = useSession();
  // Seed 002: picked records are restored up to the server's limit per type (GET /limits).
  const maxPicked = limits.pickedObjects;
  const queryClient = useQueryClient();
  const person = useUserNames();
  const retention = useWorkspace()?.retention;
  const mayRestore = can('contacts.restore');
  const [type, setType] = useState<ObjectType | ''>('');
  const [search, setSearch] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const q = useDebounced(search.trim());
  const deleted = usePagedQuery('/api/v1/deleted-objects', { type: type || undefined, q: q || undefined, from: dayBoundary(from, false), to: dayBoundary(to, true) });
  const [selected, setSelected] = useState<Map<string, DeletedObject>>(new Map());
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const rows = deleted.rows;
  const allShownSelected = rows.length > 0 && rows.every((o) => selected.has(o.id));

  const toggle = (object: DeletedObject) => {
    const next = new Map(selected);
    if (next.has(object.id)) next.delete(object.id);
    else if (next.size < maxPicked) next.set(object.id, object);
    setSelected(next);
  };
  const toggleShown = () => {
    const next = new Map(selected);
    for (const o of rows) {
      if (allShownSelected) next.delete(o.id);
      else if (next.size < maxPicked) next.set(o.id, o);
    }
    setSelected(next);
  };

  // One request per type: the server restores one type at a time.
  const restore = useMutation({
    mutationFn: async (objects: DeletedObject[]): Promise<Outcome> => {
      const result: Outcome = { restored: [], skipped: [] };
      for (const t of objectTypes) {
        const ofType = objects.filter((o) => o.type === t);
        if (ofType.length === 0) continue;
        const byId = new Map(ofType.map((o) => [o.id, o]));
        const answered = await answer(api.POST('/api/v1/deleted-objects/restore', { body: { type: t, ids: ofType.map((o) => o.id) } }));
        result.restored.push(...answered.restored.flatMap((id) => byId.get(id) ?? []));
        result.skipped.push(...answered.skipped.flatMap((s) => (byId.has(s.id) ? [{ object: byId.get(s.id) as DeletedObject, reason: s.reason }] : [])));
      }
      return result;
    },
    onSuccess: async (result) => {
      setOutcome(result);
      setSelected(new Map());
      await queryClient.invalidateQueries();
    },
  });

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Deleted objects</h1>
          <p className="muted">
            Lists, accounts, deals, tags, forms and automations deleted in the last {retention ? daysText(retention.deletedDays) : 'days'}, newest deletion first. Each
            comes back with what it held; an automation comes back paused and sends nothing until you resume it.
          </p>
        </div>
      </header>

      {!mayRestore && (
        <Notice tone="info">Only users whose role has the permission “contacts.restore” (admins, by default) can restore. You can see what was deleted and by whom.</Notice>
      )}
      {outcome && (
        <Notice tone={outcome.skipped.length > 0 ? 'warning' : 'success'} onDismiss={() => setOutcome(null)}>
          <div data-testid="restore-outcome">
            Restored {plural(outcome.restored.length, 'object')}
            {outcome.restored.length > 0 ? `: ${outcome.restored.map((o) => `${typeText[o.type].toLowerCase()} “${o.name}”`).join(', ')}` : ''}.
          </div>
          {outcome.skipped.length > 0 && (
            <ul data-testid="restore-skipped">
              {outcome.skipped.map((s) => (
                <li key={s.object.id}>
                  Not restored: {typeText[s.object.type].toLowerCase()} “{s.object.name}”: {skipText[s.reason]}.
                </li>
              ))}
            </ul>
          )}
        </Notice>
      )}
      <ErrorNotice error={restore.error} onDismiss={() => restore.reset()} />

      <div className="toolbar filters">
        <label>
          Type{' '}
          <select value={type} onChange={(event) => setType(event.target.value as ObjectType | '')} aria-label="Type">
            <option value="">All types</option>
            {objectTypes.map((t) => (
              <option key={t} value={t}>
                {typeText[t]}s
              </option>
            ))}
          </select>
        </label>
        <SearchBox value={search} onChange={setSearch} placeholder="Search by name" />
        <label className="date-field">
          Deleted from
          <input type="date" value={from} onChange={(event) => setFrom(event.target.value)} aria-label="Deleted from" />
        </label>
        <label className="date-field">
          to
          <input type="date" value={to} onChange={(event) => setTo(event.target.value)} aria-label="Deleted to" />
        </label>
      </div>

      {mayRestore && (
        <div className="selection-bar">
          <span className="selection-count" data-testid="selection-count">
            {selected.size} of {maxPicked} selected
          </span>
          <span className="spacer" />
          <button type="button" className="button primary" disabled={restore.isPending || selected.size === 0} onClick={() => restore.mutate([...selected.values()])}>
            {restore.isPending ? 'Restoring…' : `Restore ${selected.size > 0 ? plural(selected.size, 'object') : 'selected'}`}
          </button>
        </div>
      )}
      <ErrorNotice error={deleted.error} />

      <div className="card">
        <table className="table" aria-label="Deleted objects">
          <thead>
            <tr>
              {mayRestore && (
                <th className="check">
                  <input type="checkbox" aria-label="Select all shown" checked={allShownSelected} onChange={toggleShown} disabled={rows.length === 0} />
                </th>
              )}
              <th>Type</th>
              <th>Name</th>
              <th>Deleted</th>
              <th>Comes back with</th>
              <th>Purged on</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((o) => (
              <tr key={o.id} className={selected.has(o.id) ? 'selected' : undefined} data-testid="deleted-object">
                {mayRestore && (
                  <td className="check">
                    <input type="checkbox" aria-label={`Select ${typeText[o.type].toLowerCase()} ${o.name}`} checked={selected.has(o.id)} onChange={() => toggle(o)} />
                  </td>
                )}
                <td>{typeText[o.type]}</td>
                <td>{o.name}</td>
                <td>
                  <div className="date">{formatDateTime(o.deletedAt)}</div>
                  <div className="muted small">by {person(o.deletedBy)}</div>
                </td>
                <td className="muted">{restoredWith[o.type]}</td>
                <td className="date">{retention ? formatDate(new Date(Date.parse(o.deletedAt) + retention.deletedDays * 86_400_000).toISOString()) : '—'}</td>
              </tr>
            ))}
            {deleted.empty && <EmptyRow columns={mayRestore ? 6 : 5}>{q || type || from || to ? 'No deleted object matches these filters.' : 'Nothing is deleted.'}</EmptyRow>}
          </tbody>
        </table>
        <Pager {...deleted.pager} />
      </div>
    </section>
  );
}
