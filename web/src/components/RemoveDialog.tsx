import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useWorkspace } from '../lookups';
import { answer, ApiError, type SkippedRemoval } from '../api';
import { daysText, plural } from '../format';
import { useSession } from '../session';
import { Dialog } from './Dialog';
import { ErrorNotice, Notice } from './Notice';

export type Removal = 'delete' | 'archive';

export interface RemovalResult {
  removal: Removal;
  done: string[];
  skipped: SkippedRemoval[];
}

/**
 * Confirms deleting or archiving contacts, saying what that means and how they come
 * back, then does it (POST /contacts/delete or /contacts/archive). More contacts at once
 * than the workspace's mass-delete limit need a second, explicit yes (the server's
 * `confirmation_required`); held ones are explained (`mass_delete_held`).
 */
export function RemoveDialog({ removal, ids, label, onCancel, onDone }: {
  removal: Removal;
  ids: string[];
  /** What is removed, in words: "Ada Lovelace" or "3 contacts". */
  label: string;
  onCancel: () => void;
  onDone: (result: RemovalResult) => void;
}) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const retention = useWorkspace()?.retention;
  const remove = useMutation({
    mutationFn: async (confirm: boolean) => {
      const body = confirm ? { ids, confirm } : { ids };
      if (removal === 'delete') {
        const result = await answer(api.POST('/api/v1/contacts/delete', { body }));
        return { removal, done: result.deleted, skipped: result.skipped };
      }
      const result = await answer(api.POST('/api/v1/contacts/archive', { body }));
      return { removal, done: result.archived, skipped: result.skipped };
    },
    onSuccess: async (result) => {
      await queryClient.invalidateQueries();
      onDone(result);
    },
    // A held request shows in the admins' banner at once.
    onError: () => queryClient.invalidateQueries({ queryKey: ['held-deletes'] }),
  });
  const count = plural(ids.length, 'contact');
  // The server asks for a second yes when one request removes more than its limit.
  const asked = remove.error instanceof ApiError && remove.error.code === 'confirmation_required' ? remove.error : null;
  const askedLimit = typeof asked?.details.limit === 'number' ? asked.details.limit : null;
  const confirmation = asked ? (
    <Notice tone="warning">
      This {removal === 'delete' ? 'deletes' : 'archives'} {plural(Number(asked.details.wouldRemove ?? ids.length), 'contact')} at once, more than the{' '}
      {askedLimit === null ? '' : askedLimit.toLocaleString('en-US')} the workspace allows in one request without a second yes. Confirm that you mean all of them.
    </Notice>
  ) : (
    <ErrorNotice error={remove.error} />
  );
  const onConfirm = () => remove.mutate(asked !== null);
  // What the dialog says of retention is the workspace's: it shows once that is known.
  if (!retention) return null;
  return removal === 'delete' ? (
    <Dialog title={`Delete ${label}?`} confirmLabel={asked ? `Yes, delete all ${count}` : `Delete ${count}`} tone="danger" busy={remove.isPending} onConfirm={onConfirm} onCancel={onCancel}>
      <p>
        {ids.length === 1 ? 'The contact goes' : 'They go'} to the recycle bin and {ids.length === 1 ? 'leaves' : 'leave'} every list, account, deal and tag. An admin can
        restore {ids.length === 1 ? 'it' : 'them'} with those associations from <strong>Restore contacts</strong> for {daysText(retention.deletedDays)}; after that{' '}
        {ids.length === 1 ? 'it is' : 'they are'} purged for good.
      </p>
      <p className="muted">A deal whose only contact is deleted is deleted with it, and does not come back on restore.</p>
      {confirmation}
    </Dialog>
  ) : (
    <Dialog title={`Archive ${label}?`} confirmLabel={asked ? `Yes, archive all ${count}` : `Archive ${count}`} tone="warning" busy={remove.isPending} onConfirm={onConfirm} onCancel={onCancel}>
      <p>
        Archived contacts stop counting toward your active contact limit and leave every list, account, deal and tag. An admin can restore them from{' '}
        <strong>Archived contacts</strong> after {daysText(retention.archiveFreezeDays)} and until {daysText(retention.archiveDays)} after archiving; a form
        submission brings one back at once.
      </p>
      {confirmation}
    </Dialog>
  );
}

export function removalSummary(result: RemovalResult): string {
  const verb = result.removal === 'delete' ? 'Deleted' : 'Archived';
  const skipped = result.skipped.length ? ` ${plural(result.skipped.length, 'contact')} skipped (${result.skipped.map((s) => s.reason).join(', ')}).` : '';
  const where = result.removal === 'delete' ? 'Restore contacts' : 'Archived contacts';
  return `${verb} ${plural(result.done.length, 'contact')}. ${result.done.length ? `They can be brought back from ${where}.` : ''}${skipped}`;
}

/** Archive and Delete, each shown only to who may do it. */
export function RemoveButtons({ onRemove }: { onRemove: (removal: Removal) => void }) {
  const { can } = useSession();
  return (
    <>
      {can('contacts.archive') && (
        <button type="button" className="button secondary" onClick={() => onRemove('archive')}>
          Archive
        </button>
      )}
      {can('contacts.delete') && (
        <button type="button" className="button danger" onClick={() => onRemove('delete')}>
          Delete
        </button>
      )}
    </>
  );
}
