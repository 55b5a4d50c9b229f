import { z } from 'zod';
import { membershipStatuses, type MembershipStatus } from '../lists/service.js';
import { unescapeCell, type CsvRecord } from './csv.js';
import type { ColumnPlan } from './mapping.js';

/** Why a row was not loaded: a code (API.md's `reason`) and a sentence for people. */
export type BadRowReason =
  | 'unreadable_csv'
  | 'wrong_cell_count'
  | 'missing_email'
  | 'invalid_email'
  | 'invalid_value'
  | 'invalid_list_status'
  | 'list_not_found'
  | 'job_title_without_account'
  | 'duplicate_email'
  | 'email_taken'
  | 'contact_not_found'
  | 'contact_not_active'
  | 'contact_limit_exceeded';

export interface BadRow {
  line: number;
  reason: BadRowReason;
  message: string;
}

/** A row that passed every check made without the database. Empty cells are null (or left out). */
export interface LoadableRow {
  line: number;
  email: string;
  /** The email in lower case: the key emails are unique by. */
  emailKey: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  fields: Record<string, string>;
  lists: { listId: string; status: MembershipStatus }[];
  /** Tag names, once each (case-insensitively). */
  tags: string[];
  account: string | null;
  jobTitle: string | null;
}

// The limits POST /contacts, /tags, /accounts and PUT …/contacts/:id take.
const emailSchema = z.email().max(320);
const limits = { firstName: 200, lastName: 200, phone: 50, tag: 100, account: 200, jobTitle: 200 } as const;

const isStatus = (value: string): value is MembershipStatus => (membershipStatuses as readonly string[]).includes(value);

/** A cell as loaded: trimmed, with the apostrophe of an exported formula-like cell removed. */
const clean = (cell: string | undefined) => unescapeCell(cell ?? '').trim();

/** Shows a value in a message, cut short. */
const quoted = (value: string) => JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);

/**
 * Reads one record by the plan, checking everything that needs no database: the cell
 * count, the email's form, lengths, NUL characters, list statuses.
 */
export function readRow(plan: ColumnPlan, record: CsvRecord): LoadableRow | BadRow {
  const { line, cells } = record;
  const bad = (reason: BadRowReason, message: string): BadRow => ({ line, reason, message });
  if (cells.length !== plan.width) return bad('wrong_cell_count', `the row has ${cells.length} cells, the header ${plan.width}`);
  const row: LoadableRow = { line, email: '', emailKey: '', firstName: null, lastName: null, phone: null, fields: {}, lists: [], tags: [], account: null, jobTitle: null };
  const tagKeys = new Set<string>();
  for (const { index, header, target } of plan.columns) {
    const value = clean(cells[index]);
    if (value.includes('\u0000')) return bad('invalid_value', `the ${header} cell holds a NUL character`);
    if (value === '') continue;
    switch (target.kind) {
      case 'email':
        row.email = value;
        break;
      case 'firstName':
      case 'lastName':
      case 'phone':
      case 'account':
      case 'jobTitle':
        if (value.length > limits[target.kind]) return bad('invalid_value', `${target.kind} is longer than ${limits[target.kind]} characters (column ${header})`);
        row[target.kind] = value;
        break;
      case 'field':
        row.fields[target.name] = value;
        break;
      case 'tag':
        for (const name of value.split(';').map((t) => t.trim())) {
          if (name === '' || tagKeys.has(name.toLowerCase())) continue;
          if (name.length > limits.tag) return bad('invalid_value', `the tag ${quoted(name)} is longer than ${limits.tag} characters`);
          tagKeys.add(name.toLowerCase());
          row.tags.push(name);
        }
        break;
      case 'list': {
        const status = value.toLowerCase();
        if (isStatus(status)) row.lists.push({ listId: target.listId, status });
        else if (plan.listStatus) row.lists.push({ listId: target.listId, status: plan.listStatus });
        else return bad('invalid_list_status', `${quoted(value)} in column ${header} is not a list status (${membershipStatuses.join(', ')})`);
        break;
      }
    }
  }
  if (row.email === '') return bad('missing_email', 'the row has no email');
  if (!emailSchema.safeParse(row.email).success) return bad('invalid_email', `${quoted(row.email)} is not an email address`);
  if (row.jobTitle !== null && row.account === null) return bad('job_title_without_account', 'the row has a job title but no account');
  row.emailKey = row.email.toLowerCase();
  return row;
}
