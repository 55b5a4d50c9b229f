import { describe, expect, it } from 'vitest';
import { AppError } from '../http/errors.js';
import { parseMapping, planColumns, type ImportMapping } from './mapping.js';
import { readRow } from './rows.js';

const header = ['Email', 'First', 'Last', 'Phone', 'Plan', 'News', 'Tags', 'Company', 'Title'];
const mapping: ImportMapping = {
  mode: 'create',
  columns: {
    Email: 'email',
    First: 'firstName',
    Last: 'lastName',
    Phone: 'phone',
    Plan: 'fields.plan',
    News: 'list:l1',
    Tags: 'tag',
    Company: 'account',
    Title: 'jobTitle',
  },
};
const plan = planColumns(mapping, header);
const row = (cells: Partial<Record<(typeof header)[number], string>>, line = 2) => readRow(plan, { line, cells: header.map((h) => cells[h] ?? '') });

function issuesOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppError) return { status: error.status, code: error.code, issues: (error.details.issues as { path: unknown[] }[]).map((i) => i.path) };
    throw error;
  }
  throw new Error('did not throw');
}

describe('an import row', () => {
  it('reads each mapped cell into its target, trimmed, with empty cells left unset', () => {
    expect(row({ Email: ' Ada@Example.com ', First: 'Ada', Phone: "'+44 20", Plan: 'pro', News: 'Subscribed', Tags: 'VIP; early ;vip;', Company: 'Acme', Title: 'CTO' })).toEqual({
      line: 2,
      email: 'Ada@Example.com',
      emailKey: 'ada@example.com',
      firstName: 'Ada',
      lastName: null,
      phone: '+44 20',
      fields: { plan: 'pro' },
      lists: [{ listId: 'l1', status: 'subscribed' }],
      tags: ['VIP', 'early'],
      account: 'Acme',
      jobTitle: 'CTO',
    });
  });

  it('is a bad row, with the reason, when a value does not fit', () => {
    const reasons = [
      row({ First: 'Ada' }),
      row({ Email: 'ada@' }),
      row({ Email: 'a@x.test', First: 'x'.repeat(201) }),
      row({ Email: 'a@x.test', Tags: 't'.repeat(101) }),
      row({ Email: 'a@x.test', News: 'maybe' }),
      row({ Email: 'a@x.test', Title: 'CTO' }),
      row({ Email: 'a@x.test', Plan: 'nul\u0000' }),
      readRow(plan, { line: 9, cells: ['a@x.test'] }),
    ].map((r) => ('reason' in r ? r.reason : null));
    expect(reasons).toEqual(['missing_email', 'invalid_email', 'invalid_value', 'invalid_value', 'invalid_list_status', 'job_title_without_account', 'invalid_value', 'wrong_cell_count']);
  });

  it('gives a list cell that holds no status the mapping’s listStatus', () => {
    const withDefault = planColumns({ ...mapping, listStatus: 'unconfirmed' }, header);
    expect(readRow(withDefault, { line: 2, cells: header.map((h) => ({ Email: 'a@x.test', News: 'yes' })[h] ?? '') })).toMatchObject({
      lists: [{ listId: 'l1', status: 'unconfirmed' }],
    });
  });
});

describe('an import mapping', () => {
  it('is refused when it is not JSON, names no email column, maps two columns to one target or names an unknown target', () => {
    expect(issuesOf(() => parseMapping('{'))).toEqual({ status: 400, code: 'invalid_request', issues: [['mapping']] });
    expect(issuesOf(() => parseMapping(JSON.stringify({ mode: 'create', columns: { First: 'firstName' } })))).toMatchObject({ issues: [['mapping', 'columns']] });
    expect(issuesOf(() => parseMapping(JSON.stringify({ mode: 'create', columns: { A: 'email', B: 'email' } })))).toMatchObject({ issues: [['mapping', 'columns', 'B']] });
    expect(issuesOf(() => parseMapping(JSON.stringify({ mode: 'create', columns: { A: 'email', B: 'nickname' } })))).toMatchObject({ issues: [['mapping', 'columns', 'B']] });
    expect(issuesOf(() => parseMapping(JSON.stringify({ mode: 'merge', columns: { A: 'email' } })))).toMatchObject({ issues: [['mapping', 'mode']] });
    expect(issuesOf(() => parseMapping(JSON.stringify({ mode: 'create', columns: { A: 'email', T: 'jobTitle' } })))).toMatchObject({ issues: [['mapping', 'columns', 'T']] });
  });

  it('takes several tag columns', () => {
    expect(parseMapping(JSON.stringify({ mode: 'upsert', columns: { A: 'email', T1: 'tag', T2: 'tag' } })).columns).toEqual({ A: 'email', T1: 'tag', T2: 'tag' });
  });

  it('must name columns the file has, once each', () => {
    expect(issuesOf(() => planColumns({ mode: 'create', columns: { Mail: 'email' } }, ['Email']))).toMatchObject({ issues: [['mapping', 'columns', 'Mail']] });
    expect(issuesOf(() => planColumns({ mode: 'create', columns: { Email: 'email' } }, ['Email', 'Email']))).toMatchObject({ issues: [['mapping', 'columns', 'Email']] });
  });
});
