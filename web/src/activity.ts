import type { components, paths } from './api-schema';
import { plural } from './format';

type Schemas = components['schemas'];
export type CauseSummary = Schemas['CauseSummary'];
export type Undo = Schemas['Undo'];
export type UndoCause = Undo['cause'];
export type UndoConflict = Schemas['UndoConflict'];
/** How an undo meets what others changed since the cause. */
export type OnConflict = Undo['onConflict'];
type ActivityCall = paths['/api/v1/changes/activity']['get'];
/** One bar of the activity chart: what was created, updated and deleted in its bucket. */
export type ActivityBucket = ActivityCall['responses'][200]['content']['application/json']['buckets'][number];
export type Bucket = NonNullable<NonNullable<ActivityCall['parameters']['query']>['bucket']>;

/** The ranges the Activity page offers, and the bucket each is drawn in. */
export type RangeChoice = '24h' | '7d' | 'custom';

export interface Range {
  from: string;
  to: string;
  bucket: Bucket;
}

const hour = 3_600_000;

/**
 * The bucket for a range: minutes up to six hours, hours up to two weeks, days beyond,
 * so a chart has at most a few hundred bars (the server refuses more than 10,000).
 */
export function bucketFor(from: string, to: string): Bucket {
  const span = Date.parse(to) - Date.parse(from);
  return span <= 6 * hour ? 'minute' : span <= 14 * 24 * hour ? 'hour' : 'day';
}

export function rangeOf(choice: RangeChoice, now: number, custom: { from: string; to: string }): Range | null {
  if (choice === 'custom') {
    if (!custom.from || !custom.to || Date.parse(custom.from) >= Date.parse(custom.to)) return null;
    return { ...custom, bucket: bucketFor(custom.from, custom.to) };
  }
  const to = new Date(now).toISOString();
  const from = new Date(now - (choice === '24h' ? 24 : 7 * 24) * hour).toISOString();
  return { from, to, bucket: bucketFor(from, to) };
}

const timeOnly = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' });
const dayAndTime = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

/** "03:02–03:07" on one day, "1 Dec 23:50–2 Dec 00:10" across days; one time when both are the same minute. */
export function timeSpan(from: string, to: string): string {
  const a = new Date(from);
  const b = new Date(to);
  const sameDay = a.toDateString() === b.toDateString();
  const today = new Date().toDateString() === a.toDateString();
  const format = sameDay && today ? timeOnly : dayAndTime;
  const start = format.format(a);
  const end = sameDay ? timeOnly.format(b) : dayAndTime.format(b);
  return start === end || (sameDay && timeOnly.format(a) === end) ? start : `${start}–${end}`;
}

/** How big a cause is: every record it touched. The largest are listed first. */
export const causeSize = (summary: CauseSummary): number =>
  Object.values(summary.counts).reduce((sum, byChange) => sum + Object.values(byChange).reduce((a, b) => a + b, 0), 0);

/** Who or what a cause is, in words: "Token 'Zapier sync'", "Import of leads.csv", "Ann Smith". */
export function causeName(summary: CauseSummary, person: (id: string) => string): string {
  const { kind, id, name } = summary.cause;
  switch (kind) {
    case 'integration':
      return name ? `Token '${name}'` : `Token ${id?.slice(0, 8) ?? ''}`.trim();
    case 'import':
      return name ? `Import of ${name}` : 'An import';
    case 'user':
      return name ?? (id ? person(id) : 'Someone');
    case 'automation':
      return name ? `Automation '${name}'` : 'An automation';
    case 'form':
      return name ? `Form '${name}'` : 'A form';
    case 'merge':
      return 'A merge';
    case 'restore':
      return 'A restore';
    case 'rollback':
      return 'A rollback';
    case 'undo':
      return 'An undo';
    case 'sql':
      return 'A change outside Retrace (SQL)';
    default:
      return 'The system';
  }
}

const verbs: [string, string][] = [
  ['created', 'created'],
  ['updated', 'updated'],
  ['deleted', 'deleted'],
  ['archived', 'archived'],
  ['restored', 'restored'],
  ['merged', 'merged'],
  ['purged', 'purged'],
];

/** What a cause did to contacts, in words: "deleted 12,408 contacts", "updated 300 contacts and created 2 contacts". */
export function causeDeeds(summary: CauseSummary): string {
  const contacts = summary.counts.contacts ?? {};
  const parts = verbs.filter(([key]) => (contacts[key] ?? 0) > 0).map(([key, verb]) => `${verb} ${plural(contacts[key], 'contact')}`);
  const memberships = summary.counts.listMemberships;
  const changedMemberships = memberships ? Object.values(memberships).reduce((a, b) => a + b, 0) : 0;
  if (changedMemberships > 0) parts.push(`changed ${plural(changedMemberships, 'list membership')}`);
  if (parts.length === 0) {
    const other = causeSize(summary);
    return `changed ${plural(other, 'record')}`;
  }
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

/** "Token 'Zapier sync' deleted 12,408 contacts, 03:02–03:07". */
export function causeSentence(summary: CauseSummary, person: (id: string) => string): string {
  return `${causeName(summary, person)} ${causeDeeds(summary)}, ${timeSpan(summary.from, summary.to)}`;
}

/**
 * The undo of a listed cause (POST /undos `cause`), or null for causes an undo does not
 * take (forms, restores, rollbacks, the system): a burst of a user's, a token's or an
 * automation's work is undone over its first to last change.
 */
export function undoCauseOf(summary: CauseSummary): UndoCause | null {
  const { kind, id } = summary.cause;
  if (!id) return null;
  const range = { from: summary.from, to: summary.to };
  switch (kind) {
    case 'import':
      return { importId: id };
    case 'integration':
      return { tokenId: id, ...range };
    case 'user':
      return { actorId: id, ...range };
    case 'automation':
      return { automationId: id, ...range };
    case 'undo':
      return { undoId: id };
    default:
      return null;
  }
}

/**
 * The chart's series: x in seconds, and the three counts stacked (created at the bottom,
 * updated on it, deleted on top) as the running sums uPlot draws, largest first.
 */
export function stackedSeries(buckets: ActivityBucket[]): { x: number[]; total: number[]; createdAndUpdated: number[]; created: number[] } {
  return {
    x: buckets.map((b) => Date.parse(b.at) / 1000),
    total: buckets.map((b) => b.created + b.updated + b.deleted),
    createdAndUpdated: buckets.map((b) => b.created + b.updated),
    created: buckets.map((b) => b.created),
  };
}
