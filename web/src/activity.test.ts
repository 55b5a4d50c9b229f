import { describe, expect, it } from 'vitest';
import { bucketFor, causeSentence, rangeOf, stackedSeries, undoCauseOf, type CauseSummary } from './activity';

const summary = (cause: CauseSummary['cause'], contacts: Record<string, number>, extra: CauseSummary['counts'] = {}): CauseSummary => ({
  cause,
  from: '2026-12-01T03:02:10.000Z',
  to: '2026-12-01T03:07:55.000Z',
  counts: { contacts: { created: 0, updated: 0, deleted: 0, archived: 0, ...contacts }, ...extra },
  changeSets: 3,
});
const nobody = () => 'Nobody';

describe('activity in words', () => {
  it('says what a token, an import and a person did, with when (in the browser’s time zone)', () => {
    expect(causeSentence(summary({ kind: 'integration', id: 't1', tokenId: 't1', name: 'Zapier sync' }, { deleted: 12408 }), nobody)).toMatch(
      /^Token 'Zapier sync' deleted 12,408 contacts, \d+ \w+, \d\d:\d\d–\d\d:\d\d$/,
    );
    expect(causeSentence(summary({ kind: 'import', id: 'i1', name: 'leads.csv' }, { updated: 300, created: 2 }, { listMemberships: { updated: 300 } }), nobody)).toMatch(
      /^Import of leads\.csv created 2 contacts, updated 300 contacts and changed 300 list memberships, \d+ \w+, \d\d:\d\d–\d\d:\d\d$/,
    );
    expect(causeSentence(summary({ kind: 'user', id: 'u1', actorId: 'u1' }, { updated: 1 }), (id) => `User ${id}`)).toMatch(/^User u1 updated 1 contact, \d+ \w+, \d\d:\d\d–\d\d:\d\d$/);
  });

  it('undoes an import by its id and a burst of a token’s or a person’s work over its first to last change', () => {
    expect(undoCauseOf(summary({ kind: 'import', id: 'i1' }, {}))).toEqual({ importId: 'i1' });
    expect(undoCauseOf(summary({ kind: 'integration', id: 't1' }, {}))).toEqual({ tokenId: 't1', from: '2026-12-01T03:02:10.000Z', to: '2026-12-01T03:07:55.000Z' });
    expect(undoCauseOf(summary({ kind: 'user', id: 'u1' }, {}))).toEqual({ actorId: 'u1', from: '2026-12-01T03:02:10.000Z', to: '2026-12-01T03:07:55.000Z' });
    expect(undoCauseOf(summary({ kind: 'system', id: null }, {}))).toBeNull();
    expect(undoCauseOf(summary({ kind: 'restore', id: 'j1' }, {}))).toBeNull();
  });

  it('draws minutes up to six hours, hours up to two weeks, days beyond, and refuses a custom range that ends before it starts', () => {
    const now = Date.parse('2026-12-02T12:00:00.000Z');
    expect(rangeOf('24h', now, { from: '', to: '' })).toEqual({ from: '2026-12-01T12:00:00.000Z', to: '2026-12-02T12:00:00.000Z', bucket: 'hour' });
    expect(bucketFor('2026-12-02T06:00:00.000Z', '2026-12-02T12:00:00.000Z')).toBe('minute');
    expect(bucketFor('2026-11-01T00:00:00.000Z', '2026-12-02T12:00:00.000Z')).toBe('day');
    expect(rangeOf('custom', now, { from: '2026-12-02T12:00:00.000Z', to: '2026-12-02T11:00:00.000Z' })).toBeNull();
  });

  it('stacks created under updated under deleted', () => {
    expect(stackedSeries([{ at: '2026-12-02T12:00:00.000Z', created: 1, updated: 2, deleted: 3 }])).toEqual({
      x: [Date.parse('2026-12-02T12:00:00.000Z') / 1000],
      total: [6],
      createdAndUpdated: [3],
      created: [1],
    });
  });
});
