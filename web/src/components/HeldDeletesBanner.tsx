import { heldContents, heldReason, usePendingHeldDeletes } from '../heldDeletes';
import { useUserNames } from '../lookups';
import { Link } from '../router';
import { useSession } from '../session';

/**
 * Above every page, for admins, while the mass-delete guard holds someone's deletes: who,
 * what is held and why, and the way to decide (seed 003's emergency of an integration
 * deleting records: it is stopped, and an admin should know at once).
 */
export function HeldDeletesBanner() {
  const { can } = useSession();
  const person = useUserNames();
  const { pending, more } = usePendingHeldDeletes();
  if (!can('users.manage') || pending.length === 0) return null;
  return (
    <div className="held-banner" role="alert" data-testid="held-banner">
      <div className="held-banner-text">
        <strong>{pending.length === 1 && !more ? 'Deletes are held' : `Deletes are held for ${pending.length}${more ? '+' : ''} users or tokens`}</strong>
        <ul>
          {pending.map((held) => (
            <li key={held.id}>
              {person(held.actorId)}: {heldContents(held)}. {heldReason(held)}.
            </li>
          ))}
        </ul>
        <span className="muted">Nothing more of theirs is deleted or archived until an admin releases or rejects it.</span>
      </div>
      <Link to="/held-deletes" className="button primary small">
        Review held deletes
      </Link>
    </div>
  );
}
