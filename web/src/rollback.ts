import { ApiError, describeError, type RecoverablePoints, type RollbackCounts, type RollbackScope, type RowFigures } from './api';
import { plural } from './format';

const pointFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });

/** A point in time to the second, in the reader's time zone: rollbacks are exact, so the seconds matter. */
export const formatPoint = (iso: string): string => pointFormat.format(new Date(iso));

const pad = (n: number) => String(n).padStart(2, '0');

/** An ISO instant as a `<input type="datetime-local" step="1">` value in local time (to the second). */
export function toLocalInput(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * A datetime-local value (local time; the browser leaves out `:00` seconds) as the ISO UTC
 * instant the API takes, or null when it is not a complete date and time.
 */
export function fromLocalInput(value: string): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(value);
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match;
  const date = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? '0'));
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** Whether the API will take `at`: inside the PITR window (both ends included) or exactly a retained snapshot's takenAt. */
export function isRecoverable(at: string, points: RecoverablePoints): boolean {
  const t = Date.parse(at);
  if (t >= Date.parse(points.from) && t <= Date.parse(points.to)) return true;
  return points.snapshots.some((s) => Date.parse(s.takenAt) === t);
}

/** Where `at` sits on an axis from `from` to `to`, in percent, kept on the axis. */
export function axisPercent(at: string, from: string, to: string): number {
  const span = Date.parse(to) - Date.parse(from);
  if (span <= 0) return 100;
  return Math.min(100, Math.max(0, ((Date.parse(at) - Date.parse(from)) / span) * 100));
}

export const describeScope = (scope: RollbackScope): string =>
  scope.type === 'workspace' ? 'Whole workspace' : plural(scope.contactIds.length, 'contact');

/** The rows of a counts table: what is rolled back, by kind, in the order a reader expects. */
export const associationKinds: { key: keyof RollbackCounts; label: string }[] = [
  { key: 'listMemberships', label: 'List memberships' },
  { key: 'accountLinks', label: 'Account links' },
  { key: 'dealContacts', label: 'Deal memberships' },
  { key: 'contactTags', label: 'Tags on contacts' },
];
export const parentKinds: { key: keyof RollbackCounts; label: string }[] = [
  { key: 'lists', label: 'Lists' },
  { key: 'accounts', label: 'Accounts' },
  { key: 'deals', label: 'Deals' },
  { key: 'tags', label: 'Tags' },
];

export function figuresOf(counts: RollbackCounts, key: keyof RollbackCounts): RowFigures | undefined {
  const value = counts[key] as RowFigures | undefined;
  return value && 'add' in value ? value : undefined;
}

/** One sentence for a rollback's contacts: "2 revived, 1 reverted, 0 to the recycle bin, 1 skipped". */
export function contactsSummary(counts: RollbackCounts): string {
  const c = counts.contacts;
  return `${c.revive} revived · ${c.revert} reverted · ${c.remove} to the recycle bin · ${counts.skipped.contacts} skipped`;
}

const fieldLabels: Record<string, string> = {
  firstName: 'First name',
  lastName: 'Last name',
  email: 'Email',
  phone: 'Phone',
  fields: 'Custom fields',
  status: 'Status',
  createdAt: 'Created',
  updatedAt: 'Updated',
  deletedAt: 'Deleted',
  deletedBy: 'Deleted by',
  archivedAt: 'Archived',
  archivedBy: 'Archived by',
  mergedInto: 'Merged into',
};

export const fieldLabel = (field: string): string => fieldLabels[field] ?? field.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());

/** A value of a contact's column as the sample shows it: empty as a dash, times as times, objects as JSON. */
export function formatValue(field: string, value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'string') {
    if (/At$/.test(field) && !Number.isNaN(Date.parse(value))) return formatPoint(value);
    return value;
  }
  if (typeof value === 'object') return Object.keys(value).length === 0 ? '—' : JSON.stringify(value);
  return String(value);
}

/** Why a rollback leaves a contact alone (API: skipped reasons). */
export const skipReasonText: Record<string, string> = {
  merged: 'It was merged into another contact; a merged contact is never brought back.',
  email_taken: 'Another contact now holds its email, and will still hold it after the rollback.',
};

/** What to tell a person about a failed rollback call, in plain words; other codes as everywhere else. */
export function describeRollbackError(error: unknown): string {
  if (!(error instanceof ApiError)) return describeError(error);
  switch (error.code) {
    case 'point_not_recoverable': {
      const window = error.details.window as { from?: string; to?: string } | undefined;
      const range = window?.from && window.to ? ` (any second from ${formatPoint(window.from)} to ${formatPoint(window.to)})` : '';
      return `That point can no longer be rolled back to. Recoverable points are the recent window${range} and the exact moments of retained snapshots. Pick one of the nearest points below, or another point.`;
    }
    case 'four_eyes_required':
      if (error.details.reason === 'approver_newer_than_request') {
        return 'You became an admin (or this token was made) after the rollback was requested, so you cannot approve it: a full rollback needs a second admin who could approve when it was requested (four eyes).';
      }
      return 'You requested this rollback, so you cannot approve it yourself: a full rollback needs a second admin (four eyes). Ask another admin to approve it.';
    case 'restore_job_running':
      return 'A restore or another rollback is queued or running in this workspace, and only one runs at a time. Try again once it has finished.';
    case 'invalid_state':
      if (typeof error.details.undoneBy === 'string') return 'This rollback has already been undone; a rollback can be undone once.';
      if (typeof error.details.status === 'string') return `This cannot be done now: the rollback is ${statusText[error.details.status] ?? error.details.status}.`;
      return error.message;
    default:
      return describeError(error);
  }
}

/** How far inside the window an offered window start is moved: the start moves on with the clock. */
const windowStartMargin = 60_000;

/**
 * The nearest recoverable points the server offers with point_not_recoverable. The
 * window's start is moving forward, so by the time the admin previews it would have left
 * the window: it is offered a minute later (to the whole second), which stays recoverable
 * for that minute. Snapshots and the window's end are offered as they are.
 */
export function nearestPoints(error: unknown): string[] {
  if (!(error instanceof ApiError) || error.code !== 'point_not_recoverable') return [];
  const nearest = error.details.nearest;
  const windowStart = (error.details.window as { from?: unknown } | undefined)?.from;
  if (!Array.isArray(nearest)) return [];
  return nearest
    .filter((t): t is string => typeof t === 'string')
    .map((t) => (t === windowStart ? new Date(Math.ceil((Date.parse(t) + windowStartMargin) / 1000) * 1000).toISOString() : t));
}

export const statusText: Record<string, string> = {
  awaiting_approval: 'awaiting approval by a second admin',
  queued: 'queued',
  running: 'running',
  succeeded: 'done',
  failed: 'failed',
};

export const isFinishedRollback = (status: string | undefined): boolean => status === 'succeeded' || status === 'failed';
