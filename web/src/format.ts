import type { Contact, SnapshotKind } from './api';

const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium' });

export const formatDateTime = (iso: string | null | undefined): string => (iso ? dateTime.format(new Date(iso)) : '—');
export const formatDate = (iso: string | null | undefined): string => (iso ? dateOnly.format(new Date(iso)) : '—');

export function contactName(contact: Pick<Contact, 'firstName' | 'lastName' | 'email'>): string {
  const name = [contact.firstName, contact.lastName].filter(Boolean).join(' ');
  return name || contact.email;
}

export const plural = (count: number, one: string, many = `${one}s`): string => `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;

/** A retention's days in words: "30 days". */
export const daysText = (days: number): string => plural(days, 'day');

/** How long an archived contact stays frozen, in words, from GET /workspace's retention (still loading: "the freeze period"). */
export const freezeText = (retention: { archiveFreezeDays: number } | undefined): string => (retention ? daysText(retention.archiveFreezeDays) : 'the freeze period');

const sizeUnits = ['kB', 'MB', 'GB', 'TB'] as const;

/** A file size in decimal units, as `ls --si` gives it: "812 bytes", "4.3 kB", "1.2 GB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return plural(bytes, 'byte');
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 999.95 && unit < sizeUnits.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${sizeUnits[unit]}`;
}

/** A `<input type="date">` value as the start or the end of that day in UTC, for the API's ISO filters. */
export function dayBoundary(day: string, end: boolean): string | undefined {
  if (!day) return undefined;
  return `${day}T${end ? '23:59:59.999' : '00:00:00.000'}Z`;
}

export const snapshotKindText: Record<SnapshotKind, string> = { hourly: 'Hourly', weekly: 'Weekly', monthly: 'Monthly', manual: 'Manual' };
