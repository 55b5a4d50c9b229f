import type { Contact } from './api';

const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium' });

export const formatDateTime = (iso: string | null | undefined): string => (iso ? dateTime.format(new Date(iso)) : '—');
export const formatDate = (iso: string | null | undefined): string => (iso ? dateOnly.format(new Date(iso)) : '—');

export function contactName(contact: Pick<Contact, 'firstName' | 'lastName' | 'email'>): string {
  const name = [contact.firstName, contact.lastName].filter(Boolean).join(' ');
  return name || contact.email;
}

export const plural = (count: number, one: string, many = `${one}s`): string => `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;

/** A `<input type="date">` value as the start or the end of that day in UTC, for the API's ISO filters. */
export function dayBoundary(day: string, end: boolean): string | undefined {
  if (!day) return undefined;
  return `${day}T${end ? '23:59:59.999' : '00:00:00.000'}Z`;
}
