import { z } from 'zod';
import { invalidRequest } from '../http/errors.js';
import { membershipStatuses, type MembershipStatus } from '../lists/service.js';

export const importModes = ['create', 'update', 'upsert'] as const;
export type ImportMode = (typeof importModes)[number];

/** What a column of the file is loaded into. */
export type ColumnTarget =
  | { kind: 'email' | 'firstName' | 'lastName' | 'phone' | 'tag' | 'account' | 'jobTitle' }
  | { kind: 'field'; name: string }
  | { kind: 'list'; listId: string };

/** A mapped column: its place in each row, its header and its target. */
export interface PlannedColumn {
  index: number;
  header: string;
  target: ColumnTarget;
}

/** The mapping checked against the file's header: what each row is read into. */
export interface ColumnPlan {
  mode: ImportMode;
  listStatus: MembershipStatus | null;
  confirmOverage: boolean;
  /** The header's cell count: a row with another count is not read. */
  width: number;
  columns: PlannedColumn[];
}

/** The mapping part of POST /imports, as API.md writes it (plus confirmOverage). */
export const mappingSchema = z.strictObject({
  columns: z
    .record(z.string().min(1).max(1000), z.string())
    .describe('By CSV header: email, firstName, lastName, phone, fields.<name>, list:<listId>, tag or account (jobTitle with an account)'),
  mode: z.enum(importModes),
  listStatus: z.enum(membershipStatuses).optional().describe('The status a list column’s cell gives when it holds no status (yes, x)'),
  confirmOverage: z.boolean().optional().describe('Create contacts past the workspace’s active contact limit, as a restore can'),
});

export type ImportMapping = z.output<typeof mappingSchema>;

const simpleTargets = new Set(['email', 'firstName', 'lastName', 'phone', 'tag', 'account', 'jobTitle']);
export const maxFieldNameLength = 100;

function targetOf(text: string): ColumnTarget | null {
  if (simpleTargets.has(text)) return { kind: text as 'email' };
  if (text.startsWith('fields.')) {
    const name = text.slice('fields.'.length);
    return name.length >= 1 && name.length <= maxFieldNameLength ? { kind: 'field', name } : null;
  }
  if (text.startsWith('list:')) {
    const listId = text.slice('list:'.length);
    return listId.length > 0 ? { kind: 'list', listId } : null;
  }
  return null;
}

/** One target's identity: two columns may not load the same thing, except tags. */
const targetKey = (t: ColumnTarget) => (t.kind === 'field' ? `fields.${t.name}` : t.kind === 'list' ? `list:${t.listId}` : t.kind);

type Issue = { in: 'body'; path: (string | number)[]; message: string };
const issue = (path: (string | number)[], message: string): Issue => ({ in: 'body', path, message });

/**
 * Parses the mapping part (JSON text) and checks its targets, before the file is known:
 * 400 invalid_request with one issue per problem.
 */
export function parseMapping(text: string): ImportMapping {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest('The mapping part is not JSON', { issues: [issue(['mapping'], 'not JSON')] });
  }
  const parsed = mappingSchema.safeParse(value);
  if (!parsed.success) {
    throw invalidRequest('The mapping is not valid', { issues: parsed.error.issues.map((i) => issue(['mapping', ...i.path.map(String)], i.message)) });
  }
  const mapping: ImportMapping = parsed.data;
  const issues: Issue[] = [];
  const seen = new Map<string, string>();
  for (const [header, text] of Object.entries(mapping.columns)) {
    const target = targetOf(text);
    if (!target) {
      issues.push(issue(['mapping', 'columns', header], `not a column target: ${JSON.stringify(text)} (email, firstName, lastName, phone, fields.<name>, list:<listId>, tag, account, jobTitle)`));
      continue;
    }
    const key = targetKey(target);
    const other = seen.get(key);
    if (other !== undefined && target.kind !== 'tag') issues.push(issue(['mapping', 'columns', header], `the column ${JSON.stringify(other)} is mapped to ${key} already`));
    else seen.set(key, header);
  }
  if (!seen.has('email') && issues.length === 0) {
    issues.push(issue(['mapping', 'columns'], 'no column is mapped to email: every mode finds or creates contacts by email'));
  }
  if (seen.has('jobTitle') && !seen.has('account')) issues.push(issue(['mapping', 'columns', seen.get('jobTitle') ?? ''], 'a jobTitle column needs an account column'));
  if (issues.length > 0) throw invalidRequest('The mapping is not valid', { issues });
  return mapping;
}

/** The list ids the mapping's list columns name, once each. */
export const mappedListIds = (mapping: ImportMapping): string[] => [
  ...new Set(Object.values(mapping.columns).flatMap((text) => (text.startsWith('list:') ? [text.slice('list:'.length)] : []))),
];

/**
 * Checks the mapping against the file's header row: every mapped header must be a column
 * of the file, and only one. Headers the mapping leaves out are not read.
 */
export function planColumns(mapping: ImportMapping, header: string[]): ColumnPlan {
  const issues: Issue[] = [];
  const columns: PlannedColumn[] = [];
  for (const [name, text] of Object.entries(mapping.columns)) {
    const places = header.flatMap((cell, index) => (cell === name.trim() ? [index] : []));
    if (places.length === 0) issues.push(issue(['mapping', 'columns', name], `the file has no column ${JSON.stringify(name)}`));
    else if (places.length > 1) issues.push(issue(['mapping', 'columns', name], `the file has ${places.length} columns named ${JSON.stringify(name)}`));
    else columns.push({ index: places[0], header: name, target: targetOf(text) as ColumnTarget });
  }
  if (issues.length > 0) throw invalidRequest('The mapping does not fit the file', { issues });
  return {
    mode: mapping.mode,
    listStatus: mapping.listStatus ?? null,
    confirmOverage: mapping.confirmOverage ?? false,
    width: header.length,
    columns: columns.sort((a, b) => a.index - b.index),
  };
}
