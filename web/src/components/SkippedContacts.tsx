import type { SkippedContact } from '../api';
import { Link } from '../router';

/**
 * Contacts a restore or a rollback left alone, each with why (`reasons` by the API's skip
 * reason) and, when another contact holds its email, a link to that one.
 */
export function SkippedContactsTable({ skipped, labels, reasons }: { skipped: SkippedContact[]; labels: Map<string, string>; reasons: Record<string, string> }) {
  if (skipped.length === 0) return null;
  return (
    <table className="table compact" aria-label="Skipped contacts">
      <thead>
        <tr>
          <th>Skipped contact</th>
          <th>Why</th>
        </tr>
      </thead>
      <tbody>
        {skipped.map((skip) => (
          <tr key={skip.contactId}>
            <td>{labels.get(skip.contactId) ?? skip.contactId}</td>
            <td>
              {reasons[skip.reason] ?? skip.reason}
              {skip.takenBy && (
                <>
                  {' '}
                  See <Link to={`/contacts/${encodeURIComponent(skip.takenBy)}`}>{labels.get(skip.takenBy) ?? 'that contact'}</Link>.
                </>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
