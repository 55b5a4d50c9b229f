import { describe, expect, it } from 'vitest';
import { guessTarget, mappedColumns, parseCsvRows } from './importMapping';

describe('the import preview', () => {
  it('reads quoted cells, doubled quotes and CRLF, and drops a last line cut short', () => {
    const text = '\uFEFFEmail,Name\r\n"a@x.test","Smith, ""Al"""\r\nb@x.test,Bo\nc@x.te';
    expect(parseCsvRows(text, 10)).toEqual([['Email', 'Name'], ['a@x.test', 'Smith, "Al"'], ['b@x.test', 'Bo'], ['c@x.te']]);
    expect(parseCsvRows(text, 10, true)).toEqual([['Email', 'Name'], ['a@x.test', 'Smith, "Al"'], ['b@x.test', 'Bo']]);
    expect(parseCsvRows(text, 2)).toEqual([['Email', 'Name'], ['a@x.test', 'Smith, "Al"']]);
  });

  it('guesses each column from its header: known ones, a list by name, else a custom field', () => {
    const lists = [{ id: 'l1', name: 'Newsletter' }];
    expect(['E-mail', 'First name', 'surname', 'Phone number', 'Tags', 'Company', 'Job title', 'Newsletter', 'Lead score'].map((h) => guessTarget(h, lists))).toEqual([
      'email',
      'firstName',
      'lastName',
      'phone',
      'tag',
      'account',
      'jobTitle',
      'list:l1',
      'fields.Lead_score',
    ]);
    expect(mappedColumns(['Email', 'Notes'], ['email', ''])).toEqual({ Email: 'email' });
  });
});
