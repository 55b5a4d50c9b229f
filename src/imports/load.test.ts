import { describe, expect, it } from 'vitest';
import { planColumns } from './mapping.js';
import { partsByEmail, readBatch } from './load.js';
import type { CsvBatch } from './csv.js';

const plan = planColumns({ mode: 'create', columns: { Email: 'email', Tags: 'tag', Company: 'account' } }, ['Email', 'Tags', 'Company']);

function batchOf(rows: string[][]): CsvBatch {
  return { records: rows.map((cells, i) => ({ line: i + 2, cells })), unreadable: [{ line: rows.length + 2, message: 'Invalid Closing Quote' }], end: { offset: 0, newlines: 0 }, done: true };
}

describe('a batch read for loading', () => {
  it('reports a second row of an email in the batch as a duplicate of the first', () => {
    const read = readBatch(plan, batchOf([['a@x.test', '', ''], ['A@x.test', '', ''], ['not an email', '', '']]));
    expect(read.rows.map((r) => r.line)).toEqual([2]);
    expect(read.bad.map((b) => [b.line, b.reason])).toEqual([
      [5, 'unreadable_csv'],
      [3, 'duplicate_email'],
      [4, 'invalid_email'],
    ]);
    expect(read.records).toBe(4);
  });

  it('spells every tag and account name as the batch first wrote it', () => {
    const read = readBatch(plan, batchOf([['a@x.test', 'Early;vip', 'Acme'], ['b@x.test', 'early', 'ACME'], ['c@x.test', 'VIP;EARLY', 'acme']]));
    expect(read.rows.map((r) => [r.tags, r.account])).toEqual([
      [['Early', 'vip'], 'Acme'],
      [['Early'], 'Acme'],
      [['vip', 'Early'], 'Acme'],
    ]);
  });
});

describe('the parts of a batch', () => {
  const emails = Array.from({ length: 200 }, (_, i) => `person${i}@parts.test`);
  const read = () => readBatch(plan, batchOf([...emails.map((e) => [e, '', '']), ['bad', '', '']]));

  it('hold every row once, the same part each time it is cut, the count and bad rows in the first', () => {
    const parts = partsByEmail(read(), 3);
    expect(parts.flatMap((p) => p.rows.map((r) => r.email)).sort()).toEqual([...emails].sort());
    expect(parts.every((p) => p.rows.length > 0)).toBe(true);
    expect(parts.map((p) => p.records)).toEqual([202, 0, 0]);
    expect(parts.map((p) => p.bad.map((b) => b.reason))).toEqual([['unreadable_csv', 'invalid_email'], [], []]);
    const again = partsByEmail(read(), 3);
    expect(again.map((p) => p.rows.map((r) => r.email))).toEqual(parts.map((p) => p.rows.map((r) => r.email)));
  });

  it('put each email in the part its FNV-1a hash names, the same in every process', () => {
    const fixed = readBatch(plan, batchOf(['ana@example.com', 'bo@example.com', 'cy@example.com', 'dee@example.com'].map((e) => [e, '', ''])));
    expect(partsByEmail(fixed, 3).map((p) => p.rows.map((r) => r.email))).toEqual([['cy@example.com'], ['dee@example.com'], ['ana@example.com', 'bo@example.com']]);
  });

  it('keep rows in line order within a part, and cut into one part, are the batch', () => {
    const [whole] = partsByEmail(read(), 1);
    expect(whole).toEqual(read());
    for (const part of partsByEmail(read(), 2)) expect(part.rows.map((r) => r.line)).toEqual([...part.rows.map((r) => r.line)].sort((a, b) => a - b));
  });
});
