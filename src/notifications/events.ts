/**
 * What admins are told of (../shared/API.md, "Every object comes back; mass deletes are
 * held"). A webhook subscribes to some of them; every one is emailed to the workspace's
 * admins. docs/API-additions.md lists each one's `data`.
 */
export const notificationEvents = [
  'mass_delete.held',
  'restore_job.finished',
  'rollback.finished',
  'rollback.awaiting_approval',
  'undo.finished',
  'import.finished',
  'backup.finished',
  'backup.verification_failed',
] as const;

export type NotificationEvent = (typeof notificationEvents)[number];

/** The data of an event: plain JSON, ids and counts, never a contact's personal data. */
export type NotificationData = Record<string, unknown>;

/**
 * An email's subject line for an event, from its data where it says something a reader
 * wants in the inbox list (what finished, and how).
 */
export function emailSubject(event: NotificationEvent, data: NotificationData): string {
  const status = typeof data.status === 'string' ? data.status : null;
  switch (event) {
    case 'mass_delete.held':
      return 'Deletes held: a mass delete is waiting for an admin';
    case 'restore_job.finished':
      return `Restore ${status ?? 'finished'}`;
    case 'rollback.finished':
      return `Rollback ${status ?? 'finished'}`;
    case 'rollback.awaiting_approval':
      return 'A full rollback awaits approval';
    case 'undo.finished':
      return `Undo ${status ?? 'finished'}`;
    case 'import.finished':
      return `Import ${status ?? 'finished'}`;
    case 'backup.finished':
      return `Backup ${status ?? 'finished'}`;
    case 'backup.verification_failed':
      return 'Backup verification failed';
  }
}
