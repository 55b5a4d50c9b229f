import type { RollbackCounts, RollbackSample } from '../api';
import { formatDateTime, plural } from '../format';
import { useUserNames } from '../lookups';
import { associationKinds, fieldLabel, figuresOf, formatValue, parentKinds } from '../rollback';
import { Link } from '../router';

/** A rollback's (or its preview's) counts: contacts revived, reverted, removed; every other kind added, changed, removed. */
export function RollbackCountsTable({ counts, full, undo = false }: { counts: RollbackCounts; full: boolean; undo?: boolean }) {
  // An undo of a partial rollback writes back the deals that rollback mended: a row of the table.
  const kinds = full ? [...associationKinds, ...parentKinds] : undo ? [...associationKinds, ...parentKinds.filter((k) => k.key === 'deals')] : associationKinds;
  return (
    <>
      <table className="table compact counts" aria-label="What changes">
      <thead>
        <tr>
          <th>Contacts</th>
          <th>Brought back</th>
          <th>Set back</th>
          <th>To the recycle bin</th>
          <th>Skipped</th>
        </tr>
      </thead>
      <tbody>
        <tr data-testid="contact-counts">
          <td>Contacts</td>
          <td>{counts.contacts.revive}</td>
          <td>{counts.contacts.revert}</td>
          <td>{counts.contacts.remove}</td>
          <td>{counts.skipped.contacts}</td>
        </tr>
      </tbody>
      <thead>
        <tr>
          <th>Also</th>
          <th>Added back</th>
          <th>Changed back</th>
          <th>Removed</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {kinds.map(({ key, label }) => {
          const f = figuresOf(counts, key);
          if (!f) return null;
          return (
            <tr key={key} className={f.add + f.change + f.remove === 0 ? 'quiet' : undefined}>
              <td>{label}</td>
              <td>{f.add}</td>
              <td>{f.change}</td>
              <td>{f.remove}</td>
              <td />
            </tr>
          );
        })}
      </tbody>
      </table>
      {!full && !undo && <DealMends deals={counts.deals} />}
    </>
  );
}

/**
 * A partial rollback writes no deal itself, but the contacts it sends to the bin and the
 * deal links it takes back leave deals as a delete does: said plainly, as it is not a
 * row of the table above.
 */
function DealMends({ deals }: { deals: RollbackCounts['deals'] }) {
  if (!deals || deals.change + deals.remove === 0) return null;
  const parts = [
    deals.change > 0 && `a new primary contact on ${plural(deals.change, 'deal')}`,
    deals.remove > 0 && `${plural(deals.remove, 'deal')} with no active contact left deleted`,
  ].filter(Boolean);
  return (
    <p className="small" data-testid="deal-mends">
      Deals these contacts leave, as when contacts are deleted: {parts.join('; ')}.
    </p>
  );
}

const changeText: Record<RollbackSample['change'], string> = {
  revive: 'Brought back',
  revert: 'Set back',
  remove: 'To the recycle bin',
};

/** The sample: each contact's fields now and as the rollback writes them back, and the change it overrides. */
export function RollbackSampleList({ sample, labels }: { sample: RollbackSample[]; labels: Map<string, string> }) {
  const person = useUserNames();
  return (
    <div className="sample" data-testid="sample">
      {sample.map((record) => (
        <div className="sample-contact" key={record.contactId} data-testid="sample-contact">
          <div className="sample-head">
            <Link to={`/contacts/${encodeURIComponent(record.contactId)}`} className="strong-link">
              {labels.get(record.contactId) ?? record.email ?? record.contactId}
            </Link>
            <span className={`badge change-${record.change}`}>{changeText[record.change]}</span>
            {record.skipped && <span className="badge status-deleted">skipped</span>}
            {record.lastChange && (
              <span className="muted small" data-testid="last-change">
                Last changed {formatDateTime(record.lastChange.at)} by {person(record.lastChange.actorId, record.lastChange.origin)}: the rollback overrides it
              </span>
            )}
          </div>
          {record.change === 'remove' && record.differences.length === 0 ? (
            <p className="small">Created after the point: it goes to the recycle bin with its data, and can be restored from there.</p>
          ) : record.differences.length === 0 ? (
            <p className="muted small">No field differs; only its lists, accounts, deals or tags change.</p>
          ) : (
            <table className="table compact differences" aria-label={`Differences for ${labels.get(record.contactId) ?? record.contactId}`}>
              <thead>
                <tr>
                  <th>Field</th>
                  <th>Now</th>
                  <th aria-label="becomes" />
                  <th>After the rollback</th>
                </tr>
              </thead>
              <tbody>
                {record.differences.map((d) => (
                  <tr key={d.field}>
                    <td>{fieldLabel(d.field)}</td>
                    <td className="now">{formatValue(d.field, d.now)}</td>
                    <td className="arrow" aria-hidden="true">
                      →
                    </td>
                    <td className="then">{formatValue(d.field, d.then)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      ))}
    </div>
  );
}
